import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AcceptedEntry, Ballot, Snapshot } from '@synod/paxos';

/** A fresh directory under the OS temp dir, and a function that removes it. */
export function tempDir(prefix = 'synod-storage-'): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export function ballot(round: number, node = 'n1'): Ballot {
  return { round, node };
}

export function entry(slot: number, b: Ballot, cmdId = `c${slot}`): AcceptedEntry {
  return { slot, ballot: b, value: { kind: 'batch', cmds: [{ id: cmdId, payload: { slot, bytes: [1, 2, 3] } }] } };
}

/** A snapshot at `upTo` with no dedupe state and no configurations. */
export function snapshot(upTo: number, data: unknown = null): Snapshot {
  return { upTo, data, dedupe: { clients: [], other: [] }, configs: [] };
}
