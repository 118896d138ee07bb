import type { FastifyInstance } from 'fastify';
import type { ServerResponse } from 'node:http';
import { alertFeed, closeAlertFeed } from '../../../center/index.js';
import type { ServerContext } from '../../context.js';

const HEARTBEAT_MS = 25_000;

/**
 * Server-sent events: `event: alert` with the new alert as JSON, for every alert created while
 * the stream is open (from this server, or any server and worker on the same PostgreSQL).
 * Browsers authenticate with the session cookie (EventSource sends it); scripts with a bearer token.
 */
export async function eventRoutes(app: FastifyInstance, { context }: { context: ServerContext }) {
  const streams = new Set<ServerResponse>();

  app.get('/events', { config: { auth: 'reader' }, schema: { tags: ['events'], hide: false } }, async (request, reply) => {
    const feed = alertFeed(context.store);
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    streams.add(res);
    // Subscribed (and LISTENing, on PostgreSQL) before the client hears it is connected.
    let unsubscribe: () => void;
    try {
      unsubscribe = await feed.subscribe((alert) => {
        res.write(`id: ${alert.id}\nevent: alert\ndata: ${JSON.stringify(alert)}\n\n`);
      });
    } catch (error) {
      // The browser's EventSource reconnects after `retry`; say why in the log.
      request.log.warn({ err: error }, 'live alert feed unavailable');
      streams.delete(res);
      res.end('retry: 3000\n\n');
      return;
    }
    res.write('retry: 3000\n: connected\n\n');
    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
    const done = () => {
      clearInterval(heartbeat);
      unsubscribe();
      streams.delete(res);
    };
    request.raw.on('close', done);
    res.on('close', done);
  });

  // Open streams would hold the server open on shutdown: end them first.
  app.addHook('preClose', async () => {
    for (const res of streams) res.end();
    streams.clear();
  });
  app.addHook('onClose', async () => {
    await closeAlertFeed(context.store);
  });
}
