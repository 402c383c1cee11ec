/**
 * @module The sequential specification of one register (one key): read, write, compare-and-swap, and Redis INCR
 * (the value as a decimal integer, absent counting as 0; INCR answers the new value).
 *
 * States: a string value, `null` for an absent key, or `undefined` for "unknown" — the initial state of a
 * window cut out of the middle of a history (see register-checker.ts). From "unknown", a read learns the value,
 * a write or a successful CAS sets it, and a failed CAS keeps it unknown (it only says the value was not the
 * expected one): every step from "unknown" over-approximates the concrete states, so a window that fails from
 * "unknown" fails from any concrete state.
 */
import type { Model } from "./linearizability.js";

/** A register's value; `null` when the key is absent, `undefined` when unknown (windows only). */
export type RegisterState = string | null | undefined;

export type RegisterInput =
  | { readonly f: "read" }
  | { readonly f: "write"; readonly value: string }
  | { readonly f: "cas"; readonly expected: string; readonly value: string }
  | { readonly f: "incr" };

export type RegisterOutput =
  | { readonly f: "read"; readonly value: string | null }
  | { readonly f: "write" }
  | { readonly f: "cas"; readonly ok: boolean }
  | { readonly f: "incr"; readonly value: string };

/** The register starting absent (a fresh key), or in the unknown state (a window cut from a history). */
export function registerModel(
  initial: "absent" | "unknown" = "absent",
): Model<RegisterState, RegisterInput, RegisterOutput> {
  return { init: initial === "absent" ? null : undefined, step: stepRegister, stateKey: registerStateKey };
}

export function stepRegister(
  state: RegisterState,
  input: RegisterInput,
  output: RegisterOutput | undefined,
): readonly RegisterState[] {
  switch (input.f) {
    case "read": {
      if (output === undefined) return [state]; // an unknown read has no effect and tells nothing
      const value = (output as { value: string | null }).value;
      if (state === undefined) return [value];
      return state === value ? [state] : [];
    }
    case "write":
      return [input.value];
    case "cas": {
      if (output === undefined) {
        // Took effect (so it succeeded) or observed another value; from "unknown" both are possible.
        if (state === undefined) return [input.value, undefined];
        return [state === input.expected ? input.value : state];
      }
      const ok = (output as { ok: boolean }).ok;
      if (ok) return state === undefined || state === input.expected ? [input.value] : [];
      if (state === undefined) return [undefined];
      return state !== input.expected ? [state] : [];
    }
    case "incr": {
      const answered = output === undefined ? undefined : (output as { value: string }).value;
      if (state === undefined) return [answered];
      const current = state === null ? 0n : integerOf(state);
      // INCR on a value that is not an integer answers an error and changes nothing.
      if (current === undefined) return answered === undefined ? [state] : [];
      const next = String(current + 1n);
      return answered === undefined || answered === next ? [next] : [];
    }
  }
}

function integerOf(value: string): bigint | undefined {
  return /^-?\d+$/.test(value) ? BigInt(value) : undefined;
}

function registerStateKey(state: RegisterState): string {
  if (state === undefined) return "?";
  if (state === null) return "-";
  return `=${state}`;
}
