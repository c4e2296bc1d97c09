/**
 * The live picture on the gateway's port (docs/picture.md): `GET /` the page, `GET /picture.json`
 * the newest snapshot, `GET /events` a server-sent event stream of snapshots. Like /metrics these
 * are not JSON API operations and are not in /openapi.json.
 */
import type { SynodClient } from '@synod/client';
import { GatewayError } from '../errors.js';
import type { Gateway } from '../server.js';
import { PICTURE_PAGE } from './page.js';
export { PICTURE_PATHS } from './paths.js';
import { PicturePoller, type PicturePollerOptions } from './poller.js';
import { SseHub } from './sse.js';

export interface PictureOptions extends PicturePollerOptions {
  maxClients?: number;
  maxQueueBytes?: number;
}

export interface Picture {
  poller: PicturePoller;
  hub: SseHub;
}

/** Adds the picture's routes to a gateway built by buildGateway, before it listens; polling starts now and stops when the gateway closes. */
export function addPicture(gw: Gateway, client: SynodClient, opts: PictureOptions = {}): Picture {
  const poller = new PicturePoller(client, opts);
  const hub = new SseHub(opts.maxClients, opts.maxQueueBytes);
  poller.subscribe((p) => hub.send('picture', p));

  gw.app.get('/', async (_req, reply) => reply.code(200).header('content-type', 'text/html; charset=utf-8').header('cache-control', 'no-store').send(PICTURE_PAGE));
  gw.app.get('/picture.json', async (_req, reply) => {
    const p = poller.latest();
    if (!p) throw new GatewayError('UNAVAILABLE', 'the picture has not been gathered yet; retry in a second', undefined, 1);
    return reply.code(200).header('cache-control', 'no-store').send(p);
  });
  gw.app.get('/events', async (req, reply) => {
    if (hub.size >= hub.maxClients) {
      hub.refused++;
      throw new GatewayError('UNAVAILABLE', `${hub.maxClients} picture streams are open, the most this gateway serves; retry later`, { maxClients: hub.maxClients }, 5);
    }
    // The stream is written by hand from here on: fastify no longer answers for it.
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    // A page that reconnects waits 2 s, not the browser's default 3 s.
    res.write('retry: 2000\n\n');
    hub.add(res);
    const p = poller.latest();
    if (p) hub.sendOne(res, 'picture', p);
    req.raw.once('close', () => res.end());
  });
  // Open streams would otherwise hold the drain open until its deadline.
  gw.app.addHook('preClose', async () => {
    poller.stop();
    hub.closeAll();
  });
  poller.start((err) => gw.app.log.error({ err }, 'picture poll failed'));
  return { poller, hub };
}
