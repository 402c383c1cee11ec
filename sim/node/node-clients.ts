/**
 * @module The clients of the node simulation: each loops over real commands through the command layer — SET
 * (a put), GET (a ReadIndex barrier, then the store), a compare-and-swap (a txn comparing the value) and Redis
 * INCR — against the member it believes leads the key's group (reads go to any member; with several groups a key
 * belongs to one, as a key's hash slot picks its shard), and records every operation in a
 * Jepsen-style history (../checkers/history-op.ts) that the linearizability checker judges at the end of the run.
 *
 * Outcomes: `ok` when answered; `fail` when certainly not applied (refused before the log: NOT_LEADER, the
 * member is down, overloaded; or PROPOSAL_DROPPED, which the host promises only for entries overtaken in the
 * log; or a CAS whose compare failed); `info` when unknown (TIMEOUT, UNKNOWN_OUTCOME, the member crashed, the
 * client gave up). Time in the history is a global sequence number, so real-time order is exact.
 *
 * Keys are routed by the slot table (node-slots.ts: key → hash slot → group). In the seeds that move slots, each
 * client routes by its own copy of the table, and follows slot moves as a node does (shoal-node.ts
 * #followingMoves): an ASK (the group handed the slot off) is asked again of the group it names, once; an ASK
 * after that, or SLOT_MIGRATING (the slot's keys are being copied: read-only, or not served yet on the
 * destination), is tried again after a pause, routed afresh, until half the client's timeout has passed — then the
 * refusal is the outcome, a certain `fail` (the shard refused the whole command, nothing done). A read checks that
 * its group serves the key after its ReadIndex barrier, as ClientOperations.get does (checkServed).
 */
import type { Command, CommandResult } from "../../src/commands/command.js";
import { encodeCommand } from "../../src/commands/command-codec.js";
import { ShoalError } from "../../src/lib/errors.js";
import type { Prng } from "../../src/lib/prng.js";
import type { GroupId, NodeId } from "../../src/raft/types.js";
import { askTarget, checkServed, type SlotStates } from "../../src/store/slot-states.js";
import type { HistoryOp, Outcome } from "../checkers/history-op.js";
import type { ClockScope } from "../sim-clock.js";
import type { KeyRouting } from "./node-slots.js";
import type { SimMember } from "./sim-member.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export const REGISTER_KEYS = ["r0", "r1", "r2"];
export const COUNTER_KEYS = ["c0"];

interface Invocation {
  readonly client: number | "final";
  readonly node: NodeId;
  readonly op: string;
  readonly key: string;
  readonly value: unknown;
  readonly expected: unknown;
}

export class SimClients {
  readonly history: HistoryOp[] = [];
  /** Operations invoked and not yet recorded as completed. */
  inFlight = 0;
  #sequence = 0;
  #stopped = false;
  readonly #members: readonly SimMember[];
  readonly #scope: ClockScope;
  readonly #random: Prng;
  readonly #timeoutMs: number;
  readonly #routing: KeyRouting;
  /** The slot states a read's check sees (a mutation may hide some: node-mutations.ts). */
  readonly #shownStates: (states: SlotStates) => SlotStates;
  /** Per client and group ("client:group"): the member it believes leads. */
  readonly #leaderGuess = new Map<string, NodeId>();
  /** The last value each register was seen with (CAS expectations). */
  readonly #lastSeen = new Map<string, string>();

  constructor(
    members: readonly SimMember[],
    scope: ClockScope,
    random: Prng,
    timeoutMs: number,
    routing: KeyRouting,
    shownStates: (states: SlotStates) => SlotStates = (states) => states,
  ) {
    this.#members = members;
    this.#scope = scope;
    this.#random = random;
    this.#timeoutMs = timeoutMs;
    this.#routing = routing;
    this.#shownStates = shownStates;
  }

  /** Starts `count` clients, each waiting up to `thinkMsMax` between operations. */
  start(count: number, thinkMsMax: number): void {
    for (let client = 1; client <= count; client++) this.#loop(client, thinkMsMax);
  }

  /** No client invokes anything new; operations in flight still complete. */
  stop(): void {
    this.#stopped = true;
  }

  /** A linearizable read of `key` by the "final" client from `member` (after the cluster healed). */
  finalRead(member: SimMember, key: string): Promise<Outcome> {
    return this.#invoke({ client: "final", node: member.id, op: "read", key, value: null, expected: null });
  }

  #loop(client: number, thinkMsMax: number): void {
    if (this.#stopped) return;
    void this.#invoke(this.#nextOperation(client)).then((outcome) => {
      // Virtual time must move between two operations (a client refused at once would otherwise spin at one
      // instant forever), and a refused client backs off as a real one does.
      const backoffMs = outcome === "ok" ? 0 : this.#random.between(5, 20);
      this.#scope.setTimeout(() => this.#loop(client, thinkMsMax), 1 + backoffMs + this.#random.between(0, thinkMsMax));
    });
  }

  #nextOperation(client: number): Invocation {
    this.#routing.beforeOperation(client);
    const random = this.#random;
    const roll = random.int(100);
    const someNode = (this.#members[random.int(this.#members.length)] as SimMember).id;
    const anyNode = (this.#members[random.int(this.#members.length)] as SimMember).id;
    const value = `v${client}.${this.#sequence}`;
    const guessFor = (key: string): NodeId =>
      this.#leaderGuess.get(`${client}:${this.#routing.groupOf(client, key)}`) ?? someNode;
    if (roll < 15) {
      const key = COUNTER_KEYS[random.int(COUNTER_KEYS.length)] as string;
      const guess = guessFor(key);
      return roll < 10
        ? { client, node: guess, op: "incr", key, value: null, expected: null }
        : { client, node: anyNode, op: "read", key, value: null, expected: null };
    }
    const key = REGISTER_KEYS[random.int(REGISTER_KEYS.length)] as string;
    const guess = guessFor(key);
    if (roll < 50) return { client, node: guess, op: "write", key, value, expected: null };
    if (roll < 65) {
      const expected = this.#lastSeen.get(key) ?? "none";
      return { client, node: guess, op: "cas", key, value, expected };
    }
    return { client, node: anyNode, op: "read", key, value: null, expected: null };
  }

  async #invoke(invocation: Invocation): Promise<Outcome> {
    const index = this.history.length;
    const invokeNs = this.#sequence++;
    this.inFlight++;
    // A placeholder keeps the history in invocation order; it is replaced when the operation completes.
    this.history.push({ ...invocation, index, outcome: "info", invokeNs, completeNs: Number.POSITIVE_INFINITY });
    let outcome: { outcome: Outcome; value?: unknown; error?: string };
    const target = { group: this.#routing.groupOf(invocation.client, invocation.key) };
    try {
      outcome = await this.#withTimeout(
        this.#routing.moving
          ? this.#followingMoves(invocation, target)
          : this.#perform(invocation, target.group, false),
      );
    } catch (error) {
      outcome = this.#failure(invocation, target.group, error);
    }
    const completeNs = this.#sequence++;
    const value = outcome.value === undefined ? invocation.value : outcome.value;
    this.history[index] = {
      ...invocation,
      index,
      value,
      outcome: outcome.outcome,
      invokeNs,
      completeNs: outcome.outcome === "info" ? Number.POSITIVE_INFINITY : completeNs,
      ...(outcome.error === undefined ? {} : { error: outcome.error }),
    };
    if (outcome.outcome === "ok" && typeof value === "string" && invocation.op !== "incr") {
      this.#lastSeen.set(invocation.key, value);
    }
    this.inFlight--;
    return outcome.outcome;
  }

  /**
   * Performs `invocation` on the group its client routes the key to, following slot moves (the module comment).
   * `target.group` is the group of the last attempt (the leader guess it updates).
   */
  async #followingMoves(
    invocation: Invocation,
    target: { group: GroupId },
  ): Promise<{ outcome: Outcome; value?: unknown; error?: string }> {
    const deadline = this.#scope.now() + this.#timeoutMs / 2;
    let asked: GroupId | undefined;
    for (let attempt = 0; ; attempt++) {
      target.group = asked ?? this.#routing.groupOf(invocation.client, invocation.key);
      try {
        return await this.#perform(invocation, target.group, asked !== undefined);
      } catch (error) {
        if (!(error instanceof ShoalError) || !this.#routing.moving) throw error;
        const ask = askTarget(error);
        if (ask !== undefined && asked === undefined) {
          asked = ask.shard;
          continue;
        }
        if ((error.code !== "SLOT_MIGRATING" && error.code !== "ASK") || this.#scope.now() >= deadline) throw error;
        asked = undefined;
        this.#routing.refresh(invocation.client);
        const pauseMs = Math.min(5 * 2 ** Math.min(attempt, 4), 100);
        await new Promise<void>((resolve) => this.#scope.setTimeout(resolve, pauseMs));
      }
    }
  }

  /** One attempt of `invocation` on group `group` (`followed`: an ASK named it: a write goes to the member this
   * client believes leads that group). */
  async #perform(
    invocation: Invocation,
    group: GroupId,
    followed: boolean,
  ): Promise<{ outcome: Outcome; value?: unknown; error?: string }> {
    const guess =
      followed && invocation.op !== "read" && typeof invocation.client === "number"
        ? this.#leaderGuess.get(`${invocation.client}:${group}`)
        : undefined;
    const node = guess ?? invocation.node;
    const member = this.#members.find((m) => m.id === node) as SimMember;
    const key = encoder.encode(invocation.key);
    const nowMs = this.#scope.now();
    switch (invocation.op) {
      case "read": {
        const kv = await member.call(group, async (host, store) => {
          await host.readBarrier();
          // A slot this group does not serve (moved away, or not yet imported) answers ASK or SLOT_MIGRATING.
          checkServed(this.#shownStates(store.slotStates()), [key], false);
          return store.get(key, store.clockMs());
        });
        return { outcome: "ok", value: kv === undefined ? null : decoder.decode(kv.value) };
      }
      case "write": {
        const command: Command = { op: "put", key, value: encoder.encode(invocation.value as string), nowMs };
        const result = await this.#propose(member, group, command);
        return result.kind === "put" ? { outcome: "ok" } : { outcome: "fail", error: result.kind };
      }
      case "cas": {
        const command: Command = {
          op: "txn",
          nowMs,
          compares: [{ key, target: "value", op: "==", value: encoder.encode(invocation.expected as string) }],
          success: [{ op: "put", key, value: encoder.encode(invocation.value as string) }],
          failure: [],
        };
        const result = await this.#propose(member, group, command);
        if (result.kind !== "txn") return { outcome: "fail", error: result.kind };
        return result.succeeded ? { outcome: "ok" } : { outcome: "fail", error: "compare failed" };
      }
      case "incr": {
        const command: Command = { op: "redis", nowMs, argvs: [[encoder.encode("INCR"), key]] };
        const result = await this.#propose(member, group, command);
        const reply = result.kind === "redis" ? result.replies[0] : undefined;
        if (reply?.kind !== "integer") return { outcome: "fail", error: `INCR answered ${reply?.kind ?? result.kind}` };
        return { outcome: "ok", value: String(reply.value) };
      }
      default:
        throw new Error(`Unknown operation ${invocation.op}`);
    }
  }

  /** A command's result; a slot refusal (the state machine's error result ASK or SLOT_MIGRATING: nothing done) is
   * thrown, for #followingMoves. */
  #propose(member: SimMember, group: GroupId, command: Command): Promise<CommandResult> {
    const proposed = member.call(group, (host) => host.propose(encodeCommand(command)));
    if (!this.#routing.moving) return proposed; // no slot refusal without moves (and no extra turn)
    return proposed.then((result) => {
      if (result.kind === "error" && (result.code === "ASK" || result.code === "SLOT_MIGRATING")) {
        throw new ShoalError(result.code, result.message);
      }
      return result;
    });
  }

  #withTimeout<T>(work: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = this.#scope.setTimeout(
        () => reject(new ShoalError("TIMEOUT", "The client gave up waiting")),
        this.#timeoutMs,
      );
      work.then(
        (value) => {
          this.#scope.clearTimeout(timer);
          resolve(value);
        },
        (error: unknown) => {
          this.#scope.clearTimeout(timer);
          reject(error);
        },
      );
    });
  }

  #failure(invocation: Invocation, group: GroupId, error: unknown): { outcome: Outcome; error: string } {
    if (!(error instanceof ShoalError)) throw error;
    const guessKey = `${String(invocation.client)}:${group}`;
    if (error.code === "NOT_LEADER" && typeof invocation.client === "number") {
      const leaderId = error.detail?.leaderId;
      if (typeof leaderId === "number" && leaderId > 0) this.#leaderGuess.set(guessKey, leaderId);
      else this.#leaderGuess.delete(guessKey);
    } else if (typeof invocation.client === "number" && error.code !== "TIMEOUT") {
      this.#leaderGuess.delete(guessKey);
    }
    const certain =
      error.code === "NOT_LEADER" ||
      error.code === "UNAVAILABLE" ||
      error.code === "PROPOSAL_DROPPED" ||
      error.code === "TOO_LARGE" ||
      error.code === "BAD_REQUEST" ||
      error.code === "ASK" ||
      error.code === "SLOT_MIGRATING";
    return { outcome: certain ? "fail" : "info", error: error.code };
  }
}
