/**
 * @module A request that fails its JSON schema (schemas.ts) answers one sentence that names the parameter and
 * says what it accepts — "Query parameter 'ttl' must be a positive number of seconds …, not \"-1\"" — never
 * the validator's own text (a regular expression, a schema path). What a parameter accepts comes from its
 * schema's `x-accepts` annotation where one is given (every pattern has one), else from the failed keyword
 * itself (an enum lists its values, a type names its type). Handlers that check more than a schema can say
 * (a range, a revision of at least 1) answer through `invalidParameter`, in the same voice.
 */
import { ShoalError } from "../lib/errors.js";

/** One failure as the validator reports it (ajv with `verbose`: the schema that failed and the data it saw). */
export interface SchemaFailure {
  readonly keyword: string;
  readonly instancePath: string;
  readonly params: Readonly<Record<string, unknown>>;
  readonly parentSchema?: Readonly<Record<string, unknown>>;
  readonly data?: unknown;
}

/** The part of the request a schema validates, as fastify names it. */
export type RequestPart = "querystring" | "headers" | "params" | "body";

/** The annotation a schema carries to say, in words, what it accepts ("a positive number of seconds"). */
export const ACCEPTS = "x-accepts";

const PART_NAMES: Record<RequestPart, string> = {
  querystring: "Query parameter",
  headers: "Header",
  params: "Path parameter",
  body: "Body field",
};

const TYPE_NAMES: Record<string, string> = {
  string: "a string",
  integer: "an integer",
  number: "a number",
  boolean: "true or false",
  array: "an array",
  object: "a JSON object",
  null: "null",
};

const SHOWN_CHARS_MAX = 40;

/** The error for the first failure (validation stops at the first one). */
export function schemaFailureError(failures: readonly SchemaFailure[], part: string): ShoalError {
  const failure = failures[0];
  const where = isRequestPart(part) ? part : "body";
  if (failure === undefined) return new ShoalError("BAD_REQUEST", `The request's ${PART_NAMES[where]}s are invalid`);
  const path = pointerSegments(failure.instancePath);
  switch (failure.keyword) {
    case "additionalProperties": {
      const name = String(failure.params.additionalProperty);
      const allowed = Object.keys((failure.parentSchema?.properties as object | undefined) ?? {});
      const takes =
        allowed.length > 0
          ? `expected ${listOf(allowed)}`
          : where === "body"
            ? "no field is accepted here"
            : `this route takes no ${PART_NAMES[where].toLowerCase()}s`;
      return parameterError(where, [...path, name], `is not accepted: ${takes}`);
    }
    case "required":
      return parameterError(where, [...path, String(failure.params.missingProperty)], "is required");
    default: {
      if (path.length === 0 && where === "body") {
        return new ShoalError("BAD_REQUEST", `The body must be ${accepts(failure)}, not ${shown(failure.data)}`);
      }
      // A repeated query parameter or header arrives as an array where a string is declared.
      if (where !== "body" && Array.isArray(failure.data) && failure.keyword === "type") {
        return parameterError(where, path, "must be given once");
      }
      return parameterError(where, path, `must be ${accepts(failure)}, not ${shown(failure.data)}`);
    }
  }
}

/** The same sentence for a value a handler refuses after the schema accepted it. */
export function invalidParameter(part: RequestPart, name: string, accepted: string, given: unknown): ShoalError {
  return parameterError(part, [name], `must be ${accepted}, not ${shown(given)}`);
}

function parameterError(part: RequestPart, path: readonly string[], predicate: string): ShoalError {
  const name = displayName(part, path);
  return new ShoalError("BAD_REQUEST", `${PART_NAMES[part]} '${name}' ${predicate}`, { parameter: name });
}

/** What the failed schema accepts, in words. */
function accepts(failure: SchemaFailure): string {
  const annotated = failure.parentSchema?.[ACCEPTS];
  if (typeof annotated === "string") return annotated;
  // A value of the wrong type for a field with fixed values: name the values, not just the type.
  const values = failure.parentSchema?.enum;
  if (Array.isArray(values))
    return values.length === 1 ? JSON.stringify(values[0]) : `one of ${listOf(values.map((v) => JSON.stringify(v)))}`;
  const { params } = failure;
  switch (failure.keyword) {
    case "const":
      return JSON.stringify(params.allowedValue);
    case "type":
      return TYPE_NAMES[String(params.type)] ?? `of type ${String(params.type)}`;
    case "minLength":
      return params.limit === 1 ? "a non-empty string" : `at least ${String(params.limit)} characters long`;
    case "maxLength":
      return `at most ${String(params.limit)} characters long`;
    case "minimum":
      return `at least ${String(params.limit)}`;
    case "exclusiveMinimum":
      return `greater than ${String(params.limit)}`;
    case "maximum":
      return `at most ${String(params.limit)}`;
    case "exclusiveMaximum":
      return `less than ${String(params.limit)}`;
    default:
      // A schema without an `x-accepts` for this keyword (a pattern, say): point at the reference, not the regex.
      return "as /v1/openapi.json describes";
  }
}

/** `/success/0/ttl` → ["success", "0", "ttl"] (JSON Pointer, RFC 6901). */
function pointerSegments(pointer: string): string[] {
  if (pointer === "") return [];
  return pointer
    .slice(1)
    .split("/")
    .map((segment) => segment.replaceAll("~1", "/").replaceAll("~0", "~"));
}

/** How a client spells the parameter: `ttl`, `If-Match`, `success[0].ttl`, `key`. */
function displayName(part: RequestPart, path: readonly string[]): string {
  if (part === "headers")
    return (path[0] ?? "").replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase());
  if (part === "params") return path[0] === "*" || path[0] === undefined ? "key" : path[0];
  return path.reduce(
    (name, segment) => (/^\d+$/.test(segment) ? `${name}[${segment}]` : name === "" ? segment : `${name}.${segment}`),
    "",
  );
}

/** The value received, short: `"-1"`, `3`, `an object`. */
function shown(data: unknown): string {
  if (typeof data === "string") {
    const text = data.length > SHOWN_CHARS_MAX ? `${data.slice(0, SHOWN_CHARS_MAX)}…` : data;
    return JSON.stringify(text);
  }
  if (Array.isArray(data)) return "an array";
  if (data === null) return "null";
  if (typeof data === "object") return "an object";
  return data === undefined ? "nothing" : String(data);
}

function listOf(items: readonly string[]): string {
  return items.length <= 1 ? (items[0] ?? "") : `${items.slice(0, -1).join(", ")} or ${items[items.length - 1]}`;
}

function isRequestPart(part: string): part is RequestPart {
  return Object.hasOwn(PART_NAMES, part);
}
