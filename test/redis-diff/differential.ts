/**
 * @module The differential harness: replays one seed's command sequence against a reference (redis-server) and a
 * subject (Shoal, or another redis-server), one command at a time on one connection each, and compares every
 * reply byte for byte after the normalisations listed in normalise.ts. Stops at the first mismatch of a seed
 * (after it, the two keyspaces may differ and every later reply would differ too).
 */
import { type Command, generateCommands } from "./generator.js";
import { bulkBody, joinArray, normaliseReply, sortedUnique, splitArray } from "./normalise.js";
import { type Endpoint, RawConnection, type ReplyChannel } from "./raw-connection.js";

export interface Mismatch {
  readonly seed: number;
  /** 1-based index into the seed's command sequence. */
  readonly step: number;
  readonly steps: number;
  readonly command: Command;
  readonly reference: Buffer;
  readonly subject: Buffer;
  readonly referenceLabel: string;
  readonly subjectLabel: string;
  readonly recent: ReadonlyArray<{ step: number; command: Command }>;
}

export interface SequenceOptions {
  readonly seed: number;
  readonly steps: number;
  readonly reference: ReplyChannel;
  readonly subject: ReplyChannel;
  /** Called for every compared step (SHOAL_DIFF_TRACE uses it). */
  readonly onStep?: (step: number, command: Command, reference: Buffer, subject: Buffer) => void;
  /**
   * Exploration (SHOAL_DIFF_CONTINUE): instead of stopping at a mismatch, report it here, reset both servers
   * (DISCARD, UNWATCH, FLUSHALL) and go on, so one seed can show several different differences.
   */
  readonly onMismatch?: (mismatch: Mismatch) => void;
}

const SCAN_PAGES_MAX = 1000;
const RECENT_COMMANDS = 8;

/** Runs one seed; undefined when every reply matched. */
export async function runSequence(options: SequenceOptions): Promise<Mismatch | undefined> {
  const { seed, steps, reference, subject } = options;
  const commands = generateCommands(seed, steps);
  await reset(reference, subject);
  let queued: Command[] | undefined;
  let first: Mismatch | undefined;
  for (let i = 0; i < commands.length; i++) {
    const command = commands[i] as Command;
    const name = (command[0] ?? "").toUpperCase();
    const [referenceRaw, subjectRaw] = await Promise.all([
      ask(reference, command, queued === undefined),
      ask(subject, command, queued === undefined),
    ]);
    const referenceReply = normaliseReply(command, referenceRaw, queued);
    const subjectReply = normaliseReply(command, subjectRaw, queued);
    options.onStep?.(i + 1, command, referenceReply, subjectReply);
    if (!referenceReply.equals(subjectReply)) {
      const recent = commands
        .slice(Math.max(0, i - RECENT_COMMANDS), i)
        .map((c, j) => ({ step: Math.max(0, i - RECENT_COMMANDS) + j + 1, command: c }));
      const mismatch: Mismatch = {
        seed,
        step: i + 1,
        steps: commands.length,
        command,
        reference: referenceReply,
        subject: subjectReply,
        referenceLabel: reference.label,
        subjectLabel: subject.label,
        recent,
      };
      first ??= mismatch;
      if (options.onMismatch === undefined) return mismatch;
      options.onMismatch(mismatch);
      await reset(reference, subject);
      queued = undefined;
      continue;
    }
    // Transaction state follows the reference: a command is part of EXEC's array only if it was QUEUED.
    if (queued === undefined && name === "MULTI" && referenceRaw.toString() === "+OK\r\n") queued = [];
    else if (queued !== undefined && (name === "EXEC" || name === "DISCARD")) queued = undefined;
    else if (queued !== undefined && referenceRaw.toString() === "+QUEUED\r\n") queued.push(command);
  }
  return first;
}

/** Leaves any transaction and empties both keyspaces. */
async function reset(reference: ReplyChannel, subject: ReplyChannel): Promise<void> {
  for (const channel of [reference, subject]) {
    await channel.command(["DISCARD"]);
    await channel.command(["UNWATCH"]);
    const reply = await channel.command(["FLUSHALL"]);
    if (reply.toString() !== "+OK\r\n") throw new Error(`${channel.label}: FLUSHALL answered ${show(reply)}`);
  }
}

/** One command's reply; a transport failure becomes a reply-like text so it is reported as a mismatch. */
async function ask(channel: ReplyChannel, command: Command, outsideMulti: boolean): Promise<Buffer> {
  try {
    const isScan = (command[0] ?? "").toUpperCase() === "SCAN" && outsideMulti;
    return isScan ? await fullScan(channel, command) : await channel.command(command);
  } catch (error) {
    return Buffer.from(`<no reply: ${error instanceof Error ? error.message : String(error)}>`);
  }
}

/**
 * Follows SCAN's cursor from `command` (which starts at cursor 0) until it returns to 0, and answers the
 * sorted, de-duplicated keys as one array (normalise.ts, rule 2). An error or malformed page is returned raw.
 */
async function fullScan(channel: ReplyChannel, command: Command): Promise<Buffer> {
  const keys: Buffer[] = [];
  let page = [...command];
  for (let pages = 0; pages < SCAN_PAGES_MAX; pages++) {
    const raw = await channel.command(page);
    const parts = splitArray(raw);
    const cursor = parts?.[0] === undefined ? undefined : bulkBody(parts[0]);
    const pageKeys = parts?.[1] === undefined ? undefined : splitArray(parts[1]);
    if (parts?.length !== 2 || cursor === undefined || pageKeys === undefined) return raw;
    keys.push(...pageKeys);
    if (cursor.toString() === "0") return joinArray(sortedUnique(keys));
    page = [page[0] as string, cursor.toString(), ...page.slice(2)];
  }
  return Buffer.from(`<SCAN did not return to cursor 0 within ${SCAN_PAGES_MAX} pages>`);
}

/** A reply or command argument as a quoted, escaped string. */
export function show(bytes: Buffer | string): string {
  return JSON.stringify(typeof bytes === "string" ? bytes : bytes.toString("utf8"));
}

export function formatCommand(command: Command): string {
  return command.map((arg) => (/^[\x21-\x7e]+$/.test(arg) && !arg.includes('"') ? arg : show(arg))).join(" ");
}

export function describeMismatch(mismatch: Mismatch, replay: string): string {
  const lines = [
    `Replies differ: seed ${mismatch.seed}, step ${mismatch.step} of ${mismatch.steps}`,
    `  command:   ${formatCommand(mismatch.command)}`,
    `  ${mismatch.referenceLabel}: ${show(mismatch.reference)}`,
    `  ${mismatch.subjectLabel}: ${show(mismatch.subject)}`,
    "  preceding commands:",
    ...mismatch.recent.map(({ step, command }) => `    ${String(step).padStart(5)}  ${formatCommand(command)}`),
    `  replay: ${replay}`,
  ];
  return lines.join("\n");
}

/** Opens one connection to each endpoint, runs one seed (see SequenceOptions), and closes them. */
export async function runSeedAgainst(
  options: Omit<SequenceOptions, "reference" | "subject"> & {
    readonly reference: Endpoint;
    readonly subject: Endpoint;
    /** Wraps the subject's connection (the checker's own tests alter replies with it). */
    readonly wrapSubject?: (channel: ReplyChannel) => ReplyChannel;
  },
): Promise<Mismatch | undefined> {
  const { reference, subject, wrapSubject, ...rest } = options;
  const referenceChannel = await RawConnection.open(reference);
  const opened = await RawConnection.open(subject);
  const subjectChannel = wrapSubject ? wrapSubject(opened) : opened;
  try {
    return await runSequence({ ...rest, reference: referenceChannel, subject: subjectChannel });
  } finally {
    referenceChannel.close();
    subjectChannel.close();
  }
}
