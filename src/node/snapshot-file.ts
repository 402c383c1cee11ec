/**
 * @module Raft snapshots on disk: `<dir>/snapshot-<index>.bin`, a msgpack of {metadata, data} followed by a
 * CRC32C. The WAL records a marker pointing at the snapshot index only AFTER the file is durable, so the marker
 * never names a snapshot that a crash could lose; older files are removed (`prune`) only once that marker is
 * durable, so the file the WAL names after any crash still exists.
 * Everything goes through an `io/disk.ts` Disk, so the simulator runs this file over its simulated disk.
 */
import { join } from "node:path";
import { crc32c } from "@node-rs/crc32";
import { pack, unpack } from "msgpackr";
import type { Disk } from "../io/disk.js";
import { NodeDisk } from "../io/node/disk.js";
import { assert } from "../lib/assert.js";
import { ShoalError } from "../lib/errors.js";
import type { Snapshot } from "../raft/types.js";
import type { SnapshotFiles } from "./ports.js";

const PREFIX = "snapshot-";
const SUFFIX = ".bin";
/** Saves write, and loads checksum, this much at a time (a few milliseconds of CRC32C here). */
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

function fileName(index: number): string {
  return `${PREFIX}${String(index).padStart(16, "0")}${SUFFIX}`;
}

export class SnapshotFileStore implements SnapshotFiles {
  readonly #dir: string;
  readonly #disk: Disk;
  readonly #pause: () => Promise<void>;

  /** `pause` yields to the event loop between slices of a load's checksum (the simulator passes its scope's next
   * turn). */
  constructor(
    dir: string,
    disk: Disk = new NodeDisk(),
    pause: () => Promise<void> = () => new Promise((resolve) => setImmediate(resolve)),
  ) {
    this.#dir = dir;
    this.#disk = disk;
    this.#pause = pause;
  }

  /** Writes the file a slice at a time (checksummed as it goes), so a snapshot of hundreds of megabytes never
   * holds the event loop for one big encode or checksum. */
  async save(snapshot: Snapshot): Promise<void> {
    const disk = this.#disk;
    await disk.makeDirectory(this.#dir);
    const head = bodyHead(snapshot);
    let crc = crc32c(head);
    const name = fileName(snapshot.metadata.index);
    const temporary = join(this.#dir, `${name}.tmp`);
    // A temporary file left by a crash mid-save is garbage: start it again.
    if ((await disk.list(this.#dir)).includes(`${name}.tmp`)) await disk.remove(temporary);
    const file = await disk.open(temporary, "create");
    try {
      let at = 0;
      await file.write(head, at);
      at += head.byteLength;
      const data = snapshot.data;
      for (let offset = 0; offset < data.byteLength; offset += WRITE_SLICE_BYTES) {
        const slice = data.subarray(offset, Math.min(data.byteLength, offset + WRITE_SLICE_BYTES));
        crc = crc32c(slice, crc);
        await file.write(slice, at);
        at += slice.byteLength;
      }
      const checksum = Buffer.alloc(4);
      checksum.writeUInt32LE(crc >>> 0);
      await file.write(checksum, at);
      await file.sync(); // durable before it becomes visible under its final name
    } finally {
      await file.close();
    }
    await disk.rename(temporary, join(this.#dir, name));
    await disk.syncDirectory(this.#dir);
  }

  /** See SnapshotFiles.prune. (Removing the older files in `save` lost the file a crash-recovered WAL still named:
   * the node simulation found it.) */
  async prune(keepIndex: number): Promise<void> {
    const keep = fileName(keepIndex);
    for (const other of await this.#list()) {
      if (other.startsWith(PREFIX) && !other.endsWith(".tmp") && other !== keep) {
        await this.#disk.remove(join(this.#dir, other));
      }
    }
  }

  async load(index: number): Promise<Snapshot | undefined> {
    const name = fileName(index);
    if (!(await this.#list()).includes(name)) return undefined;
    const file = await this.#disk.readFile(join(this.#dir, name));
    // A view, not a copy: the image is as big as the store (78 MB at 1 M keys), and copying it (twice, before)
    // held a starting node's event loop ~0.7 s (issue 10). The data handed on is a view into the file's bytes.
    const bytes = Buffer.from(file.buffer, file.byteOffset, file.byteLength);
    const body = bytes.subarray(0, Math.max(0, bytes.length - 4));
    let crc = 0;
    for (let offset = 0; offset < body.length; offset += WRITE_SLICE_BYTES) {
      if (offset > 0) await this.#pause();
      crc = crc32c(body.subarray(offset, Math.min(body.length, offset + WRITE_SLICE_BYTES)), crc);
    }
    if (bytes.length < 4 || bytes.readUInt32LE(bytes.length - 4) !== crc >>> 0) {
      throw new ShoalError("INTERNAL", `Cannot load snapshot: checksum mismatch in ${join(this.#dir, name)}`);
    }
    const decoded = unpack(body) as Snapshot; // msgpackr reads a bin as a view of `body` (copyBuffers is off)
    const data = decoded.data;
    return { metadata: decoded.metadata, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
  }

  async #list(): Promise<string[]> {
    try {
      return await this.#disk.list(this.#dir);
    } catch {
      return []; // no directory yet: no snapshot
    }
  }
}
