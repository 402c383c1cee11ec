/**
 * @module A worker thread that answers numbered requests in order — what the LMDB helpers (env-closer.ts,
 * env-writer.ts) share. Started on first use (or ahead of it, `start`: creating a worker holds the event loop a
 * few ms), restarted after it dies (the requests in flight fail), and never keeping the process alive while idle:
 * only a request in flight does.
 */
import { Worker } from "node:worker_threads";

/** A request carries its number; the answer names it and carries `error` when the thread failed it. */
export interface HelperAnswer {
  readonly id: number;
  readonly error?: string;
}

export class HelperThread<Answer extends HelperAnswer> {
  readonly #script: URL;
  readonly #name: string;
  #thread: Worker | undefined;
  readonly #pending = new Map<number, (answer: Answer | HelperAnswer) => void>();
  #nextId = 1;

  constructor(script: URL, name: string) {
    this.#script = script;
    this.#name = name;
  }

  start(): void {
    this.#worker();
  }

  /** Sends `message` (numbered here) and resolves with the answer; rejects when the thread fails it or dies. */
  request(message: Record<string, unknown>, transfer: ArrayBuffer[] = []): Promise<Answer> {
    const thread = this.#worker();
    const id = this.#nextId++;
    thread.ref(); // a request in flight keeps the process up until answered
    return new Promise<Answer>((resolve, reject) => {
      this.#pending.set(id, (answer) => {
        if (answer.error === undefined) resolve(answer as Answer);
        else reject(new Error(`${this.#name}: ${answer.error}`));
      });
      thread.postMessage({ ...message, id }, transfer);
    });
  }

  #worker(): Worker {
    if (this.#thread !== undefined) return this.#thread;
    const thread = new Worker(this.#script);
    const failAll = (why: string): void => {
      if (this.#thread !== thread) return;
      this.#thread = undefined;
      const pending = [...this.#pending];
      this.#pending.clear();
      for (const [id, settle] of pending) settle({ id, error: why });
    };
    thread.on("message", (answer: Answer) => {
      const settle = this.#pending.get(answer.id);
      this.#pending.delete(answer.id);
      settle?.(answer);
      if (this.#pending.size === 0) thread.unref();
    });
    thread.on("error", (error) => failAll(String(error)));
    thread.on("exit", (code) => failAll(`the thread exited (${code})`));
    thread.unref();
    this.#thread = thread;
    return thread;
  }
}
