// The base class of every error a user can fix by changing what they pass in (a shape, a file, a flag, a feed):
// callers catch `instanceof UserError` to tell their own mistakes from failures of the engine or the device
// (DeviceLostError, internal errors), and the CLI exits with `exitCode` after printing the one-line message.
export class UserError extends Error {
  /** What the `wgtrain` command exits with when this error ends it: 2, a mistake in its input. */
  readonly exitCode: number = 2;
  override name = 'UserError';
}

/** An option or argument of a library call outside what it accepts (a batch size of 0, an unknown schedule, ...). */
export class OptionError extends UserError {
  override name = 'OptionError';
}
