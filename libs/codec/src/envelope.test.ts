import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { MAX_MESSAGE_BYTES, decode, encode } from './envelope.js';
import { SynodError } from './errors.js';

const raw = new Packr({ useRecords: false });

describe('envelope codec', () => {
  it('round-trips a message', () => {
    const bytes = encode({ from: 'n1', dc: 'dc-a', kind: 'ping', group: '', body: { nonce: 7 } });
    const r = decode(bytes);
    expect(r).toEqual({ ok: true, envelope: { v: 1, from: 'n1', dc: 'dc-a', kind: 'ping', group: '', body: { nonce: 7 } } });
  });

  it('carries the sender interval when stamped, and reads an unstamped (older) envelope without one', () => {
    const stamped = decode(encode({ from: 'n1', dc: 'dc-a', kind: 'ping', group: '', body: { nonce: 7 }, tt: { earliest: 1_000.4, latest: 2_000.2 } }));
    expect(stamped.ok && stamped.envelope.tt).toEqual({ earliest: 1_000, latest: 2_001 });
    const old = decode(raw.pack([1, 'n1', 'dc-a', 'ping', '', { nonce: 7 }]));
    expect(old.ok && 'tt' in old.envelope).toBe(false);
  });

  it.each([
    ['not a pair', [5]],
    ['earliest above latest', [6, 5]],
    ['negative', [-1, 5]],
    ['not whole', [1.5, 5]],
    ['past MAX_TIMESTAMP_US', [0, 2 ** 53]],
    ['not numbers', ['1', '2']],
  ])('drops an envelope whose sender interval is %s', (_what, tt) => {
    const r = decode(raw.pack([1, 'n1', 'dc-a', 'ping', '', { nonce: 1 }, tt]));
    expect(r).toMatchObject({ ok: false, reason: 'bad_envelope', detail: 'bad sender interval' });
  });

  it('fills schema defaults for chaos state', () => {
    const bytes = encode({ from: 'ctl', dc: 'dc-a', kind: 'chaos.state', group: '', body: { version: 3, links: [{ from: 'dc-a', to: 'dc-b' }], isolated: [] } as never });
    const r = decode(bytes);
    expect(r.ok && r.envelope.body).toEqual({ version: 3, links: [{ from: 'dc-a', to: 'dc-b', down: false, latencyMs: 0, jitterMs: 0, loss: 0 }], isolated: [] });
  });

  it.each([
    ['malformed', new Uint8Array([0x96, 0x01])],
    ['bad_envelope', raw.pack({ not: 'a tuple' })],
    ['bad_envelope', raw.pack([2, 'n1', 'dc-a', 'ping', '', { nonce: 1 }])],
    ['unknown_kind', raw.pack([1, 'n1', 'dc-a', 'launch.missiles', '', {}])],
    ['unknown_kind', raw.pack([1, 'n1', 'dc-a', '__proto__', '', {}])],
    ['bad_body', raw.pack([1, 'n1', 'dc-a', 'ping', '', { nonce: 'seven' }])],
    ['bad_body', raw.pack([1, 'n1', 'dc-a', 'chaos.state', '', { version: -1, links: [], isolated: [] }])],
    ['too_large', new Uint8Array(MAX_MESSAGE_BYTES + 1)],
  ])('drops %s input as a value', (reason, bytes) => {
    const r = decode(bytes);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toBe(reason);
  });

  it('carries stable error codes', () => {
    const e = new SynodError('NOT_LEADER', 'not the leader', { leader: 'n2' });
    const r = decode(encode({ from: 'n1', dc: 'dc-a', kind: 'error', group: 'g1', body: e.toBody() }));
    expect(r.ok && SynodError.fromBody(r.envelope.body as never)).toMatchObject({ code: 'NOT_LEADER', hint: { leader: 'n2' } });
  });
});
