// The runner's `k6` module: check, group, sleep, fail (test harness, see docs/k6.md).
import { blockFor, emit, vu } from './context.mjs';

/**
 * @param {unknown} val
 * @param {Record<string, (v: any) => unknown>} sets
 * @param {Record<string, string>} [tags]
 */
export function check(val, sets, tags) {
  let all = true;
  for (const [name, fn] of Object.entries(sets)) {
    const ok = typeof fn === 'function' ? Boolean(fn(val)) : Boolean(fn);
    all &&= ok;
    emit('checks', 'rate', false, ok ? 1 : 0, { ...tags, check: name, group: vu.group });
  }
  return all;
}

/** @template T @param {string} name @param {() => T} fn */
export function group(name, fn) {
  const outer = vu.group;
  vu.group = `${outer}::${name}`;
  const start = Date.now();
  try {
    return fn();
  } finally {
    emit('group_duration', 'trend', true, Date.now() - start, { group: vu.group });
    vu.group = outer;
  }
}

/** @param {number} seconds */
export function sleep(seconds) {
  blockFor(seconds * 1000);
}

/** @param {string} [message] */
export function fail(message) {
  throw new Error(message ?? 'fail() called');
}

export default { check, group, sleep, fail };
