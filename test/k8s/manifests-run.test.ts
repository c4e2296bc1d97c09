/**
 * Issue 20 must-show: the rendered kind overlay (k8s/overlays/kind) run as local processes, one
 * network namespace per zone, changing only what rendered-processes.ts REWRITES lists (and failing
 * on anything else it does not understand). The bank workload goes through the gateways of dc-b
 * and dc-c; dc-a is cut off with iptables; the majority keeps committing, dc-a's gateway cannot
 * commit while cut; after the heal every acknowledged transfer is there and the total is conserved.
 *
 * Needs root (network namespaces, iptables) and kubectl (kustomize). Under CI=true it never skips.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { DcNetwork } from '@synod/netns';
import { OVERLAY, prepareCopy, render } from '../../infra/k8s/validate.js';
import { localProcesses, REWRITES, UNPINNED_ZONE } from './rendered-processes.js';
import { nameOf, RenderedCluster } from './launch-rendered.js';

const runRootTests = process.getuid?.() === 0 || process.env.CI === 'true';
if (!runRootTests) console.log('manifests-run: not root and not CI: skipped (network namespaces and iptables need root)');

const DCS = ['dc-a', 'dc-b', 'dc-c'];
const CUT = 'dc-a';
const ACCOUNTS = 10;
const INITIAL = 100;
/** Accounts spread over the three splits (cut at g and p), so every transfer is a cross-split commit. */
const accounts = Array.from({ length: ACCOUNTS }, (_, i) => `${['c', 'k', 't'][i % 3]}/bank/acct-${String(i).padStart(2, '0')}`);
const journalKey = (id: string) => `journal/${id}`;

let copy: string | undefined;
let work: string | undefined;
let net: DcNetwork | undefined;
let cluster: RenderedCluster | undefined;
let stopLoops = true;

afterAll(async () => {
  stopLoops = true;
  const problems: string[] = [];
  if (cluster) {
    const killed = await cluster.stop(10_000);
    if (killed.length) console.log(`manifests-run: SIGKILLed after 10 s: ${killed.join(', ')}`);
  }
  if (net) await net.destroy().catch((err: Error) => problems.push(err.message));
  for (const d of [copy, work]) if (d) rmSync(d, { recursive: true, force: true });
  if (problems.length) throw new Error(problems.join('; '));
}, 60_000);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined> | T | undefined, failIf?: () => string | undefined): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const bad = failIf?.();
    if (bad) throw new Error(`while waiting for ${what}: ${bad}`);
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(200);
  }
}

it.runIf(runRootTests)(
  'the manifests run as processes, one namespace per zone: the bank through the gateways, dc-a cut with iptables, the majority commits, nothing acknowledged is lost',
  async () => {
    const t0 = Date.now();
    // Rendered exactly as validate.test.ts does: a temporary copy with secrets from `synod creds`' code.
    copy = prepareCopy();
    const objects = render(join(copy, OVERLAY));
    work = mkdtempSync(join(tmpdir(), 'synod-mrun-'));
    const plan = localProcesses(objects, join(work, 'pods'));
    // Every pod but the k6 Job is pinned to a zone.
    expect(plan.processes.filter((p) => !p.init && p.zone === UNPINNED_ZONE && p.workload.kind === 'Job').map((p) => p.pod)).toEqual(['k6-bank']);
    const token = readFileSync(join(copy, OVERLAY, 'secrets/gateway-tokens'), 'utf8').split('\n')[0]!.trim();

    net = await DcNetwork.create({ dcs: DCS, tag: 'mr' });
    cluster = new RenderedCluster(plan, net, work);
    const c = cluster;
    c.checkPorts();
    const hosts = c.writeHosts();
    for (const dc of DCS) {
      expect(hosts[dc]!.gateway).toBe(net.ipOf(dc));
      expect(hosts[dc]![`nats-${dc}`]).toBe(net.ipOf(dc));
      expect(readFileSync(`/etc/netns/${net.nsOf(dc)}/hosts`, 'utf8')).toContain(`${net.ipOf(dc)}\tgateway\n`);
    }
    c.writeMounts();
    const inits = await c.runInits();
    c.startAll();
    const perZone = DCS.map((dc) => `${dc} ${c.mains().filter((r) => r.p.zone === dc).length}`).join(', ');
    const readyMs = await c.waitReady(120_000);
    // Every member's probe port answers from the host (above) and from another zone's namespace:
    // each listens on an address other pods reach, not loopback.
    for (const [i, dc] of DCS.entries()) {
      const from = DCS[(i + 1) % DCS.length]!;
      const urls = c.members().filter((p) => p.zone === dc && p.probes.readiness).map((p) => `http://${net!.ipOf(dc)}:${p.probes.readiness!.port}${p.probes.readiness!.path}`);
      const script = `Promise.all(${JSON.stringify(urls)}.map((u) => fetch(u, { signal: AbortSignal.timeout(3000) }).then((r) => r.status, (e) => String(e)))).then((s) => console.log(JSON.stringify(s)))`;
      const [cmd, ...args] = net.wrap(from, [process.execPath, '-e', script]);
      const out = spawnSync(cmd!, args, { encoding: 'utf8', timeout: 15_000 });
      expect(JSON.parse(out.stdout || '[]'), `${dc}'s probe ports from ${from}: ${out.stderr}`).toEqual(urls.map(() => 200));
    }

    const gw = (dc: string) => `http://${net!.ipOf(dc)}:8080`;
    const call = async (dc: string, method: string, path: string, body?: unknown, timeoutMs = 20_000): Promise<{ status: number; body: any }> => {
      try {
        const res = await fetch(gw(dc) + path, {
          method,
          headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          signal: AbortSignal.timeout(timeoutMs),
        });
        const text = await res.text();
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          // not JSON
        }
        return { status: res.status, body: parsed };
      } catch (err) {
        return { status: 0, body: (err as Error).message };
      }
    };
    const batchGet = async (dc: string, keys: string[]) => {
      const out = new Map<string, unknown>();
      for (let i = 0; i < keys.length; i += 200) {
        const r = await call(dc, 'POST', '/v1/kv:batchGet', { keys: keys.slice(i, i + 200) });
        if (r.status !== 200) throw new Error(`batchGet via ${dc}: ${r.status} ${JSON.stringify(r.body)}`);
        for (const x of r.body.results as Array<{ key: string; found: boolean; value?: unknown }>) if (x.found) out.set(x.key, x.value);
      }
      return out;
    };

    // Open the accounts through dc-b's gateway (the id makes a retry idempotent).
    const open = await until('the accounts to open through gateway-dc-b', 60_000, async () => {
      const r = await call('dc-b', 'POST', '/v1/txn', { id: 'bank-open', writes: accounts.map((key) => ({ key, value: INITIAL })) });
      return r.status === 200 ? r : undefined;
    }, () => c.exited());
    expect(open.body.state).toBe('committed');

    type Phase = 'before' | 'during' | 'after';
    let phase: Phase = 'before';
    const acked: Array<{ id: string; phase: Phase; at: number; from: string; to: string; amount: number }> = [];
    const failures: Record<Phase, number> = { before: 0, during: 0, after: 0 };
    const conflicts: Record<Phase, number> = { before: 0, during: 0, after: 0 };
    const unexpected: string[] = [];
    stopLoops = false;
    const loop = async (n: number, dc: string) => {
      for (let i = 0; !stopLoops; i++) {
        const id = `t-${n}-${i}`;
        const a = accounts[Math.floor(Math.random() * ACCOUNTS)]!;
        const b = accounts.filter((x) => x !== a)[Math.floor(Math.random() * (ACCOUNTS - 1))]!;
        const read = await call(dc, 'POST', '/v1/kv:batchGet', { keys: [a, b] });
        if (read.status !== 200) {
          failures[phase]++;
          await sleep(200);
          continue;
        }
        const bal = Object.fromEntries((read.body.results as Array<{ key: string; value: number }>).map((x) => [x.key, x.value]));
        const amount = Math.min(1 + Math.floor(Math.random() * 10), bal[a]!);
        if (amount <= 0) continue;
        const p = phase;
        const res = await call(dc, 'POST', '/v1/txn', {
          id,
          conditions: [{ key: a, equals: bal[a] }, { key: b, equals: bal[b] }],
          writes: [{ key: a, value: bal[a]! - amount }, { key: b, value: bal[b]! + amount }, { key: journalKey(id), value: { from: a, to: b, amount } }],
        });
        if (res.status === 200 && res.body.state === 'committed') acked.push({ id, phase: p, at: Date.now(), from: a, to: b, amount });
        else if (res.status === 409) conflicts[p]++;
        else {
          failures[p]++;
          if (![0, 503].includes(res.status)) unexpected.push(`${res.status} ${JSON.stringify(res.body)}`);
          await sleep(200);
        }
      }
    };
    // Four loops, two through each majority zone's gateway.
    const loops = [loop(0, 'dc-b'), loop(1, 'dc-c'), loop(2, 'dc-b'), loop(3, 'dc-c')];
    const count = (p: Phase) => acked.filter((x) => x.phase === p).length;

    try {
      await until('20 transfers before the cut', 40_000, () => (count('before') >= 20 ? true : undefined), () => c.exited());

      // Cut only once dc-a leads a split (its spanserver is n1; the placement service moves s1's
      // leader to s1's leaderDc, dc-a): that split must then elect a leader on the majority side.
      const cutNodes = (await call('dc-b', 'GET', '/v1/cluster')).body.nodes.filter((x: { dc: string }) => x.dc === CUT).map((x: { node: string }) => x.node) as string[];
      expect(cutNodes.length).toBeGreaterThan(0);
      const tLead = Date.now();
      const ledByCut = await until(`${CUT} to lead a split`, 60_000, async () => {
        const r = await call('dc-b', 'GET', '/v1/cluster');
        const led = r.status === 200 ? (r.body.splits as Array<{ id: string; leader: string | null }>).filter((x) => x.leader && cutNodes.includes(x.leader)).map((x) => x.id) : [];
        return led.length > 0 ? led : undefined;
      }, () => c.exited());
      const leadWaitMs = Date.now() - tLead;
      // Every gateway is ready before the cut, so turning not ready below is the cut's doing.
      const gatewayOf = (zone: string) => c.members().find((p) => p.zone === zone && p.container === 'gateway')!;
      for (const zone of DCS) await until(`${zone}'s gateway ready before the cut`, 20_000, async () => ((await c.probe(gatewayOf(zone))) ? true : undefined), () => c.exited());
      // Cut dc-a: iptables DROP between its address and the other zones', both ways.
      await net.partition([CUT]);
      const tCut = Date.now();
      phase = 'during';
      expect(await net.cuts()).toEqual([
        ['dc-a', 'dc-b'],
        ['dc-a', 'dc-c'],
      ]);
      // The cut zone's gateway turns not ready, so a Service stops sending it requests it cannot
      // commit (docs/gateway.md "Health and shutdown"): watched from the cut on, bounded.
      const cutGatewayNotReady = (async () => {
        while (Date.now() - tCut < 30_000) {
          if (!(await c.probe(gatewayOf(CUT)))) return Date.now() - tCut;
          await sleep(250);
        }
        return undefined;
      })();
      // A write through the cut zone's own gateway, meanwhile: it must not commit.
      const cutWrite = call(CUT, 'POST', '/v1/txn', { id: 'cut-write', writes: [{ key: 'k/cut-write', value: 1 }] }, 25_000);
      // The majority keeps committing (bound: 60 s, leader elections of the splits dc-a led included).
      await until('10 transfers on the majority side after the cut', 60_000, () => (count('during') >= 10 ? true : undefined), () => c.exited());
      const electionMs = acked.find((x) => x.phase === 'during')!.at - tCut;
      // Every split is led outside the cut zone now, as the majority side sees it.
      const splitsDuring = (await call('dc-b', 'GET', '/v1/cluster')).body.splits as Array<{ id: string; leader: string | null }>;
      expect(splitsDuring.filter((x) => !x.leader || cutNodes.includes(x.leader)).map((x) => `${x.id}: ${x.leader}`)).toEqual([]);
      const notReadyMs = await cutGatewayNotReady;
      expect(notReadyMs, `${CUT}'s gateway turned not ready during the cut (bound 30 s)`).toBeDefined();
      // … while the majority's gateways are ready (once their probes have seen the new leaders, bounded).
      for (const zone of ['dc-b', 'dc-c']) await until(`${zone}'s gateway ready during the cut`, 15_000, async () => ((await c.probe(gatewayOf(zone))) ? true : undefined), () => c.exited());
      const cutResult = await cutWrite;
      expect(cutResult.status, `a write through ${CUT}'s gateway while cut: ${JSON.stringify(cutResult.body)}`).not.toBe(200);
      const duringAtHeal = count('during');

      await net.heal();
      const tHeal = Date.now();
      phase = 'after';
      expect(await net.cuts()).toEqual([]);
      // dc-a back: its members pass their readiness probes and its gateway commits again (bounded).
      await c.waitReady(30_000, (p) => p.zone === CUT);
      let probes = 0;
      await until(`${CUT}'s gateway to commit after the heal`, 60_000, async () => {
        const r = await call(CUT, 'POST', '/v1/txn', { id: `heal-probe-${probes++}`, writes: [{ key: 'k/heal-probe', value: probes }] }, 15_000);
        return r.status === 200 ? true : undefined;
      }, () => c.exited());
      const rejoinMs = Date.now() - tHeal;
      await until('10 transfers after the heal', 30_000, () => (count('after') >= 10 ? true : undefined), () => c.exited());
      stopLoops = true;
      await Promise.all(loops);

      // Every acknowledged transfer is there, read (strong) through the once-cut zone's gateway.
      const journal = await batchGet(CUT, acked.map((x) => journalKey(x.id)));
      const missing = acked.filter((x) => {
        const v = journal.get(journalKey(x.id)) as { from: string; to: string; amount: number } | undefined;
        return !v || v.from !== x.from || v.to !== x.to || v.amount !== x.amount;
      });
      expect(missing.map((x) => x.id)).toEqual([]);
      // The total is conserved: every account in one snapshot, through each zone's gateway.
      const sums: number[] = [];
      for (const dc of DCS) {
        const balances = await batchGet(dc, accounts);
        expect(balances.size).toBe(ACCOUNTS);
        sums.push([...balances.values()].reduce((s: number, v) => s + (v as number), 0));
      }
      expect(sums).toEqual([ACCOUNTS * INITIAL, ACCOUNTS * INITIAL, ACCOUNTS * INITIAL]);
      const cutWriteAfter = (await batchGet('dc-b', ['k/cut-write'])).has('k/cut-write');
      expect(unexpected).toEqual([]);
      expect(c.exited()).toBeUndefined();

      console.log(
        `manifests-run: launched ${inits} init + ${c.mains().length} containers (${perZone}; k6 Job not launched), ready in ${readyMs} ms; ` +
          `transfers acknowledged before/during/after the cut of ${CUT}: ${count('before')}/${duringAtHeal}(+${count('during') - duringAtHeal} until heal)/${count('after')} ` +
          `(failed ${failures.before}/${failures.during}/${failures.after}, conflicts ${conflicts.before}/${conflicts.during}/${conflicts.after}); ` +
          `${CUT} led ${ledByCut.length} of ${splitsDuring.length} splits at the cut (${ledByCut.join(', ')}; waited ${leadWaitMs} ms for that), first commit after the cut ${electionMs} ms; ${CUT}'s gateway while cut: write ${cutResult.status} ${cutResult.body?.code ?? ''}, readyz not ready ${notReadyMs} ms after the cut; ` +
          `rejoined (commits via ${CUT}) ${rejoinMs} ms after heal; verified ${acked.length}/${acked.length} journal keys, totals ${sums.join('/')}; cut write present after heal: ${cutWriteAfter}; ` +
          `total ${Date.now() - t0} ms`,
      );
      console.log(`manifests-run: rewrites:\n  ${REWRITES.join('\n  ')}`);
    } catch (err) {
      stopLoops = true;
      await Promise.race([Promise.all(loops), sleep(30_000)]);
      for (const r of c.mains()) console.log(`--- ${nameOf(r.p)} (${r.exit ? `exited ${r.exit.code ?? r.exit.signal}` : 'running'})\n${c.tail(r, 8)}`);
      throw err;
    }
  },
  240_000,
);
