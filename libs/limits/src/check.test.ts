import { describe, expect, it } from 'vitest';
import { checkKey, checkTxn } from './check.js';
import { MAX_KEY_BYTES, MAX_TXN_BYTES, MAX_VALUE_BYTES } from './limits.js';

describe('checkTxn', () => {
  it('accepts a 1 MiB value (the documented maximum minus its framing)', () => {
    expect(checkTxn([], [{ key: 'k', value: 'v'.repeat(MAX_VALUE_BYTES - 5) }])).toBeNull();
  });
  it('refuses a value one byte over with VALUE_TOO_LARGE', () => {
    expect(checkTxn([], [{ key: 'k', value: 'v'.repeat(MAX_VALUE_BYTES - 4) }])?.code).toBe('VALUE_TOO_LARGE');
  });
  it('measures keys in UTF-8 bytes, not characters', () => {
    expect(checkTxn(['é'.repeat(MAX_KEY_BYTES / 2)], [])).toBeNull();
    expect(checkTxn(['é'.repeat(MAX_KEY_BYTES / 2 + 1)], [])?.code).toBe('KEY_TOO_LARGE');
  });
  it('refuses a transaction whose values together exceed MAX_TXN_BYTES', () => {
    const big = 'v'.repeat(MAX_VALUE_BYTES - 5);
    const writes = Array.from({ length: Math.ceil(MAX_TXN_BYTES / MAX_VALUE_BYTES) + 1 }, (_, i) => ({ key: `k${i}`, value: big }));
    expect(checkTxn([], writes)?.code).toBe('TXN_TOO_LARGE');
  });
  it('does not count the value of a delete', () => {
    expect(checkTxn([], [{ key: 'k', value: 'v'.repeat(MAX_VALUE_BYTES * 2), deleted: true }])).toBeNull();
  });
});

describe('keys that cannot be stored as given', () => {
  it('refuses a lone surrogate (no UTF-8 form: the key would come back as U+FFFD) and accepts a valid pair', () => {
    expect(checkKey('a\uD800b')).toMatchObject({ code: 'INVALID_ARGUMENT', hint: { at: 1 } });
    expect(checkKey('\uDC00')).toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(checkKey('emoji \uD83D\uDE00')).toBeNull();
    expect(checkTxn([], [{ key: 'x\uDBFF', value: 1 }])).toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
