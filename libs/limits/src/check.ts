import { MAX_KEY_BYTES, MAX_TXN_BYTES, MAX_TXN_READS, MAX_TXN_WRITES, MAX_VALUE_BYTES } from './limits.js';
import { sizeBound, utf8Bytes } from './size.js';

/**
 * The stable error codes of a request over the documented maxima (docs/limits.md), or with a key
 * that cannot be stored as given (INVALID_ARGUMENT).
 */
export type LimitCode = 'KEY_TOO_LARGE' | 'VALUE_TOO_LARGE' | 'TXN_TOO_LARGE' | 'INVALID_ARGUMENT';

export interface LimitViolation {
  code: LimitCode;
  message: string;
  hint: Record<string, number>;
}

/** A UTF-16 surrogate not paired (in `u` mode a valid pair is one code point and does not match). */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

export interface WriteLike {
  key: string;
  value?: unknown;
  deleted?: boolean;
}

function violation(code: LimitCode, message: string, limit: number, actual: number): LimitViolation {
  return { code, message, hint: { limit, actual } };
}

/**
 * A key over MAX_KEY_BYTES, or one with a lone surrogate: it has no UTF-8 form, so the wire would
 * carry U+FFFD instead and the key written could never be read back. Null when the key is fine.
 */
export function checkKey(key: string): LimitViolation | null {
  const bad = LONE_SURROGATE.exec(key);
  if (bad) return { code: 'INVALID_ARGUMENT', message: `key has a lone surrogate at UTF-16 index ${bad.index} (not well-formed Unicode): it could not be read back`, hint: { at: bad.index } };
  const n = utf8Bytes(key);
  return n > MAX_KEY_BYTES ? violation('KEY_TOO_LARGE', `key of ${n} bytes exceeds the maximum of ${MAX_KEY_BYTES}`, MAX_KEY_BYTES, n) : null;
}

/**
 * Checks one transaction's reads and writes against the maxima; the client calls it before
 * sending and the server again on receipt (a client is not trusted to have done so).
 */
export function checkTxn(readKeys: readonly string[], writes: readonly WriteLike[]): LimitViolation | null {
  if (readKeys.length > MAX_TXN_READS) return violation('TXN_TOO_LARGE', `${readKeys.length} keys read exceed the maximum of ${MAX_TXN_READS}`, MAX_TXN_READS, readKeys.length);
  if (writes.length > MAX_TXN_WRITES) return violation('TXN_TOO_LARGE', `${writes.length} writes exceed the maximum of ${MAX_TXN_WRITES}`, MAX_TXN_WRITES, writes.length);
  for (const k of readKeys) {
    const v = checkKey(k);
    if (v) return v;
  }
  let total = 0;
  for (const w of writes) {
    const k = checkKey(w.key);
    if (k) return k;
    const size = w.deleted ? 0 : sizeBound(w.value);
    if (size > MAX_VALUE_BYTES)
      return violation('VALUE_TOO_LARGE', `value of key ${JSON.stringify(w.key.slice(0, 64))} is ${size} bytes encoded, over the maximum of ${MAX_VALUE_BYTES}`, MAX_VALUE_BYTES, size);
    total += utf8Bytes(w.key) + size;
  }
  if (total > MAX_TXN_BYTES) return violation('TXN_TOO_LARGE', `transaction writes ${total} bytes, over the maximum of ${MAX_TXN_BYTES}`, MAX_TXN_BYTES, total);
  return null;
}
