/**
 * @module SimWorkload: the clients. Each client keeps at most one write and one read outstanding. A write sets a
 * register to a globally unique value; the client sends it to the node it believes leads, follows the leader
 * hint of a refusal, and retries elsewhere when no answer comes in time (the same value again, so a retry that
 * lands twice in the log is harmless). A read goes through ReadIndex on any node (followers forward it).
 * In the liveness phase the clients stop starting new work and only finish what they started.
 */
import type { Prng } from "../src/lib/prng.js";
import type { Entry, NodeId } from "../src/raft/types.js";
import type { ClientHistory } from "./checkers/read-linearizability.js";
import type { SimCluster } from "./cluster.js";
import type { HostObserver } from "./observer.js";
import type { SimHost } from "./sim-host.js";
import { decodeWrite, encodeWrite, REGISTER_COUNT } from "./state-machine.js";

export interface WorkloadSettings {
  readonly clientCount: number;
  /** Chance per tick that an idle client starts a write / a read. */
  readonly writeChance: number;
  readonly readChance: number;
  /** A write not acknowledged this long after it was accepted is sent again. */
  readonly writeTimeoutTicks: number;
  /** A read not served this long after it was issued is abandoned. */
  readonly readTimeoutTicks: number;
}

interface PendingWrite {
  readonly valueId: number;
  readonly key: number;
  /** The node and incarnation that accepted it (0 while not accepted). */
  host: NodeId;
  incarnation: number;
  retryTick: number;
}

interface PendingRead {
  readonly context: string;
  readonly giveUpTick: number;
}

interface Client {
  readonly id: number;
  leaderGuess: NodeId;
  write: PendingWrite | undefined;
  read: PendingRead | undefined;
}

export interface WorkloadStats {
  writesStarted: number;
  writesAcked: number;
  proposalsRefused: number;
  readsIssued: number;
  readsServed: number;
}

export class SimWorkload implements HostObserver {
  readonly #cluster: SimCluster;
  readonly #random: Prng;
  readonly #settings: WorkloadSettings;
  readonly #history: ClientHistory;
  readonly #clients: Client[];
  /** Pending writes by value id, to match applied entries quickly. */
  readonly #writes = new Map<number, Client>();
  #nextValueId = 1;
  #nextReadId = 1;
  #tick = 0;
  draining = false;
  readonly stats: WorkloadStats = {
    writesStarted: 0,
    writesAcked: 0,
    proposalsRefused: 0,
    readsIssued: 0,
    readsServed: 0,
  };

  constructor(cluster: SimCluster, random: Prng, settings: WorkloadSettings, history: ClientHistory) {
    this.#cluster = cluster;
    this.#random = random;
    this.#settings = settings;
    this.#history = history;
    this.#clients = Array.from({ length: settings.clientCount }, (_, id) => ({
      id,
      leaderGuess: random.pick(cluster.nodeIds),
      write: undefined,
      read: undefined,
    }));
  }

  pendingWrites(): number {
    return this.#writes.size;
  }

  step(tick: number): void {
    this.#tick = tick;
    for (const client of this.#clients) {
      this.#stepWrite(client);
      this.#stepRead(client);
    }
  }

  #stepWrite(client: Client): void {
    if (client.write === undefined) {
      if (this.draining || !this.#random.chance(this.#settings.writeChance)) return;
      const valueId = this.#nextValueId++;
      client.write = { valueId, key: this.#random.int(REGISTER_COUNT), host: 0, incarnation: 0, retryTick: this.#tick };
      this.#writes.set(valueId, client);
      this.stats.writesStarted++;
    }
    if (this.#tick >= client.write.retryTick) this.#propose(client, client.write);
  }

  #propose(client: Client, write: PendingWrite): void {
    const host = this.#target(client);
    if (host === undefined) {
      write.retryTick = this.#tick + 1;
      return;
    }
    const incarnation = host.incarnation; // a crash while handling the proposal loses the client's connection
    const result = host.propose(encodeWrite({ valueId: write.valueId, key: write.key }));
    if (result.accepted) {
      write.host = host.id;
      write.incarnation = incarnation;
      write.retryTick = this.#tick + this.#settings.writeTimeoutTicks;
      return;
    }
    this.stats.proposalsRefused++;
    client.leaderGuess = result.leaderId !== 0 ? result.leaderId : this.#random.pick(this.#cluster.nodeIds);
    write.retryTick = this.#tick + 1 + this.#random.int(3);
  }

  /** The node the client talks to: its guess when that node is up, otherwise any live node. */
  #target(client: Client): SimHost | undefined {
    const guess = this.#cluster.host(client.leaderGuess);
    if (guess.alive) return guess;
    const live = this.#cluster.liveHosts();
    if (live.length === 0) return undefined;
    const host = this.#random.pick(live);
    client.leaderGuess = host.id;
    return host;
  }

  #stepRead(client: Client): void {
    if (client.read !== undefined && this.#tick >= client.read.giveUpTick) client.read = undefined;
    if (client.read !== undefined || this.draining || !this.#random.chance(this.#settings.readChance)) return;
    const host = this.#target(client);
    if (host === undefined) return;
    const context = `r${this.#nextReadId++}`;
    // Recorded before asking: the read may be confirmed and served within the call.
    this.#history.readIssued(context, this.#random.int(REGISTER_COUNT), this.#tick);
    client.read = { context, giveUpTick: this.#tick + this.#settings.readTimeoutTicks };
    this.stats.readsIssued++;
    if (!host.readIndex(context)) {
      client.read = undefined;
      client.leaderGuess = this.#random.pick(this.#cluster.nodeIds);
    }
  }

  applied(host: SimHost, entry: Entry): void {
    const write = decodeWrite(entry);
    if (write === undefined) return;
    const client = this.#writes.get(write.valueId);
    const pending = client?.write;
    if (client === undefined || pending === undefined) return;
    // The client hears back only from the node (incarnation) it handed the write to.
    if (pending.host !== host.id || pending.incarnation !== host.incarnation) return;
    this.#history.writeAcked(entry.index, write.key);
    this.#writes.delete(write.valueId);
    client.write = undefined;
    this.stats.writesAcked++;
  }

  readServed(_host: SimHost, context: string): void {
    for (const client of this.#clients) {
      if (client.read?.context === context) {
        client.read = undefined;
        this.stats.readsServed++;
      }
    }
  }
}
