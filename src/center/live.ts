import { EventEmitter } from 'node:events';

import type pg from 'pg';
import { lazyModule, type Alert } from '../core/index.js';
import type { Store } from '../store/index.js';
import { getAlert } from './alerts.js';


/** The PostgreSQL driver: only a server on PostgreSQL listens for alerts from other servers. */
const pgDriver = lazyModule<typeof import('pg')>('pg');
/**
 * New alerts, as they are created, for the dashboard's live view (server-sent events).
 * On PGlite one process owns the data, so an in-process bus is enough. On PostgreSQL several
 * servers and workers share it: the creator sends the alert ids with NOTIFY and every server's
 * feed LISTENs, so an alert made by a worker reaches browsers connected to any server.
 */
export type AlertListener = (alert: Alert) => void;

const CHANNEL = 'palisade_alerts';
// NOTIFY payloads are limited to 8000 bytes; alert ids are ~30 bytes.
const IDS_PER_NOTIFY = 200;

export class AlertFeed {
  private readonly emitter = new EventEmitter();
  private listener: pg.Client | undefined;
  private listening: Promise<void> | undefined;
  private closed = false;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(private readonly store: Store) {
    this.emitter.setMaxListeners(0);
  }

  /** Calls `onAlert` for every new alert until the returned function is called. */
  async subscribe(onAlert: AlertListener): Promise<() => void> {
    this.emitter.on('alert', onAlert);
    if (this.store.kind === 'postgres') await this.listen();
    return () => this.emitter.off('alert', onAlert);
  }

  get subscribers(): number {
    return this.emitter.listenerCount('alert');
  }

  /** Announces alerts that were just created (after their transaction committed). */
  async publish(ids: string[]): Promise<void> {
    if (!ids.length) return;
    if (this.store.kind === 'postgres') {
      for (let i = 0; i < ids.length; i += IDS_PER_NOTIFY) {
        await this.store.sql.executeSql('select pg_notify($1, $2)', [CHANNEL, JSON.stringify(ids.slice(i, i + IDS_PER_NOTIFY))]);
      }
      return;
    }
    await this.deliver(ids);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.emitter.removeAllListeners();
    const client = this.listener;
    this.listener = undefined;
    await client?.end().catch(() => {});
  }

  private async deliver(ids: string[]): Promise<void> {
    if (!this.subscribers) return;
    for (const id of ids) {
      const alert = await getAlert(this.store.db, id);
      if (alert) this.emitter.emit('alert', alert);
    }
  }

  private listen(): Promise<void> {
    this.listening ??= this.connect().catch((error) => {
      this.listening = undefined;
      throw error;
    });
    return this.listening;
  }

  private async connect(): Promise<void> {
    const client = new (pgDriver().Client)({ connectionString: this.store.databaseUrl });
    // A lost connection (server restart) reconnects; alerts created meanwhile are in the list API.
    client.on('error', () => this.reconnect(client));
    client.on('end', () => this.reconnect(client));
    client.on('notification', (message) => {
      if (message.channel !== CHANNEL || !message.payload) return;
      let ids: unknown;
      try {
        ids = JSON.parse(message.payload);
      } catch {
        return;
      }
      if (Array.isArray(ids)) this.deliver(ids.filter((id): id is string => typeof id === 'string')).catch(() => {});
    });
    await client.connect();
    await client.query(`LISTEN ${CHANNEL}`);
    this.listener = client;
  }

  private reconnect(client: pg.Client): void {
    if (this.closed || this.listener !== client) return;
    this.listener = undefined;
    this.listening = undefined;
    client.end().catch(() => {});
    this.retryTimer = setTimeout(() => {
      if (!this.closed && this.subscribers) this.listen().catch(() => this.reconnect(client));
    }, 1000);
    this.retryTimer.unref();
  }
}

const feeds = new WeakMap<Store, AlertFeed>();

/** The one feed of a store in this process. */
export function alertFeed(store: Store): AlertFeed {
  let feed = feeds.get(store);
  if (!feed) {
    feed = new AlertFeed(store);
    feeds.set(store, feed);
  }
  return feed;
}

export async function closeAlertFeed(store: Store): Promise<void> {
  const feed = feeds.get(store);
  feeds.delete(store);
  await feed?.close();
}

