/**
 * @module PeerChecks: a running node asks every peer who it is, every few seconds, and reports what does not
 * fit — a peer of another cluster, a peer started with other members, a peer never reached, a node that dials
 * this one under another node's id (its --peers has a wrong address). A node started with a wrong peer list
 * used to report "up" and stay a pre-candidate forever without a word; these findings go to the log (once per
 * change), to `/v1/cluster` and `shoal status`, and to the dashboard. Raft messages from a peer found to belong
 * to another cluster are dropped.
 */
import type { NodeId } from "../raft/types.js";
import type { IdentityAnswer } from "./bootstrap.js";
import { type ClusterIdentity, formatIds, sameIds } from "./identity.js";

export interface PeerChecksOptions {
  readonly identity: ClusterIdentity;
  /** Each peer's address as this node dials it. */
  readonly peers: ReadonlyMap<NodeId, string>;
  /** Where this node listens for peers. */
  readonly listenAddress: string;
  readonly ask: (peer: NodeId) => Promise<IdentityAnswer>;
  readonly log: (level: "warn" | "info", message: string) => void;
  readonly intervalMs: number;
}

/** A peer unanswered for this many rounds in a row is reported (one missed round is a restart, not a finding). */
const SILENT_ROUNDS_REPORTED = 3;
/** A misdirected dial is reported for this long after the last one. */
const MISDIRECTED_REPORT_MS = 30_000;

interface PeerFinding {
  problem: string | undefined;
  silentRounds: number;
  foreign: boolean;
}

export class PeerChecks {
  readonly #options: PeerChecksOptions;
  readonly #findings = new Map<NodeId, PeerFinding>();
  /** "from>to" → when a node last dialled us under another node's id. */
  readonly #misdirected = new Map<string, { from: NodeId; to: NodeId; atMs: number }>();
  #timer: NodeJS.Timeout | undefined;
  #checking = false;

  constructor(options: PeerChecksOptions) {
    this.#options = options;
    for (const id of options.peers.keys())
      this.#findings.set(id, { problem: undefined, silentRounds: 0, foreign: false });
  }

  start(): void {
    void this.checkNow();
    this.#timer = setInterval(() => void this.checkNow(), this.#options.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
  }

  /** One round of questions (also run on demand; rounds do not overlap). */
  async checkNow(): Promise<void> {
    if (this.#checking) return;
    this.#checking = true;
    try {
      const peers = [...this.#options.peers.keys()];
      const answers = await Promise.allSettled(peers.map((id) => this.#options.ask(id)));
      answers.forEach((answer, i) => {
        this.#record(peers[i] as NodeId, answer.status === "fulfilled" ? answer.value : undefined);
      });
    } finally {
      this.#checking = false;
    }
  }

  /** The transport refused a hello from `from` addressed to node `to` (not this node). */
  misdirected(from: NodeId, to: NodeId): void {
    const key = `${from}>${to}`;
    if (!this.#misdirected.has(key)) {
      this.#options.log("warn", this.#misdirectedProblem(from, to));
    }
    this.#misdirected.set(key, { from, to, atMs: Date.now() });
  }

  /** True when the peer answered as a member of another cluster: its Raft messages are not for us. */
  isForeign(peer: NodeId): boolean {
    return this.#findings.get(peer)?.foreign === true;
  }

  problemFor(peer: NodeId): string | undefined {
    return this.#findings.get(peer)?.problem;
  }

  /** Every current finding, one sentence each. */
  problems(): string[] {
    const now = Date.now();
    const problems: string[] = [];
    for (const finding of this.#findings.values()) if (finding.problem !== undefined) problems.push(finding.problem);
    for (const [key, entry] of this.#misdirected) {
      if (now - entry.atMs > MISDIRECTED_REPORT_MS) this.#misdirected.delete(key);
      else problems.push(this.#misdirectedProblem(entry.from, entry.to));
    }
    return problems;
  }

  #record(peer: NodeId, answer: IdentityAnswer | undefined): void {
    const finding = this.#findings.get(peer);
    if (finding === undefined) return;
    finding.silentRounds = answer === undefined ? finding.silentRounds + 1 : 0;
    finding.foreign = answer?.clusterId !== undefined && answer.clusterId !== this.#options.identity.clusterId;
    const problem = this.#problemOf(peer, answer, finding.silentRounds);
    if (problem === finding.problem) return;
    if (problem !== undefined) this.#options.log("warn", problem);
    else if (finding.problem !== undefined) this.#options.log("info", `Node ${peer}: resolved (${finding.problem})`);
    finding.problem = problem;
  }

  #problemOf(peer: NodeId, answer: IdentityAnswer | undefined, silentRounds: number): string | undefined {
    const address = this.#options.peers.get(peer) ?? "?";
    const { identity } = this.#options;
    if (answer === undefined) {
      if (silentRounds < SILENT_ROUNDS_REPORTED) return undefined;
      return `Cannot reach node ${peer} at ${address}: it is down, or --peers has a wrong address for it`;
    }
    if (answer.clusterId !== undefined && answer.clusterId !== identity.clusterId) {
      return (
        `Node ${peer} at ${address} belongs to cluster ${answer.clusterId}, this node to ${identity.clusterId}: ` +
        "--peers points at another cluster's node"
      );
    }
    if (!sameIds(answer.memberIds, identity.memberIds)) {
      return (
        `Node ${peer} was started with members ${formatIds(answer.memberIds)}, this node with ` +
        `${formatIds(identity.memberIds)}: start every member with the same --peers`
      );
    }
    return undefined;
  }

  #misdirectedProblem(from: NodeId, to: NodeId): string {
    return (
      `Node ${from} dials this node (${this.#options.identity.nodeId}, listening on ${this.#options.listenAddress}) ` +
      `as node ${to}: node ${from}'s --peers has a wrong address for node ${to}`
    );
  }
}
