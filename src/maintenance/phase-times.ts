import type { RunCounts } from "./runs";

/** Milliseconds a long job spent in each of its phases, summed over its steps (kept in the job's state). */
export type PhaseTimes = Record<string, number>;

/** Adds the time since `startedAt` (ms, from the step's clock) to `phase`. */
export function addPhaseTime(times: PhaseTimes, phase: string, startedAt: number, now: number): void {
  times[phase] = (times[phase] ?? 0) + Math.max(0, now - startedAt);
}

/** The run record's view of the times: `<phase>_ms`, with `-` in a phase's name as `_`. */
export const phaseTimeCounts = (times: PhaseTimes | undefined): RunCounts =>
  Object.fromEntries(Object.entries(times ?? {}).map(([phase, ms]) => [`${phase.replaceAll("-", "_")}_ms`, ms]));
