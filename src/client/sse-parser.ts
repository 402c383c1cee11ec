/**
 * @module A Server-Sent Events parser (the WHATWG "event stream" interpretation), pure and incremental: feed it
 * decoded text as it arrives, get back the messages completed by that text.
 */

export interface SseMessage {
  /** The `event:` field; "message" when the server sent none. */
  readonly event: string;
  /** The `data:` lines joined by "\n". */
  readonly data: string;
  /** The last `id:` seen on the stream so far (sticky across messages, as the spec says). */
  readonly id: string;
}

/** A line longer than this without a newline is a broken or hostile stream, not an event. */
const LINE_CHARS_MAX = 16 * 1024 * 1024;

export class SseParser {
  #buffer = "";
  #event = "";
  #data: string[] = [];
  #lastId = "";
  /** Invariant: a "\r" ending the previous chunk was a line end; a "\n" opening this one belongs to it. */
  #skipLeadingNewline = false;

  /** Feeds the next piece of text; returns the messages it completed, in order. */
  push(text: string): SseMessage[] {
    if (text.length === 0) return [];
    if (this.#skipLeadingNewline && text.startsWith("\n")) text = text.slice(1);
    this.#skipLeadingNewline = false;
    this.#buffer += text;
    const messages: SseMessage[] = [];
    let start = 0;
    for (;;) {
      const end = nextLineEnd(this.#buffer, start);
      if (end === -1) break;
      const message = this.#line(this.#buffer.slice(start, end));
      if (message !== undefined) messages.push(message);
      const crlf = this.#buffer[end] === "\r" && this.#buffer[end + 1] === "\n";
      if (this.#buffer[end] === "\r" && end + 1 === this.#buffer.length) this.#skipLeadingNewline = true;
      start = end + (crlf ? 2 : 1);
    }
    this.#buffer = this.#buffer.slice(start);
    if (this.#buffer.length > LINE_CHARS_MAX)
      throw new RangeError(`Cannot parse event stream: a line exceeds ${LINE_CHARS_MAX} characters`);
    return messages;
  }

  #line(line: string): SseMessage | undefined {
    if (line === "") return this.#dispatch();
    if (line.startsWith(":")) return undefined; // a comment (servers send them as heartbeats)
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.#data.push(value);
    else if (field === "event") this.#event = value;
    else if (field === "id" && !value.includes("\0")) this.#lastId = value;
    return undefined;
  }

  #dispatch(): SseMessage | undefined {
    const event = this.#event || "message";
    const data = this.#data;
    this.#event = "";
    this.#data = [];
    if (data.length === 0) return undefined;
    return { event, data: data.join("\n"), id: this.#lastId };
  }
}

function nextLineEnd(text: string, from: number): number {
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10 || c === 13) return i;
  }
  return -1;
}
