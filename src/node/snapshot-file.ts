/**
 * @module Raft snapshots on disk: `<dir>/snapshot-<index>.bin`, a msgpack of {metadata, data} followed by a
 * CRC32C. The WAL records a marker pointing at the snapshot index only AFTER the file is durable, so the marker
 * never names a snapshot that a crash could lose. Older files are removed once a newer one is written.
 */
import { mkdir, open, readdir, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { crc32c } from "@node-rs/crc32";
import { pack, unpack } from "msgpackr";
import { assert } from "../lib/assert.js";
import { ShoalError } from "../lib/errors.js";
import type { Snapshot } from "../raft/types.js";
import type { SnapshotFiles } from "./ports.js";

const PREFIX = "snapshot-";
const SUFFIX = ".bin";
const WRITE_SLICE_BYTES = 4 * 1024 * 1024;
const EMPTY = new Uint8Array(0);

/**
 * The msgpack of {metadata, data} up to and including data's bin header: exactly what `pack` produces, except
 * that the header is always bin32 (valid msgpack for any length), so the data itself is written without copying
 * it into one encoded buffer.
 */
function bodyHead(snapshot: Snapshot): Buffer {
  const packed = pack({ metadata: snapshot.metadata, data: EMPTY });
  // An empty bin packs as bin8 of length 0 (0xc4 0x00), last in the map.
  assert(packed.length >= 2 && packed[packed.length - 2] === 0xc4 && packed[packed.length - 1] === 0, "bin8 tail");
  const head = Buffer.alloc(packed.length - 2 + 5);
  packed.copy(head, 0, 0, packed.length - 2);
  head[packed.length - 2] = 0xc6;
  head.writeUInt32BE(snapshot.data.byteLength, packed.length - 1);
  return head;
}

export class SnapshotFileStore implements SnapshotFiles {
  readonly #dir: string;

  constructor(dir: string) {
    this.#dir = dir;
  }

  /** Writes the file a slice at a time (checksummed as it goes), so a snapshot of hundreds of megabytes never
   * holds the event loop for one big encode or checksum. */
  async save(snapshot: Snapshot): Promise<void> {
    await mkdir(this.#dir, { recursive: true });
    const head = bodyHead(snapshot);
    let crc = crc32c(head);
    const name = `${PREFIX}${String(snapshot.metadata.index).padStart(16, "0")}${SUFFIX}`;
    const temporary = join(this.#dir, `${name}.tmp`);
    const handle = await open(temporary, "w");
    try {
      await handle.write(head);
      const data = snapshot.data;
      for (let at = 0; at < data.byteLength; at += WRITE_SLICE_BYTES) {
        const slice = data.subarray(at, Math.min(data.byteLength, at + WRITE_SLICE_BYTES));
        crc = crc32c(slice, crc);
        await handle.write(slice);
      }
      const checksum = Buffer.alloc(4);
      checksum.writeUInt32LE(crc >>> 0);
      await handle.write(checksum);
      await handle.sync(); // durable before it becomes visible under its final name
    } finally {
      await handle.close();
    }
    await rename(temporary, join(this.#dir, name));
    await this.#syncDir();
    for (const other of await readdir(this.#dir)) {
      if (other.startsWith(PREFIX) && other !== name) await rm(join(this.#dir, other), { force: true });
    }
  }

  async load(index: number): Promise<Snapshot | undefined> {
    const name = `${PREFIX}${String(index).padStart(16, "0")}${SUFFIX}`;
    let bytes: Buffer;
    try {
      bytes = await readFile(join(this.#dir, name));
    } catch {
      return undefined;
    }
    const body = bytes.subarray(0, bytes.length - 4);
    if (bytes.length < 4 || bytes.readUInt32LE(bytes.length - 4) !== crc32c(body) >>> 0) {
      throw new ShoalError("INTERNAL", `Cannot load snapshot: checksum mismatch in ${join(this.#dir, name)}`);
    }
    const decoded = unpack(body) as Snapshot;
    return { metadata: decoded.metadata, data: new Uint8Array(decoded.data) };
  }

  async #syncDir(): Promise<void> {
    const handle = await open(this.#dir, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
}
