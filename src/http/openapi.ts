/**
 * @module The OpenAPI 3 document served at `/v1/openapi.json`, generated from the routes themselves: their
 * fastify schemas (path, query, headers, body — the very schemas requests are validated against) and the
 * `doc` each route declares in its config (summary, request body type, responses). A route cannot drift from
 * its documentation without a test noticing.
 */
import type { RouteOptions } from "fastify";

export interface RouteDoc {
  readonly summary: string;
  readonly description?: string;
  readonly requestBody?: { readonly content: Record<string, unknown> };
  readonly responses: Record<string, { readonly description: string; readonly content?: Record<string, unknown> }>;
}

interface RouteSchema {
  readonly params?: JsonObjectSchema;
  readonly querystring?: JsonObjectSchema;
  readonly headers?: JsonObjectSchema;
}

interface JsonObjectSchema {
  readonly properties?: Record<string, Record<string, unknown>>;
  readonly required?: readonly string[];
}

interface Operation {
  readonly method: string;
  readonly path: string;
  readonly command: string;
  readonly schema: RouteSchema;
  readonly doc: RouteDoc;
}

/** Collects routes as they are registered (an `onRoute` hook) and renders the document. */
export class OpenApiBuilder {
  readonly #operations: Operation[] = [];

  /** For `app.addHook("onRoute", ...)`: keeps routes that declare a `doc`. */
  onRoute(route: RouteOptions): void {
    const config = route.config as { command?: string; doc?: RouteDoc } | undefined;
    if (config?.doc === undefined) return;
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) {
      if (method === "HEAD") continue;
      this.#operations.push({
        method: method.toLowerCase(),
        path: route.url.replace(/\*$/, "{key}"),
        command: config.command ?? `${method} ${route.url}`,
        schema: (route.schema ?? {}) as RouteSchema,
        doc: config.doc,
      });
    }
  }

  document(): Record<string, unknown> {
    const paths: Record<string, Record<string, unknown>> = {};
    for (const operation of this.#operations) {
      paths[operation.path] ??= {};
      (paths[operation.path] as Record<string, unknown>)[operation.method] = renderOperation(operation);
    }
    return {
      openapi: "3.0.3",
      info: {
        title: "Shoal HTTP API",
        version: "1",
        description:
          "A Raft-replicated key-value store. Any node answers any request: writes are forwarded to the leader, " +
          "reads are linearizable unless asked otherwise. Errors are JSON {code, message} with a stable code.",
      },
      paths,
    };
  }
}

function renderOperation({ command, schema, doc }: Operation): Record<string, unknown> {
  const parameters = [
    ...parametersOf(schema.params, "path"),
    ...parametersOf(schema.querystring, "query"),
    ...parametersOf(schema.headers, "header"),
  ];
  return {
    operationId: command,
    summary: doc.summary,
    ...(doc.description === undefined ? {} : { description: doc.description }),
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(doc.requestBody === undefined ? {} : { requestBody: { required: true, ...doc.requestBody } }),
    responses: doc.responses,
  };
}

function parametersOf(
  schema: JsonObjectSchema | undefined,
  where: "path" | "query" | "header",
): Record<string, unknown>[] {
  if (schema?.properties === undefined) return [];
  return Object.entries(schema.properties).map(([name, property]) => {
    const { description, ...rest } = property;
    return {
      name: where === "path" && name === "*" ? "key" : name,
      in: where,
      required: where === "path" || (schema.required ?? []).includes(name),
      ...(description === undefined ? {} : { description }),
      schema: rest,
    };
  });
}
