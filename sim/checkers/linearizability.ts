/**
 * @module The linearizability search for ONE object's history: Wing & Gong's backtracking search with Lowe's
 * memoisation of visited configurations (the algorithm Porcupine implements). Callers split a multi-key history
 * per key first (P-compositionality: a history is linearizable iff every key's sub-history is), which keeps each
 * search small.
 *
 * The history is a list of call and return events sorted by time. The search walks that list: at a call it tries
 * to linearize the operation now (the model must accept its output in the current state, and the configuration
 * — the set of linearized operations and the state — must not have been explored before); success lifts the
 * operation's call and return out of the list and starts again from the head. Reaching a return event means the
 * operation it closes was not linearized before it had to be: backtrack to the last choice and try the next.
 *
 * Indeterminate operations (timed out, connection lost: the outcome is unknown) have no return event in time:
 * their return is put after everything else, so they may take effect at any point after their invocation, or
 * never — an operation linearized after every determinate one is unobservable. The search therefore succeeds
 * as soon as every determinate operation is linearized.
 */

/** A sequential specification. `step` lists every state the operation may leave behind when applied to `state`
 * with `output` (undefined: the output is unknown, the operation is indeterminate); an empty list means the
 * operation cannot have produced that output in that state. More than one successor lets a model keep partial
 * knowledge (the register's "unknown" initial state in a reported window). */
export interface Model<S, I, O> {
  readonly init: S;
  step(state: S, input: I, output: O | undefined): readonly S[];
  /** Equal states must give equal keys (memoisation). */
  stateKey(state: S): string;
}

export interface Operation<I, O> {
  /** The caller's name for this operation (reports refer to it). */
  readonly id: number;
  readonly invokeNs: number;
  /** `Infinity` for an indeterminate operation: it may take effect any time after its invocation, or never. */
  readonly completeNs: number;
  readonly input: I;
  /** Undefined exactly when the operation is indeterminate. */
  readonly output: O | undefined;
}

export type SearchVerdict = true | false | "unknown";

export interface SearchResult {
  /** "unknown": the search gave up after `configurationsMax` configurations. */
  readonly linearizable: SearchVerdict;
  /** Distinct (linearized set, state) configurations visited. */
  readonly configurations: number;
  /** When not linearizable: the ids of the longest sequence of operations the search managed to linearize, in
   * linearization order. */
  readonly longestPrefix: readonly number[];
}

export interface SearchOptions {
  /** Give up (verdict "unknown") after this many distinct configurations. */
  readonly configurationsMax?: number;
}

const CONFIGURATIONS_MAX_DEFAULT = 4_000_000;

interface Entry {
  readonly op: number; // index into the operations array
  readonly isCall: boolean;
  /** For a call: its return entry. */
  match: Entry | undefined;
  prev: Entry | undefined;
  next: Entry | undefined;
}

interface Frame<S> {
  readonly call: Entry;
  readonly stateBefore: S;
  /** Which of the step's successor states this frame took. */
  readonly successor: number;
}

export function searchLinearization<S, I, O>(
  model: Model<S, I, O>,
  operations: readonly Operation<I, O>[],
  options: SearchOptions = {},
): SearchResult {
  const configurationsMax = options.configurationsMax ?? CONFIGURATIONS_MAX_DEFAULT;
  const head = buildEventList(operations);
  const linearized = new Bitset(operations.length);
  const visited = new Set<string>();
  const stack: Frame<S>[] = [];
  let longestPrefix: number[] = [];
  let determinateLeft = operations.filter((op) => Number.isFinite(op.completeNs)).length;
  let state = model.init;

  /** Tries `call` from successor `first` on; on success pushes a frame and lifts the operation. */
  const tryCall = (call: Entry, first: number): boolean => {
    const op = operations[call.op] as Operation<I, O>;
    const successors = model.step(state, op.input, op.output);
    for (let i = first; i < successors.length; i++) {
      const next = successors[i] as S;
      linearized.set(call.op);
      const key = `${linearized.key()}|${model.stateKey(next)}`;
      if (visited.has(key)) {
        linearized.clear(call.op);
        continue;
      }
      visited.add(key);
      stack.push({ call, stateBefore: state, successor: i });
      state = next;
      lift(call);
      if (Number.isFinite(op.completeNs)) determinateLeft--;
      if (stack.length > longestPrefix.length) longestPrefix = stack.map((frame) => operations[frame.call.op]!.id);
      return true;
    }
    return false;
  };

  let entry = head.next;
  while (determinateLeft > 0) {
    if (visited.size > configurationsMax)
      return { linearizable: "unknown", configurations: visited.size, longestPrefix };
    // The list cannot run out while a determinate operation is left: its return is still in it.
    if (entry === undefined) throw new Error("Linearizability search ran off the event list");
    if (entry.isCall) {
      entry = tryCall(entry, 0) ? head.next : entry.next;
      continue;
    }
    // A return whose operation is not linearized yet: undo the last choice and try its alternatives.
    const frame = stack.pop();
    if (frame === undefined) return { linearizable: false, configurations: visited.size, longestPrefix };
    state = frame.stateBefore;
    unlift(frame.call);
    linearized.clear(frame.call.op);
    if (Number.isFinite(operations[frame.call.op]!.completeNs)) determinateLeft++;
    entry = tryCall(frame.call, frame.successor + 1) ? head.next : frame.call.next;
  }
  return { linearizable: true, configurations: visited.size, longestPrefix: [] };
}

/** The sentinel head of a doubly linked list of call and return events in time order. At equal times calls come
 * first, so operations that merely touch are treated as concurrent (the permissive reading). */
function buildEventList<I, O>(operations: readonly Operation<I, O>[]): Entry {
  const events: { time: number; isCall: boolean; op: number }[] = [];
  operations.forEach((op, i) => {
    if (!(op.completeNs >= op.invokeNs)) throw new RangeError(`Operation ${op.id} completes before it is invoked`);
    if ((op.output === undefined) !== (op.completeNs === Number.POSITIVE_INFINITY)) {
      throw new RangeError(`Operation ${op.id}: an unknown output must go with an infinite completion time`);
    }
    events.push({ time: op.invokeNs, isCall: true, op: i }, { time: op.completeNs, isCall: false, op: i });
  });
  events.sort((a, b) => a.time - b.time || (a.isCall === b.isCall ? a.op - b.op : a.isCall ? -1 : 1));
  const head: Entry = { op: -1, isCall: false, match: undefined, prev: undefined, next: undefined };
  const calls = new Map<number, Entry>();
  let last = head;
  for (const event of events) {
    const entry: Entry = { op: event.op, isCall: event.isCall, match: undefined, prev: last, next: undefined };
    last.next = entry;
    last = entry;
    if (event.isCall) calls.set(event.op, entry);
    else calls.get(event.op)!.match = entry;
  }
  return head;
}

/** Removes a call and its return from the list (they stay linked to their old neighbours for `unlift`). */
function lift(call: Entry): void {
  call.prev!.next = call.next;
  if (call.next !== undefined) call.next.prev = call.prev;
  const ret = call.match!;
  ret.prev!.next = ret.next;
  if (ret.next !== undefined) ret.next.prev = ret.prev;
}

/** Undoes `lift` (in reverse order, so the neighbours are restored exactly). */
function unlift(call: Entry): void {
  const ret = call.match!;
  ret.prev!.next = ret;
  if (ret.next !== undefined) ret.next.prev = ret;
  call.prev!.next = call;
  if (call.next !== undefined) call.next.prev = call;
}

/** The set of linearized operations, with a compact string form for the visited set. */
class Bitset {
  readonly #words: Uint16Array;

  constructor(size: number) {
    this.#words = new Uint16Array(Math.ceil(size / 16));
  }

  set(i: number): void {
    this.#words[i >> 4]! |= 1 << (i & 15);
  }

  clear(i: number): void {
    this.#words[i >> 4]! &= ~(1 << (i & 15));
  }

  /** One UTF-16 code unit per 16 bits: exact, and short enough to hash quickly. */
  key(): string {
    let out = "";
    const words = this.#words;
    for (let start = 0; start < words.length; start += 4096) {
      out += String.fromCharCode(...words.subarray(start, start + 4096));
    }
    return out;
  }
}
