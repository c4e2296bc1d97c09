import { ERROR_CODES, SynodError } from '@synod/codec';
import { z } from 'zod';

/**
 * Codes only the gateway's own HTTP surface produces (docs/gateway.md, "Errors"); every other
 * error carries one of the cluster's stable codes (libs/codec ERROR_CODES) unchanged.
 */
export const GATEWAY_ONLY_CODES = ['UNAUTHENTICATED', 'NOT_FOUND', 'RATE_LIMITED', 'BODY_TOO_LARGE', 'CONDITION_FAILED'] as const;
export const GATEWAY_ERROR_CODES = [...ERROR_CODES, ...GATEWAY_ONLY_CODES] as const;
export type GatewayErrorCode = (typeof GATEWAY_ERROR_CODES)[number];

export const errorResponse = z
  .strictObject({
    code: z.enum(GATEWAY_ERROR_CODES),
    message: z.string(),
    hint: z.record(z.string(), z.union([z.string(), z.number()])).optional(),
  })
  .describe('Every error: a stable code to switch on, a message for people, and a hint where one helps');
export type ErrorResponse = z.infer<typeof errorResponse>;

/** One status per code (docs/gateway.md, "Errors"). */
export const HTTP_STATUS: Record<GatewayErrorCode, number> = {
  INVALID_ARGUMENT: 400,
  UNAUTHENTICATED: 401,
  NOT_FOUND: 404,
  TXN_ABORTED: 409,
  CONDITION_FAILED: 409,
  SNAPSHOT_TOO_OLD: 410,
  KEY_TOO_LARGE: 413,
  VALUE_TOO_LARGE: 413,
  TXN_TOO_LARGE: 413,
  MESSAGE_TOO_LARGE: 413,
  BODY_TOO_LARGE: 413,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  KEY_OUT_OF_RANGE: 503,
  NOT_LEADER: 503,
  UNAVAILABLE: 503,
  TIMEOUT: 503,
};

/** Codes a client may simply retry: answered with Retry-After (seconds). */
const RETRY_AFTER_S: Partial<Record<GatewayErrorCode, number>> = { NOT_LEADER: 1, UNAVAILABLE: 1, TIMEOUT: 1, KEY_OUT_OF_RANGE: 1 };

/** An error of the gateway's own surface (auth, routing, rate limit, body size, conditions). */
export class GatewayError extends Error {
  constructor(
    readonly code: GatewayErrorCode,
    message: string,
    readonly hint?: Record<string, string | number>,
    readonly retryAfterS?: number,
  ) {
    super(message);
    this.name = 'GatewayError';
  }
}

export interface ErrorReply {
  status: number;
  body: ErrorResponse;
  headers: Record<string, string>;
}

/** Fastify's own errors (parsing, body size) carry a `code` starting FST_ and a 4xx statusCode. */
interface FrameworkError {
  code: string;
  statusCode?: number;
  message: string;
}
const isFrameworkError = (e: unknown): e is FrameworkError =>
  typeof e === 'object' && e !== null && typeof (e as FrameworkError).code === 'string' && (e as FrameworkError).code.startsWith('FST_');

/**
 * Any error thrown while serving a request, as the JSON error reply. Unknown errors become
 * INTERNAL with their message (never a stack), so nothing is swallowed and nothing leaks.
 */
export function toErrorReply(err: unknown, bodyLimit: number): ErrorReply {
  const reply = (code: GatewayErrorCode, message: string, hint?: Record<string, string | number>, retryAfterS?: number): ErrorReply => {
    const retry = retryAfterS ?? RETRY_AFTER_S[code];
    return {
      status: HTTP_STATUS[code],
      body: hint ? { code, message, hint } : { code, message },
      headers: retry !== undefined ? { 'retry-after': String(retry) } : {},
    };
  };
  if (err instanceof GatewayError) return reply(err.code, err.message, err.hint, err.retryAfterS);
  if (err instanceof SynodError) return reply(err.code, err.message, err.hint);
  if (isFrameworkError(err)) {
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return reply('BODY_TOO_LARGE', `request body over the limit of ${bodyLimit} bytes`, { limit: bodyLimit });
    if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) {
      const base = reply('INVALID_ARGUMENT', `${err.message} (${err.code})`);
      // Keep the framework's more precise status (415 unsupported media type) with our code.
      return { ...base, status: err.statusCode === 415 ? 415 : 400 };
    }
  }
  return reply('INTERNAL', err instanceof Error ? err.message : String(err));
}
