import { z } from 'zod';

/** Client-facing error codes (DESIGN §3.5). Stable: clients switch on them. */
export const ERROR_CODES = [
  'NOT_LEADER',
  'KEY_OUT_OF_RANGE',
  'TXN_ABORTED',
  'SNAPSHOT_TOO_OLD',
  'UNAVAILABLE',
  'INVALID_ARGUMENT',
  'TIMEOUT',
  'INTERNAL',
  /** Over a documented maximum (docs/limits.md); the hint carries `limit` and `actual`. */
  'KEY_TOO_LARGE',
  'VALUE_TOO_LARGE',
  'TXN_TOO_LARGE',
  /**
   * An encoded message over the wire's max payload, refused by the sender's bus before it was
   * published; the hint carries `limit` and `actual` (bytes).
   */
  'MESSAGE_TOO_LARGE',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export const errorBody = z.object({
  code: z.enum(ERROR_CODES),
  message: z.string().max(4096),
  hint: z.record(z.string(), z.union([z.string(), z.number()])).optional(),
});
export type ErrorBody = z.infer<typeof errorBody>;

/** An error with a stable code that crosses process boundaries as an `error` message. */
export class SynodError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly hint?: Record<string, string | number>,
  ) {
    super(message);
    this.name = 'SynodError';
  }

  toBody(): ErrorBody {
    return this.hint ? { code: this.code, message: this.message, hint: this.hint } : { code: this.code, message: this.message };
  }

  static fromBody(b: ErrorBody): SynodError {
    return new SynodError(b.code, b.message, b.hint);
  }
}
