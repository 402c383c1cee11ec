/**
 * @module A body parser for routes that take JSON whatever the content type says (curl -d sends a form type): the
 * body must be UTF-8 — bytes that are not are refused rather than replaced — and non-empty JSON. Installed per
 * fastify scope (content-type parsers are per scope); errors are BAD_REQUEST naming what was being parsed.
 */
import type { FastifyInstance } from "fastify";
import { ShoalError } from "../lib/errors.js";

/** Makes every body of `app`'s scope parse as JSON; `what` names it in errors ("txn": "Cannot parse txn: …"). */
export function parseBodiesAsJson(app: FastifyInstance, what: string): void {
  const parseJson = app.getDefaultJsonParser("error", "error");
  const utf8 = new TextDecoder("utf-8", { fatal: true });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer" }, (request, body, done) => {
    let text: string;
    try {
      text = utf8.decode(body as Buffer);
    } catch {
      done(new ShoalError("BAD_REQUEST", `Cannot parse ${what}: the body is not valid UTF-8`), undefined);
      return;
    }
    if (text.trim() === "") {
      done(new ShoalError("BAD_REQUEST", `Cannot parse ${what}: the body is empty`), undefined);
      return;
    }
    parseJson(request, text, (error, parsed) => {
      // (fastify's own message blames the content type, which may not even be JSON's.)
      if (error) done(new ShoalError("BAD_REQUEST", `Cannot parse ${what}: the body is not valid JSON`), undefined);
      else done(null, parsed);
    });
  });
}
