/**
 * @module Raft snapshots on disk: `<dir>/snapshot-<index>.bin`, a msgpack of {metadata, data} followed by a
 * CRC32C. The WAL records a marker pointing at the snapshot index only AFTER the file is durable, so the marker
 * never names a snapshot that a crash could lose. Older files are removed once a newer one is written.
 */
import { mkdir, open, readdir, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { crc32c } from "@node-rs/crc32";
import { pack, unpack } from "msgpackr";
import { ShoalError } from "../lib/errors.js";
import type { Snapshot } from "../raft/types.js";
import type { SnapshotFiles } from "./ports.js";

const PREFIX = "snapshot-";
const SUFFIX = ".bin";

export class SnapshotFileStore implements SnapshotFiles {
  readonly #dir: string;

  constructor(dir: string) {
    this.#dir = dir;
  }

  async save(snapshot: Snapshot): Promise<void> {
    await mkdir(this.#dir, { recursive: true });
    const body = pack({ metadata: snapshot.metadata, data: snapshot.data });
    const checksum = Buffer.alloc(4);
    checksum.writeUInt32LE(crc32c(body) >>> 0);
    const name = `${PREFIX}${String(snapshot.metadata.index).padStart(16, "0")}${SUFFIX}`;
    const temporary = join(this.#dir, `${name}.tmp`);
    const handle = await open(temporary, "w");
    try {
      await handle.write(body);
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
