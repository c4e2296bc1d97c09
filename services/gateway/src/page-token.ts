import { SynodError } from '@synod/codec';
import { z } from 'zod';
import { timestamp } from './schemas.js';

/**
 * A scan's page token: opaque to clients, base64url of JSON. It carries the snapshot timestamp
 * (so every page reads the same snapshot), the key to resume from and the range's end, and is
 * validated like any other input when it comes back (docs/gateway.md, "Scans and paging").
 */
const pageTokenSchema = z.strictObject({
  v: z.literal(1),
  ts: timestamp,
  /** Resume here (inclusive): the last returned key followed by "\u0000". */
  from: z.string().min(1),
  start: z.string(),
  end: z.string(),
});
export type PageToken = z.infer<typeof pageTokenSchema>;

export function encodePageToken(t: PageToken): string {
  return Buffer.from(JSON.stringify(t), 'utf8').toString('base64url');
}

const bad = (why: string) => new SynodError('INVALID_ARGUMENT', `bad pageToken: ${why}; pass back the nextPageToken of a previous page unchanged`);

export function decodePageToken(s: string): PageToken {
  if (!/^[A-Za-z0-9_-]+$/.test(s)) throw bad('not base64url');
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
  } catch {
    throw bad('not a token this gateway issued');
  }
  const parsed = pageTokenSchema.safeParse(raw);
  if (!parsed.success) throw bad(parsed.error.issues.map((i) => `${i.path.join('.') || 'token'}: ${i.message}`).join('; '));
  const t = parsed.data;
  if (t.from < t.start || (t.end !== '' && t.from >= t.end)) throw bad('its resume key is outside its range');
  return t;
}
