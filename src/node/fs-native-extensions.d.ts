/** The part of fs-native-extensions (a CommonJS package without typings) that data-dir-lock.ts uses. */
declare module "fs-native-extensions" {
  /** Requests an exclusive (or, with `shared`, a shared) lock on the whole file without waiting: true when
   * granted, false when another open file description holds a conflicting lock. */
  export function tryLock(fd: number, options?: { readonly shared?: boolean }): boolean;
  export function unlock(fd: number): void;
}
