import { sizeBound } from '@synod/limits';
import type { AcceptedEntry, Command, SlotValue } from './value.js';

/**
 * How many of `items`, starting at `from`, fit in one message: at most `maxCount` items and
 * `maxBytes` of their sizes together, but always at least one (every single item is bounded
 * below the budget where it enters: maxCommandBytes at propose, entries by flushQueue).
 * Returns the exclusive end index.
 */
export function fitInBudget<T>(items: readonly T[], from: number, sizeOf: (item: T) => number, maxCount: number, maxBytes: number): number {
  let end = from;
  let bytes = 0;
  while (end < items.length && end - from < maxCount) {
    const n = sizeOf(items[end]!);
    if (end > from && bytes + n > maxBytes) break;
    bytes += n;
    end++;
  }
  return end;
}

/** Splits `items` into consecutive message-sized chunks (see fitInBudget). */
export function chunkByBudget<T>(items: readonly T[], sizeOf: (item: T) => number, maxCount: number, maxBytes: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; ) {
    const end = fitInBudget(items, i, sizeOf, maxCount, maxBytes);
    out.push(items.slice(i, end));
    i = end;
  }
  return out;
}

/** Message-budget sizes: the encoded-size bound of the item as it travels. */
export const slotValueBytes = (e: SlotValue): number => sizeBound(e);
export const acceptedEntryBytes = (e: AcceptedEntry): number => sizeBound(e);
export const commandBytes = (c: Command): number => sizeBound(c);
