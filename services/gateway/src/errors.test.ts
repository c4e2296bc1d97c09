import { ERROR_CODES, SynodError } from '@synod/codec';
import { describe, expect, it } from 'vitest';
import { GatewayError, HTTP_STATUS, toErrorReply } from './errors.js';

describe('error replies', () => {
  it('maps every cluster code to a status (so a new code cannot go unmapped)', () => {
    for (const code of ERROR_CODES) expect(HTTP_STATUS[code], code).toBeGreaterThanOrEqual(400);
  });

  it('keeps the code, message and hint of a cluster error; retryable ones carry Retry-After', () => {
    expect(toErrorReply(new SynodError('TXN_ABORTED', 'wounded'), 10)).toEqual({ status: 409, body: { code: 'TXN_ABORTED', message: 'wounded' }, headers: {} });
    expect(toErrorReply(new SynodError('NOT_LEADER', 'ask n2', { leader: 'n2' }), 10)).toEqual({
      status: 503,
      body: { code: 'NOT_LEADER', message: 'ask n2', hint: { leader: 'n2' } },
      headers: { 'retry-after': '1' },
    });
    expect(toErrorReply(new SynodError('VALUE_TOO_LARGE', 'big', { limit: 1, actual: 2 }), 10).status).toBe(413);
    expect(toErrorReply(new GatewayError('RATE_LIMITED', 'slow down', undefined, 3), 10).headers).toEqual({ 'retry-after': '3' });
  });

  it('maps the framework\'s body errors and hides nothing else behind a 4xx', () => {
    expect(toErrorReply({ code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413, message: 'x' }, 1234)).toMatchObject({ status: 413, body: { code: 'BODY_TOO_LARGE', hint: { limit: 1234 } } });
    expect(toErrorReply({ code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE', statusCode: 415, message: 'nope' }, 1)).toMatchObject({ status: 415, body: { code: 'INVALID_ARGUMENT' } });
    expect(toErrorReply(new TypeError('boom'), 1)).toEqual({ status: 500, body: { code: 'INTERNAL', message: 'boom' }, headers: {} });
  });
});
