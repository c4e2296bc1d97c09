import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { SynodError } from '@synod/codec';

/** Shorter tokens are refused at startup: a bearer token is a password. */
export const MIN_TOKEN_CHARS = 16;
const MAX_TOKENS = 1_000;

/**
 * Reads a token file: one bearer token per line; blank lines and lines starting with # are
 * skipped (docs/gateway.md, "Authentication").
 */
export function loadTokens(file: string): Tokens {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new SynodError('INVALID_ARGUMENT', `cannot read token file ${file}: ${(err as Error).message}`);
  }
  const tokens = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  if (tokens.length === 0) throw new SynodError('INVALID_ARGUMENT', `token file ${file} has no tokens`);
  if (tokens.length > MAX_TOKENS) throw new SynodError('INVALID_ARGUMENT', `token file ${file} has ${tokens.length} tokens, over the maximum of ${MAX_TOKENS}`);
  const short = tokens.findIndex((t) => t.length < MIN_TOKEN_CHARS || /\s/.test(t));
  if (short >= 0) throw new SynodError('INVALID_ARGUMENT', `token file ${file}: token ${short + 1} is shorter than ${MIN_TOKEN_CHARS} characters or contains spaces`);
  return new Tokens(tokens);
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** The accepted tokens, compared in constant time (by digest, so lengths do not leak either). */
export class Tokens {
  private readonly digests: Buffer[];

  constructor(tokens: readonly string[]) {
    this.digests = tokens.map(digest);
  }

  /** The index of the token an `Authorization` header carries, or -1. */
  match(header: string | undefined): number {
    const m = /^Bearer ([^\s]{1,4096})$/i.exec(header ?? '');
    if (!m) return -1;
    const d = digest(m[1]!);
    let found = -1;
    // Compare against every token, so the time does not tell which one matched.
    this.digests.forEach((t, i) => {
      if (timingSafeEqual(t, d) && found < 0) found = i;
    });
    return found;
  }
}
