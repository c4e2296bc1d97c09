/**
 * Issue "a live picture of the cluster" must-show: the gateway's page at / in headless Debian
 * chromium (puppeteer-core) over a real 3-DC cluster with the placement service and a write
 * workload. The leader DC of a split is partitioned: the page must draw its links cut and name a
 * new leader in another DC, and its throughput chart must gain points; the page fits 1280×800
 * without scrolling. Saves docs/picture.png.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { SynodClient } from '@synod/client';
import { addPicture, buildGateway, Tokens } from '@synod/gateway';
import { EMPTY_CHAOS, chaos } from '@synod/transport';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { agreedLeaderOf, anyExited, useTestCluster, waitFor } from '../cluster/helpers.js';

vi.setConfig({ testTimeout: 90_000 });
const cluster = useTestCluster({ placementService: 'auto' });
const SCREENSHOT = fileURLToPath(new URL('../../docs/picture.png', import.meta.url));

/** Debian's chromium; missing, the test fails saying how to get it (it is never skipped). */
function chromiumPath(): string {
  for (const p of [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'])
    if (p && existsSync(p)) return p;
  try {
    return execFileSync('sh', ['-c', 'command -v chromium || command -v chromium-browser'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error('chromium is not installed: the picture test needs it (Debian: apt-get install -y chromium; `node infra/ensure-deps.mjs` installs it), or set CHROMIUM_PATH');
  }
}

/** Writes keys in every split, one at a time, until stopped; failures during the partition are expected and counted. */
function startWorkload(client: SynodClient): { stop: () => Promise<{ ok: number; failed: number }> } {
  let running = true;
  const counts = { ok: 0, failed: 0 };
  const keys = ['alpha', 'kilo', 'tango'];
  const loop = (async () => {
    // Bounded by the test's time: it stops when the test does, at most one put in flight.
    for (let i = 0; running && i < 1_000_000; i++) {
      try {
        await client.put(`${keys[i % keys.length]}/${i % 50}`, i);
        counts.ok++;
      } catch {
        counts.failed++;
      }
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return counts;
    },
  };
}

const attr = (page: Page, selector: string, name: string) => page.$eval(selector, (e, n) => e.getAttribute(n), name).catch(() => null);

describe('the live picture', () => {
  let browser: Browser | undefined;
  afterAll(async () => {
    await browser?.close();
  });

  it('shows a partitioned leader DC as cut links and a new leader elsewhere, with a moving throughput chart, at 1280×800', async () => {
    const executablePath = chromiumPath();
    const tc = cluster();
    const control = tc.buses[0]!;
    // The gateway and the writer sit outside the three DCs, so the partition cuts neither off.
    const gwClient = await tc.client('control', 'picture-gateway');
    const gw = buildGateway({ client: gwClient, insecure: true, probeEveryMs: 0 });
    addPicture(gw, gwClient, { everyMs: 500 });
    const url = `${await gw.app.listen({ host: '127.0.0.1', port: 0 })}/`;
    const workload = startWorkload(await tc.client('clients', 'picture-writer'));
    let state = EMPTY_CHAOS;
    try {
      const split = tc.cluster.rangeMap.all()[0]!.id;
      const nodes = tc.cluster.rangeMap.nodes();

      browser = await puppeteer.launch({
        executablePath,
        headless: true,
        args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-dev-shm-usage'],
        defaultViewport: { width: 1280, height: 800 },
      });
      const page = await browser.newPage();
      const pageErrors: string[] = [];
      page.on('pageerror', (err) => pageErrors.push(String(err)));
      await page.goto(url, { waitUntil: 'domcontentloaded', timeout: 15_000 });

      // The placement service may still steer the leader to the split's preferred DC after the
      // first election: the old leader is the one the page and every node agree on at one moment.
      let shown: string | null = null;
      const oldLeader = await waitFor(`the page and the nodes to agree on the leader of ${split}`, 30_000, async () => {
        shown = await attr(page, `tr[data-split="${split}"]`, 'data-leader');
        const agreed = nodes[await agreedLeaderOf(tc, split)]!;
        return shown === agreed.id ? agreed : undefined;
      }, { failIf: anyExited(tc) }).catch((err: Error) => {
        throw new Error(`${err.message} (the page last showed ${shown ?? 'no leader'})`);
      });
      const rows = await page.$$eval('tr[data-split]', (trs) => trs.length);
      expect(rows).toBe(tc.cluster.rangeMap.all().length);
      expect(await page.$$eval('g[data-link][data-down="true"]', (gs) => gs.length)).toBe(0);
      // Commits show up in the chart before the fault: the workload runs.
      await waitFor('commits in the throughput chart', 15_000, async () => (Number(await attr(page, '#chart-ops', 'data-sum')) > 0 ? true : undefined));
      const pointsBefore = Number(await attr(page, '#chart-ops', 'data-points'));

      const others = [...new Set(nodes.map((n) => n.dc))].filter((dc) => dc !== oldLeader.dc);
      state = chaos.partition(EMPTY_CHAOS, [oldLeader.dc], others);
      await control.publishChaos(state);

      const cut = await waitFor(`the page to draw ${oldLeader.dc}'s links cut`, 15_000, async () => {
        const down = await page.$$eval('g[data-link][data-down="true"]', (gs) => gs.map((g) => g.getAttribute('data-link')!));
        return down.length === others.length ? down.sort() : undefined;
      });
      expect(cut).toEqual(others.map((dc) => [oldLeader.dc, dc].sort().join('|')).sort());
      // The link between the two majority DCs stays drawn up.
      expect(await page.$$eval('g[data-link][data-down="false"]', (gs) => gs.map((g) => g.getAttribute('data-link')))).toEqual([others.sort().join('|')]);

      const newLeader = await waitFor(`the page to show a new leader of ${split} outside ${oldLeader.dc}`, 30_000, async () => {
        const leader = await attr(page, `tr[data-split="${split}"]`, 'data-leader');
        const dc = await attr(page, `tr[data-split="${split}"]`, 'data-leader-dc');
        return leader && leader !== oldLeader.id && dc && others.includes(dc) ? { leader, dc } : undefined;
      }, { failIf: anyExited(tc) });
      expect(newLeader.leader).not.toBe(oldLeader.id);

      // The chart keeps moving: new points, and commits under the new leader.
      const moved = await waitFor('the throughput chart to gain points with commits after the failover', 20_000, async () => {
        const points = Number(await attr(page, '#chart-ops', 'data-points'));
        const last = Number(await attr(page, '#chart-ops', 'data-last'));
        return points > pointsBefore + 2 && last > 0 ? { points, last } : undefined;
      });
      expect(moved.points).toBeGreaterThan(pointsBefore);

      // Run in the page: `document` there is the browser's (the test's tsconfig has no DOM types).
      const size = await page.$eval('html', (e) => ({ h: e.scrollHeight, w: e.scrollWidth }));
      expect(size.h).toBeLessThanOrEqual(800);
      expect(size.w).toBeLessThanOrEqual(1280);
      expect(pageErrors).toEqual([]);
      await page.screenshot({ path: SCREENSHOT as `${string}.png` });
    } finally {
      await control.publishChaos(chaos.heal(state));
      await workload.stop();
      await gw.close();
    }
  });

  it('sits behind the bearer token like the API unless --picture-public, which opens only the picture', async () => {
    const tc = cluster();
    const token = 'picture-test-token-0123456789';
    for (const picturePublic of [false, true]) {
      const client = await tc.client('control', `picture-auth-${picturePublic}`);
      const gw = buildGateway({ client, tokens: new Tokens([token]), picturePublic, probeEveryMs: 0 });
      const pic = addPicture(gw, client, { everyMs: 200 });
      try {
        await gw.app.ready();
        await pic.poller.poll();
        const get = (url: string, auth?: string) => gw.app.inject({ method: 'GET', url, headers: auth ? { authorization: `Bearer ${auth}` } : {} });
        const page = await get('/');
        const json = await get('/picture.json');
        expect([page.statusCode, json.statusCode], `picturePublic ${picturePublic}`).toEqual(picturePublic ? [200, 200] : [401, 401]);
        if (!picturePublic) expect(json.json()).toMatchObject({ code: 'UNAUTHENTICATED' });
        // With the token the picture is always there; the data API never opens with the picture.
        expect((await get('/picture.json', token)).json()).toMatchObject({ splits: expect.any(Array), dcs: expect.any(Array) });
        expect((await get('/v1/cluster')).statusCode).toBe(401);
        expect(page.statusCode === 200 ? page.headers['content-type'] : 'text/html').toContain('text/html');
      } finally {
        await gw.close();
      }
    }
  });
});
