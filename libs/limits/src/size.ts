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
  switch (typeof x) {
    case 'string':
      return 5 + Buffer.byteLength(x, 'utf8');
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
  else if (Array.isArray(x)) for (const item of x) n += sizeBound(item);
  else if (x instanceof Map) for (const [k, v] of x) n += sizeBound(k) + sizeBound(v);
  else if (x instanceof Set) for (const v of x) n += sizeBound(v);
  else for (const k in x) if (Object.prototype.hasOwnProperty.call(x, k)) n += sizeBound(k) + sizeBound((x as Record<string, unknown>)[k]);
  cache.set(x, n);
  return n;
}

/** UTF-8 length of a string: what MAX_KEY_BYTES measures. */
export function utf8Bytes(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}
