/**
 * The workloads of `synod bench --scenario`, native counterparts of the k6 scripts in
 * loadtest/k6/ (docs/k6.md): the same mixes and invariants through the TypeScript client, for
 * loads one JavaScript runner over HTTP cannot make.
 */
import type { SynodClient } from '@synod/client';
import { SynodError } from '@synod/codec';

export const SCENARIOS = ['write', 'kv', 'bank', 'hot', 'read-mostly'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface Scenario {
  /** What one `op` is, for the progress line ("writes", "ops"). */
  unit: string;
  /** Loads the keys the scenario works on. */
  setup(): Promise<void>;
  /** One operation of worker `worker`; throws what failed. */
  op(worker: number): Promise<void>;
  /** Runs beside the workers until `until` (the bank's auditor); resolves when done. */
  background?(until: () => boolean): Promise<void>;
  /** The invariant after the run: a line for the summary; throws INTERNAL when it is broken. */
  verify(): Promise<string>;
}

export interface ScenarioOptions {
  prefix: string;
  keys: number;
  value: string;
  staleMs: number;
  /** A random key of the write scenario's wide range. */
  drawKey: () => string;
}

const pad = (i: number) => String(i).padStart(6, '0');
const pick = (n: number) => Math.floor(Math.random() * n);
/** Preloaded keys: bounded, so setup stays one batch of transactions. */
const MAX_PRELOAD = 1_000;
const ACCOUNTS = 20;
const INITIAL = 1_000;

async function preload(client: SynodClient, keys: string[], value: (i: number) => unknown): Promise<void> {
  for (let i = 0; i < keys.length; i += 100) {
    const chunk = keys.slice(i, i + 100);
    await client.transaction(async (tx) => {
      for (const [j, k] of chunk.entries()) tx.put(k, value(i + j));
    });
  }
}

export function scenario(name: ScenarioName, client: SynodClient, o: ScenarioOptions): Scenario {
  const run = Math.random().toString(36).slice(2, 8);
  const base = `${o.prefix}bench-${name}/${run}/`;
  switch (name) {
    case 'write':
      return { unit: 'writes', setup: async () => undefined, op: async () => void (await client.put(o.drawKey(), o.value)), verify: async () => 'no invariant (blind writes)' };
    case 'kv': {
      const keys = Array.from({ length: Math.min(o.keys, MAX_PRELOAD) }, (_, i) => `${base}${pad(i)}`);
      const any = () => keys[pick(keys.length)]!;
      return {
        unit: 'ops',
        setup: () => preload(client, keys, () => o.value),
        async op(worker) {
          const dice = Math.random();
          if (dice < 0.6) {
            const r = await client.read([any()]);
            if (r.values.size !== 1) throw new SynodError('INTERNAL', 'a preloaded key was not found');
          } else if (dice < 0.8) await client.put(any(), o.value);
          else if (dice < 0.9) await client.read(Array.from({ length: 10 }, any));
          else if (dice < 0.95) await client.scan(base, `${base}\uffff`, { limit: 20 });
          else {
            const scratch = `${base}scratch/${worker}`;
            await client.put(scratch, 'x');
            await client.transaction(async (tx) => tx.delete(scratch));
          }
        },
        verify: async () => `${keys.length} keys preloaded, every read found its key`,
      };
    }
    case 'bank': {
      const accounts = Array.from({ length: ACCOUNTS }, (_, i) => `${base}acct/${pad(i)}`);
      const total = ACCOUNTS * INITIAL;
      let audits = 0;
      let bad = 0;
      let unanswered = 0;
      const audit = async () => {
        const r = await client.read(accounts);
        const sum = accounts.reduce((s, a) => s + Number(r.values.get(a) ?? 0), 0);
        audits++;
        if (sum !== total) bad++;
      };
      return {
        unit: 'transfers',
        setup: () => preload(client, accounts, () => INITIAL),
        async op() {
          const from = pick(ACCOUNTS);
          const to = (from + 1 + pick(ACCOUNTS - 1)) % ACCOUNTS;
          const amount = 1 + pick(10);
          await client.transaction(async (tx) => {
            const [a, b] = [Number(await tx.get(accounts[from]!)), Number(await tx.get(accounts[to]!))];
            tx.put(accounts[from]!, a - amount);
            tx.put(accounts[to]!, b + amount);
          });
        },
        async background(until) {
          // Bounded by the run's end; an audit without an answer (a timeout) is counted, and the next one runs.
          while (!until()) {
            await audit().catch((err: unknown) => {
              if (!(err instanceof SynodError) || err.code === 'INTERNAL') throw err;
              unanswered++;
            });
            await new Promise((r) => setTimeout(r, 50));
          }
        },
        async verify() {
          await audit();
          if (bad > 0) throw new SynodError('INTERNAL', `bank: ${bad} of ${audits} snapshot audits saw a total other than ${total}`);
          return `bank: ${audits} snapshot audits, every total ${total}${unanswered ? ` (${unanswered} unanswered)` : ''}`;
        },
      };
    }
    case 'hot': {
      const counter = `${base}counter`;
      const tallies = new Map<number, string>();
      return {
        unit: 'increments',
        setup: () => preload(client, [counter], () => 0),
        async op(worker) {
          const tally = tallies.get(worker) ?? `${base}tally/${pad(worker)}`;
          tallies.set(worker, tally);
          await client.transaction(async (tx) => {
            const [c, t] = [Number(await tx.get(counter)), Number((await tx.get(tally)) ?? 0)];
            tx.put(counter, c + 1);
            tx.put(tally, t + 1);
          });
        },
        async verify() {
          const keys = [counter, ...tallies.values()];
          const r = await client.read(keys);
          const sum = [...tallies.values()].reduce((s, k) => s + Number(r.values.get(k) ?? 0), 0);
          const c = Number(r.values.get(counter));
          if (c !== sum) throw new SynodError('INTERNAL', `hot: the counter is ${c} but the tallies add up to ${sum} (a lost or doubled increment)`);
          return `hot: counter ${c} = sum of ${tallies.size} tallies`;
        },
      };
    }
    case 'read-mostly': {
      const keys = Array.from({ length: Math.min(o.keys, MAX_PRELOAD) }, (_, i) => `${base}${pad(i)}`);
      const any = () => keys[pick(keys.length)]!;
      let loadedAt = Infinity;
      return {
        unit: 'ops',
        async setup() {
          await preload(client, keys, () => o.value);
          loadedAt = performance.now();
        },
        async op() {
          if (Math.random() < 0.05) return void (await client.put(any(), o.value));
          const want = Array.from({ length: 1 + pick(5) }, any);
          const r = await client.read(want, { maxStalenessMs: o.staleMs });
          // A read may be as old as the bound: only once the preload is older than that must it see every key.
          if (performance.now() - loadedAt > o.staleMs + 1_000 && r.values.size !== new Set(want).size)
            throw new SynodError('INTERNAL', 'a preloaded key was not found by a bounded-staleness read');
        },
        verify: async () => `read-mostly: 95% bounded-staleness reads (≤ ${o.staleMs} ms), every key found`,
      };
    }
  }
}
