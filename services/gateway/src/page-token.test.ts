import { SynodError } from '@synod/codec';
import { describe, expect, it } from 'vitest';
import { decodePageToken, encodePageToken } from './page-token.js';

const token = { v: 1 as const, ts: 1_700_000_000_000_000, from: 'k\u0000', start: 'a', end: 'z' };

describe('page tokens', () => {
  it('round-trip as opaque base64url', () => {
    const s = encodePageToken(token);
    expect(s).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodePageToken(s)).toEqual(token);
  });

  const bad: Array<[string, string]> = [
    ['not base64url', 'a+b/c='],
    ['not JSON', Buffer.from('{"v":1,').toString('base64url')],
    ['a JSON array', Buffer.from('[]').toString('base64url')],
    ['another version', encodePageToken({ ...token, v: 2 } as never)],
    ['a ts of 0', encodePageToken({ ...token, ts: 0 })],
    ['a fractional ts', encodePageToken({ ...token, ts: 1.5 })],
    ['a ts past 2^52', encodePageToken({ ...token, ts: 2 ** 53 })],
    ['an extra field', Buffer.from(JSON.stringify({ ...token, limit: 5 })).toString('base64url')],
    ['a resume key before the start', encodePageToken({ ...token, from: '0' })],
    ['a resume key at the end', encodePageToken({ ...token, from: 'z' })],
  ];
  for (const [name, s] of bad)
    it(`refuses ${name} as INVALID_ARGUMENT`, () => {
      let err: unknown;
      try {
        decodePageToken(s);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(SynodError);
      expect((err as SynodError).code).toBe('INVALID_ARGUMENT');
      expect((err as SynodError).message).toMatch(/^bad pageToken/);
    });
});
