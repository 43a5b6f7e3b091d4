import { defaultReportMessage, type Parameters, type RunDetails } from "fast-check";

/**
 * Settings of the property and fuzz tests. A run draws a new random seed each time and, when a
 * property fails, fast-check prints the seed and the shrunk counterexample's path. To replay it
 * (or to pin CI to one seed), set them in the environment:
 *
 *   FC_SEED=1234 FC_PATH="5:0:1" npm test -- isolation.property
 *
 * `FC_NUM_RUNS=<n>` sets the number of runs (e.g. 10x for a long local run; the tests' time limit
 * is lifted then, see {@link propertyTimeout}).
 */
export function propertyParameters<T>(numRuns: number): Parameters<T> {
  const seed = process.env.FC_SEED;
  const path = process.env.FC_PATH;
  const runs = process.env.FC_NUM_RUNS;
  return {
    numRuns: runs ? Number(runs) : numRuns,
    ...(seed ? { seed: Number(seed) } : {}),
    ...(path ? { path } : {}),
    // Used for async properties too.
    reporter: report,
  };
}

/** The default report (seed and path first), cut short when a value in it is huge (1 MB input). */
function report<T>(details: RunDetails<T>): void {
  if (!details.failed) return;
  const message = defaultReportMessage(details) ?? "Property failed";
  const limit = 20_000;
  throw new Error(message.length > limit ? `${message.slice(0, limit)}… (cut)` : message, {
    cause: details.errorInstance,
  });
}

/** A property test's time limit: `ms`, or an hour when `FC_NUM_RUNS` asks for a long run. */
export function propertyTimeout(ms: number): number {
  return process.env.FC_NUM_RUNS ? 3_600_000 : ms;
}
