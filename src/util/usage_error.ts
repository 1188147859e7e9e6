// A user's mistake in what they asked for (a flag, a shape spelled on the command line, a results folder): one line
// naming what was wrong and what was expected; the CLI prints it and exits 2. Here, below the CLI, so that the
// benchmarks (bench/), which the CLI runs, can raise it without importing the CLI.
import { UserError } from './errors.js';
export class UsageError extends UserError {
  constructor(message: string) { super(message); this.name = 'UsageError'; }
}
