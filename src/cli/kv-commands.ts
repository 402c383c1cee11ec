/**
 * @module `shoal get|put|del`: one key at a time. Values are raw bytes: `get` writes them to stdout as stored,
 * `put` takes them from the argument or, with "-", from stdin. A missing key exits 1 ("Key not found"), a failed
 * condition exits 1 with the key's current revision, usage errors exit 2.
 */
import type { Readable } from "node:stream";
import { ShoalError } from "../lib/errors.js";
import { CliError } from "./cli-error.js";
import { clientFromFlags, ENDPOINT_FLAGS, ENDPOINT_HELP } from "./endpoint-flag.js";
import { integerFlag, numberFlag, parseCommand } from "./parse-flags.js";

const decoder = new TextDecoder();
const STDIN_BYTES_MAX = 16 * 1024 * 1024;

const GET_HELP = `Usage: shoal get KEY [options]

Prints the key's value exactly as stored. Exits 1 with "Key not found" when there is no such key.

${ENDPOINT_HELP}
  --json               print {key, value, modRevision, createRevision, version} as JSON
  --stale              read the answering node's copy without asking the leader (may be behind)
  -h, --help           show this help
`;

const PUT_HELP = `Usage: shoal put KEY VALUE [options]

Writes VALUE ("-" reads it from stdin) and prints the write's revision.

${ENDPOINT_HELP}
  --ttl SECONDS        delete the key this many seconds after the write
  --if-match REV       write only if the key's mod revision is REV (0: only if absent); else exit 1
  --if-absent          write only if the key does not exist yet; else exit 1
  -h, --help           show this help
`;

const DEL_HELP = `Usage: shoal del KEY [options]

Deletes the key and prints the delete's revision. Exits 1 with "Key not found" when there is no such key.

${ENDPOINT_HELP}
  -h, --help           show this help
`;

const HELP_FLAG = { help: { type: "boolean", short: "h" } } as const;

export async function runGet(argv: string[]): Promise<number> {
  const flags0 = { ...ENDPOINT_FLAGS, ...HELP_FLAG, json: { type: "boolean" }, stale: { type: "boolean" } } as const;
  const { flags, args } = parseCommand("get", argv, flags0, { required: ["KEY"] });
  if (flags.help === true) return help(GET_HELP);
  const kv = await clientFromFlags(flags).get(args.KEY as string, { stale: flags.stale === true });
  if (kv === undefined) throw new ShoalError("NOT_FOUND", "Key not found");
  if (flags.json === true) {
    const { value, ...rest } = kv;
    process.stdout.write(`${JSON.stringify({ ...rest, value: decoder.decode(value) })}\n`);
    return 0;
  }
  await write(kv.value);
  const endsWithNewline = kv.value.length > 0 && kv.value[kv.value.length - 1] === 10;
  if (process.stdout.isTTY === true && !endsWithNewline) await write("\n");
  return 0;
}

export async function runPut(argv: string[]): Promise<number> {
  const flags0 = {
    ...ENDPOINT_FLAGS,
    ...HELP_FLAG,
    ttl: { type: "string" },
    "if-match": { type: "string" },
    "if-absent": { type: "boolean" },
  } as const;
  const { flags, args } = parseCommand("put", argv, flags0, { required: ["KEY", "VALUE"] });
  if (flags.help === true) return help(PUT_HELP);
  if (flags["if-match"] !== undefined && flags["if-absent"] === true)
    throw new CliError("Cannot combine --if-match and --if-absent");
  const ttlSeconds = flags.ttl === undefined ? undefined : numberFlag(flags, "ttl", 0, 0.001, 10 * 365 * 24 * 3600);
  const ifModRevision = flags["if-match"] === undefined ? undefined : integerFlag(flags, "if-match", 0, 0);
  const value = args.VALUE === "-" ? await readAll(process.stdin) : (args.VALUE as string);
  const { revision } = await clientFromFlags(flags).put(args.KEY as string, value, {
    ...(ttlSeconds === undefined ? {} : { ttlSeconds }),
    ...(ifModRevision === undefined ? {} : { ifModRevision }),
    ...(flags["if-absent"] === true ? { ifAbsent: true } : {}),
  });
  process.stdout.write(`OK (revision ${revision})\n`);
  return 0;
}

export async function runDel(argv: string[]): Promise<number> {
  const { flags, args } = parseCommand("del", argv, { ...ENDPOINT_FLAGS, ...HELP_FLAG }, { required: ["KEY"] });
  if (flags.help === true) return help(DEL_HELP);
  const result = await clientFromFlags(flags).delete(args.KEY as string);
  if (result === undefined) throw new ShoalError("NOT_FOUND", "Key not found");
  process.stdout.write(`Deleted (revision ${result.revision})\n`);
  return 0;
}

function help(text: string): number {
  process.stdout.write(text);
  return 0;
}

function write(data: Uint8Array | string): Promise<void> {
  return new Promise((done, fail) => process.stdout.write(data, (error) => (error ? fail(error) : done())));
}

async function readAll(stream: Readable): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of stream) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    bytes += buffer.length;
    if (bytes > STDIN_BYTES_MAX)
      throw new CliError(`Cannot read the value from stdin: it exceeds ${STDIN_BYTES_MAX} bytes`, 1);
    chunks.push(buffer);
  }
  return new Uint8Array(Buffer.concat(chunks));
}
