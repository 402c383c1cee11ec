/**
 * @module Work written as a generator that yields at points where it may pause: between the commands of a Raft
 * entry, between chunks of a command with many arguments. The same deterministic code then runs to the end in one
 * call (`runSteps`: the simulator, tests, a small entry) or spread over event-loop turns by a driver that yields to
 * the loop once a time budget is spent (the LMDB store applying a big entry, issue 10). Pausing never changes the
 * result: nothing outside the generator observes or changes its state until it returns.
 */
export type Steps<T> = Generator<void, T, void>;

/** Runs `steps` to the end without pausing and returns its result. */
export function runSteps<T>(steps: Steps<T>): T {
  for (;;) {
    const next = steps.next();
    if (next.done === true) return next.value;
  }
}

/** Runs `steps` to the end, yielding to the event loop (a macrotask: timers and I/O run) whenever `budgetMs` of
 * work has passed since the last yield. */
export async function runStepsInSlices<T>(steps: Steps<T>, budgetMs: number): Promise<T> {
  let sliceStart = performance.now();
  for (;;) {
    const next = steps.next();
    if (next.done === true) return next.value;
    if (performance.now() - sliceStart >= budgetMs) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      sliceStart = performance.now();
    }
  }
}
