/**
 * An upper bound on the MessagePack encoding of a JSON-like value, computed without encoding
 * it. The Paxos core cuts messages by it (it must never underestimate what the wire will
 * carry) and the API limits are stated in it, so "fits" means the same everywhere.
 *
 * Per item: a string is its UTF-8 length plus a 5-byte header; a number or bigint 9 bytes
 * (float64 or int64 with its tag); true, false and null 1; undefined 3 (msgpackr's fixext);
 * a byte array its length plus 5; an array or map 5 plus its items (a map: keys and values);
 * a Date 15 (the timestamp extension). Results for objects are cached: the cores treat the
 * values they are handed as immutable.
 */
const cache = new WeakMap<object, number>();

export function sizeBound(x: unknown): number {
  return measure(x, true);
}

/**
 * Only the outermost object's result is remembered: caching every nested object made each
 * command cost one WeakMap entry per sub-object, and the entries (ephemerons) are what V8's
 * GC pays for most; nested objects are still looked up, since a command sized at propose
 * reappears inside the batch sized later (docs/benchmarks.md, "the stalls that were left").
 */
function measure(x: unknown, remember: boolean): number {
  switch (typeof x) {
    case 'string':
      return 5 + stringBytes(x);
    case 'number':
    case 'bigint':
      return 9;
    case 'boolean':
      return 1;
    case 'undefined':
      return 3;
    case 'object':
      break;
    default:
      // Functions and symbols do not survive encoding; count them as the nil they become.
      return 3;
  }
  if (x === null) return 1;
  const hit = cache.get(x);
  if (hit !== undefined) return hit;
  let n = 5;
  if (x instanceof Uint8Array) n += x.byteLength;
  else if (x instanceof Date) n = 15;
  else if (Array.isArray(x)) for (const item of x) n += measure(item, false);
  else if (x instanceof Map) for (const [k, v] of x) n += measure(k, false) + measure(v, false);
  else if (x instanceof Set) for (const v of x) n += measure(v, false);
  else for (const k in x) if (Object.prototype.hasOwnProperty.call(x, k)) n += 5 + stringBytes(k) + measure((x as Record<string, unknown>)[k], false);
  if (remember) cache.set(x, n);
  return n;
}

/** Strings up to this length are measured in JS: a native call costs more than the loop. */
const SHORT_STRING = 64;

/** Exact UTF-8 length, as Buffer.byteLength gives it (a lone surrogate encodes as 3 bytes). */
function stringBytes(s: string): number {
  if (s.length > SHORT_STRING) return Buffer.byteLength(s, 'utf8');
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      // A surrogate pair: two UTF-16 units, four UTF-8 bytes.
      n += 2;
      i++;
    } else n += 2;
  }
  return n;
}

/** UTF-8 length of a string: what MAX_KEY_BYTES measures. */
export function utf8Bytes(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}
