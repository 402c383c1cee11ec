/**
 * @module Redis's glob-style pattern matching (`stringmatchlen` in util.c), byte for byte: `*`, `?`, `[abc]`,
 * `[^a-z]`, and `\` escapes. Used by KEYS, SCAN MATCH, HSCAN MATCH, PSUBSCRIBE and PUBSUB CHANNELS.
 * Written out rather than translated to a RegExp so bytes (not UTF-16) are matched and nothing is compiled per
 * call; like Redis, a run of `*` is skipped and the recursion depth is bounded so a hostile pattern cannot
 * blow the stack.
 */

const NESTING_MAX = 1000;

export function globMatch(pattern: Uint8Array, subject: Uint8Array, noCase = false): boolean {
  // Redis skips trailing `*`s only after consuming a byte, so an empty subject matches only the empty pattern
  // ("*" and "**" do not match ""; KEYS and SCAN special-case a lone "*" before matching, as Redis does).
  if (subject.length === 0) return pattern.length === 0;
  const skipLongerMatches = { value: false };
  return match(pattern, 0, subject, 0, noCase, skipLongerMatches, 0);
}

function lower(byte: number): number {
  return byte >= 0x41 && byte <= 0x5a ? byte + 32 : byte;
}

function match(
  p: Uint8Array,
  pi: number,
  s: Uint8Array,
  si: number,
  noCase: boolean,
  skipLongerMatches: { value: boolean },
  nesting: number,
): boolean {
  if (nesting > NESTING_MAX) return false;
  const eq = (a: number, b: number): boolean => (noCase ? lower(a) === lower(b) : a === b);
  while (pi < p.length && si < s.length) {
    const c = p[pi] as number;
    if (c === 0x2a /* * */) {
      while (pi + 1 < p.length && p[pi + 1] === 0x2a) pi++;
      if (pi + 1 === p.length) return true;
      for (let at = si; at < s.length; at++) {
        if (match(p, pi + 1, s, at, noCase, skipLongerMatches, nesting + 1)) return true;
        if (skipLongerMatches.value) return false;
      }
      // Redis: once a `*` has failed against every suffix, longer subjects cannot match either.
      skipLongerMatches.value = true;
      return false;
    }
    if (c === 0x3f /* ? */) {
      si++;
      pi++;
      continue;
    }
    if (c === 0x5b /* [ */) {
      pi++;
      const not = p[pi] === 0x5e; /* ^ */
      if (not) pi++;
      let matched = false;
      for (;;) {
        if (pi >= p.length) {
          pi--; // Redis: an unterminated class ends at the pattern's last byte
          break;
        }
        const pc = p[pi] as number;
        if (pc === 0x5c /* \ */ && pi + 2 < p.length + 1 && pi + 1 < p.length) {
          pi++;
          if (eq(p[pi] as number, s[si] as number)) matched = true;
        } else if (pc === 0x5d /* ] */) {
          break;
        } else if (pi + 2 < p.length && p[pi + 1] === 0x2d /* - */) {
          let start = pc;
          let end = p[pi + 2] as number;
          let ch = s[si] as number;
          if (start > end) [start, end] = [end, start];
          if (noCase) {
            start = lower(start);
            end = lower(end);
            ch = lower(ch);
          }
          pi += 2;
          if (ch >= start && ch <= end) matched = true;
        } else if (eq(pc, s[si] as number)) {
          matched = true;
        }
        pi++;
      }
      if (not) matched = !matched;
      if (!matched) return false;
      si++;
      pi++;
      continue;
    }
    if (c === 0x5c /* \ */ && pi + 1 < p.length) pi++;
    if (!eq(p[pi] as number, s[si] as number)) return false;
    si++;
    pi++;
  }
  if (si === s.length) {
    while (pi < p.length && p[pi] === 0x2a) pi++;
  }
  return pi === p.length && si === s.length;
}
