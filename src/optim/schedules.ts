// Learning-rate schedules: functions of the step. The optimizer reads its lr at every run, so changing it costs one
// 32-byte uniform write per parameter and no recompilation.
export type Schedule = (step: number) => number;

export const constant = (lr: number): Schedule => () => lr;

/** Cosine decay from `lr` to `minLr` over `total` steps (SGDR without restarts). */
export const cosine = (lr: number, total: number, minLr = 0): Schedule => (step) =>
  minLr + 0.5 * (lr - minLr) * (1 + Math.cos((Math.PI * Math.min(step, total)) / total));

export const SCHEDULES = ['cosine', 'constant'] as const;
export type ScheduleName = (typeof SCHEDULES)[number];

export function makeSchedule(name: ScheduleName, lr: number, totalSteps: number): Schedule {
  return name === 'cosine' ? cosine(lr, totalSteps) : constant(lr);
}
