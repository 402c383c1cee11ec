/**
 * @module Waiting for a local cluster to elect a leader, by polling each node's `GET /v1/cluster`: what
 * `shoal cluster` (npm start) needs before it says the cluster is up — every node printing its ready line only
 * means it serves, not that writes can succeed. When no leader comes, each node's own view says what is wrong.
 */
import { describeFetchFailure } from "../client/http-errors.js";

/** What one node says about itself, or why it did not answer. */
export interface NodeReport {
  readonly id: number;
  readonly url: string;
  readonly view?: { readonly leader: number; readonly term: number; readonly role: string };
  readonly error?: string;
}

export interface ElectedLeader {
  readonly leader: number;
  readonly term: number;
}

const REQUEST_TIMEOUT_MS = 1000;
const POLL_MS = 200;

/** Asks every node for its view, in parallel, each within REQUEST_TIMEOUT_MS. */
export async function pollNodes(urls: ReadonlyMap<number, string>): Promise<NodeReport[]> {
  return Promise.all(
    [...urls].map(async ([id, url]): Promise<NodeReport> => {
      try {
        const response = await fetch(`${url}/v1/cluster`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
        if (!response.ok) return { id, url, error: `answers HTTP ${response.status}` };
        const body = (await response.json()) as { leader?: unknown; term?: unknown; role?: unknown };
        return {
          id,
          url,
          view: { leader: Number(body.leader ?? 0), term: Number(body.term ?? 0), role: String(body.role ?? "?") },
        };
      } catch (error) {
        return { id, url, error: `not answering (${describeFetchFailure(error).reason})` };
      }
    }),
  );
}

/** A leader a majority of the nodes report, which itself reports leading; undefined until there is one. */
export function electedLeader(reports: readonly NodeReport[]): ElectedLeader | undefined {
  const votes = new Map<number, number>();
  for (const report of reports) {
    const leader = report.view?.leader ?? 0;
    if (leader !== 0) votes.set(leader, (votes.get(leader) ?? 0) + 1);
  }
  for (const [leader, count] of votes) {
    const own = reports.find((report) => report.id === leader)?.view;
    if (count * 2 > reports.length && own?.role === "leader" && own.leader === leader) {
      return { leader, term: own.term };
    }
  }
  return undefined;
}

/** One line per node: its role and term and the leader it knows, or why it did not answer. */
export function describeNodes(reports: readonly NodeReport[]): string[] {
  return reports.map((report) => {
    if (report.view === undefined) return `node ${report.id} (${report.url}): ${report.error ?? "no answer"}`;
    const { role, term, leader } = report.view;
    const knows = leader === 0 ? "knows no leader" : `follows node ${leader}`;
    return `node ${report.id}: ${role} in term ${term}, ${knows}`;
  });
}

/**
 * Polls until a leader is elected (resolves with it) or `timeoutMs` passes or `stopped()` turns true (resolves
 * with the last reports, which say what is wrong).
 */
export async function awaitLeader(
  urls: ReadonlyMap<number, string>,
  timeoutMs: number,
  stopped: () => boolean = () => false,
): Promise<ElectedLeader | { readonly reports: NodeReport[] }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const reports = await pollNodes(urls);
    const elected = electedLeader(reports);
    if (elected !== undefined) return elected;
    if (Date.now() >= deadline || stopped()) return { reports };
    await new Promise((wake) => setTimeout(wake, POLL_MS));
  }
}
