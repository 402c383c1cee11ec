/**
 * @module The real `Disk` over `node:fs/promises`. Writes go through a `FileHandle` at explicit positions
 * (pwrite), syncs are fdatasync: on Linux that flushes the data and the size, which is all a reader needs.
 */
import { type FileHandle, mkdir, open, readdir, readFile, rename, rm } from "node:fs/promises";
import type { Disk, DiskFile } from "../disk.js";

class NodeDiskFile implements DiskFile {
  readonly #handle: FileHandle;

  constructor(handle: FileHandle) {
    this.#handle = handle;
  }

  async write(data: Uint8Array, positionBytes: number): Promise<void> {
    let doneBytes = 0;
    // A regular file almost never takes a short write, but the syscall allows it, so loop.
    while (doneBytes < data.byteLength) {
      const { bytesWritten } = await this.#handle.write(
        data,
        doneBytes,
        data.byteLength - doneBytes,
        positionBytes + doneBytes,
      );
      doneBytes += bytesWritten;
    }
  }

  sync(): Promise<void> {
    return this.#handle.datasync();
  }

  truncate(sizeBytes: number): Promise<void> {
    return this.#handle.truncate(sizeBytes);
  }

  close(): Promise<void> {
    return this.#handle.close();
  }
}

export class NodeDisk implements Disk {
  async makeDirectory(path: string): Promise<void> {
    await mkdir(path, { recursive: true });
  }

  list(path: string): Promise<string[]> {
    return readdir(path);
  }

  readFile(path: string): Promise<Uint8Array> {
    return readFile(path);
  }

  async open(path: string, mode: "create" | "existing"): Promise<DiskFile> {
    return new NodeDiskFile(await open(path, mode === "create" ? "wx+" : "r+"));
  }

  remove(path: string): Promise<void> {
    return rm(path);
  }

  rename(from: string, to: string): Promise<void> {
    return rename(from, to);
  }

  async syncDirectory(path: string): Promise<void> {
    const handle = await open(path, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
}
