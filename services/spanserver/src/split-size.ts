import type { VersionWrite } from '@synod/storage';
import type { MvccReader } from '@synod/txn';

const LATEST = Number.MAX_SAFE_INTEGER - 1;
/** The most keys read to seed a split's size when it is hosted: past that, the size is counted from there on. */
export const SIZE_SEED_KEYS = 100_000;

const sizeOf = (key: string, value: unknown) => key.length + (value === undefined ? 0 : JSON.stringify(value)?.length ?? 0);

/**
 * The approximate size of a split for placement reports (docs/spanserver.md): its live keys and
 * the bytes of their newest versions (key + JSON length of the value). Seeded by reading at most
 * SIZE_SEED_KEYS keys when the split is hosted, then kept by each applied entry's versions
 * against the newest version visible when the entry applies (a key written twice before the
 * first write is durable is counted twice).
 */
export class SplitSize {
  keys = 0;
  bytes = 0;

  seed(reader: MvccReader, range: { start: string; end: string }): void {
    for (const r of reader.scan(range.start, range.end, LATEST, SIZE_SEED_KEYS)) {
      this.keys++;
      this.bytes += sizeOf(r.key, r.value);
    }
  }

  applied(versions: readonly VersionWrite[], reader: MvccReader): void {
    for (const v of versions) {
      const old = reader.get(v.key, LATEST);
      if (old) {
        this.keys--;
        this.bytes -= sizeOf(v.key, old.value);
      }
      if (!v.deleted) {
        this.keys++;
        this.bytes += sizeOf(v.key, v.value);
      }
    }
    this.keys = Math.max(0, this.keys);
    this.bytes = Math.max(0, this.bytes);
  }
}
