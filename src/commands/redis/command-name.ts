/**
 * @module A command's name as the tables look it up: lower case. Every command resolves its name, and a
 * TextDecoder call per command cost ~8 % of a node serving GETs (issue 14's profile): a short ASCII name — every
 * real command's — is built without one.
 */

const textDecoder = new TextDecoder();
/** Longer than any command name: such a name is decoded the general way (it is unknown anyway). */
const FAST_NAME_BYTES_MAX = 32;

/** `bytes` as text, lower-cased (ASCII letters only, as Redis's case-insensitive lookup). */
export function commandName(bytes: Uint8Array): string {
  if (bytes.length <= FAST_NAME_BYTES_MAX) {
    let name = "";
    for (let i = 0; i < bytes.length; i++) {
      const byte = bytes[i] as number;
      if (byte >= 0x80) return textDecoder.decode(bytes).toLowerCase();
      name += String.fromCharCode(byte >= 0x41 && byte <= 0x5a ? byte + 0x20 : byte);
    }
    return name;
  }
  return textDecoder.decode(bytes).toLowerCase();
}
