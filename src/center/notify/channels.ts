import type { Kysely } from 'kysely';
import { isSeverity, PalisadeError, randomIds, type Clock, type Severity, systemClock } from '../../core/index.js';
import type { Database } from '../../store/index.js';
import { isSealed, openSettings, sealSettings } from './secrets.js';

/** Where alerts are sent: a generic webhook (HMAC-signed JSON), Slack, Teams, or email over SMTP. */
export type ChannelKind = 'webhook' | 'slack' | 'teams' | 'email';
export const CHANNEL_KINDS: readonly ChannelKind[] = ['webhook', 'slack', 'teams', 'email'];

export interface WebhookSettings { url: string; secret: string }
export interface IncomingWebhookSettings { url: string }
export interface EmailSettings {
  host: string;
  port: number;
  /** TLS from the start (465); otherwise STARTTLS when the server offers it. */
  secure?: boolean;
  user?: string;
  password?: string;
  from: string;
  to: string[];
}
export type ChannelSettings = WebhookSettings | IncomingWebhookSettings | EmailSettings;

export interface ChannelTable {
  id: string;
  name: string;
  kind: string;
  settings: ColumnJson;
  min_severity: string;
  /** 0: one message per alert; otherwise one message per channel every N minutes. */
  digest_minutes: number;
  enabled: boolean;
  created_at: Date;
  last_success_at: Date | null;
  last_error: string | null;
  last_error_at: Date | null;
}
type ColumnJson = import('kysely').JSONColumnType<Record<string, unknown>, Record<string, unknown> | string, Record<string, unknown> | string>;

export interface DeliveryTable {
  id: import('kysely').Generated<string>;
  channel: string;
  alert_id: string;
  /** pending | sent | failed (gave up after the last retry). */
  status: string;
  attempts: import('kysely').ColumnType<number, number | undefined, number>;
  next_attempt_at: Date;
  claimed_until: Date | null;
  last_error: string | null;
  created_at: Date;
  sent_at: Date | null;
}

declare module '../../store/schema.js' {
  interface Database {
    notification_channels: ChannelTable;
    notification_deliveries: DeliveryTable;
  }
}

export interface Channel {
  id: string;
  name: string;
  kind: ChannelKind;
  settings: ChannelSettings;
  minSeverity: Severity;
  digestMinutes: number;
  enabled: boolean;
  createdAt: Date;
  lastSuccessAt: Date | null;
  lastError: string | null;
  lastErrorAt: Date | null;
}

export interface ChannelInput {
  name: string;
  kind: string;
  settings: Record<string, unknown>;
  minSeverity?: string;
  digestMinutes?: number;
  enabled?: boolean;
}

function invalid(field: string, message: string, hint?: string): PalisadeError {
  return new PalisadeError('notify.invalid', message, { field, hint });
}

function httpUrl(value: unknown, field: string): string {
  if (typeof value !== 'string') throw invalid(field, `${field} is required`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid(field, `${field} is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw invalid(field, `${field} must be http(s)`);
  return value;
}

/** Validates settings for a kind; returns only the known keys. */
export function parseSettings(kind: ChannelKind, raw: Record<string, unknown>): ChannelSettings {
  switch (kind) {
    case 'webhook': {
      const secret = raw.secret;
      if (typeof secret !== 'string' || secret.length < 16) throw invalid('settings.secret', 'a webhook needs a signing secret of at least 16 characters', 'receivers verify the X-Palisade-Signature-256 header with it');
      return { url: httpUrl(raw.url, 'settings.url'), secret };
    }
    case 'slack':
    case 'teams':
      return { url: httpUrl(raw.url, 'settings.url') };
    case 'email': {
      const to = Array.isArray(raw.to) ? raw.to : typeof raw.to === 'string' ? raw.to.split(',').map((s) => s.trim()).filter(Boolean) : [];
      if (!to.length || !to.every((a) => typeof a === 'string' && /^[^@\s]+@[^@\s]+$/.test(a))) throw invalid('settings.to', 'email needs one or more recipient addresses');
      if (typeof raw.from !== 'string' || !/^[^@\s<>]+@[^@\s<>]+$|<[^@\s]+@[^@\s]+>$/.test(raw.from)) throw invalid('settings.from', 'email needs a sender address');
      if (typeof raw.host !== 'string' || !raw.host) throw invalid('settings.host', 'email needs the SMTP host');
      const port = Number(raw.port ?? 587);
      if (!Number.isInteger(port) || port < 1 || port > 65535) throw invalid('settings.port', 'SMTP port must be 1-65535');
      return {
        host: raw.host,
        port,
        secure: raw.secure === true,
        ...(typeof raw.user === 'string' && raw.user ? { user: raw.user } : {}),
        ...(typeof raw.password === 'string' && raw.password ? { password: raw.password } : {}),
        from: raw.from,
        to: to as string[],
      };
    }
  }
}

function parseKind(kind: string): ChannelKind {
  if (!(CHANNEL_KINDS as readonly string[]).includes(kind)) throw invalid('kind', `unknown channel kind '${kind}'`, `use ${CHANNEL_KINDS.join(', ')}`);
  return kind as ChannelKind;
}

function parseMinSeverity(value: string | undefined): Severity {
  const severity = value ?? 'high';
  if (!isSeverity(severity)) throw invalid('minSeverity', `unknown severity '${severity}'`);
  return severity;
}

function parseDigest(value: number | undefined): number {
  const minutes = value ?? 0;
  if (!Number.isInteger(minutes) || minutes < 0 || minutes > 24 * 60) throw invalid('digestMinutes', 'digestMinutes must be 0 (immediate) to 1440');
  return minutes;
}

/** `secretKey` (PALISADE_SECRET_KEY) seals the channel's secrets at rest when set. */
export async function createChannel(db: Kysely<Database>, input: ChannelInput, clock: Clock = systemClock, secretKey?: string): Promise<Channel> {
  const kind = parseKind(input.kind);
  if (!input.name.trim()) throw invalid('name', 'a channel needs a name');
  const row = {
    id: randomIds.next('chn_'),
    name: input.name.trim(),
    kind,
    settings: JSON.stringify(sealSettings(kind, parseSettings(kind, input.settings), secretKey)),
    min_severity: parseMinSeverity(input.minSeverity),
    digest_minutes: parseDigest(input.digestMinutes),
    enabled: input.enabled ?? true,
    created_at: clock.now(),
  };
  await db.insertInto('notification_channels').values(row).execute();
  return (await getChannel(db, row.id))!;
}

export async function updateChannel(db: Kysely<Database>, id: string, change: Partial<ChannelInput>, secretKey?: string): Promise<Channel> {
  const current = await getChannel(db, id);
  if (!current) throw new PalisadeError('notify.not_found', `no channel ${id}`, { kind: 'not-found' });
  const set: Record<string, unknown> = {};
  if (change.name !== undefined) set.name = change.name.trim();
  if (change.settings !== undefined) {
    // Secrets are write-only: an omitted secret or password keeps the stored one.
    const stored = openSettings(current.kind, current.settings as unknown as Record<string, unknown>, secretKey);
    const given = Object.fromEntries(Object.entries(change.settings).filter(([, v]) => v !== '' && v !== '********'));
    set.settings = JSON.stringify(sealSettings(current.kind, parseSettings(current.kind, { ...stored, ...given }), secretKey));
  }
  if (change.minSeverity !== undefined) set.min_severity = parseMinSeverity(change.minSeverity);
  if (change.digestMinutes !== undefined) set.digest_minutes = parseDigest(change.digestMinutes);
  if (change.enabled !== undefined) set.enabled = change.enabled;
  if (Object.keys(set).length) await db.updateTable('notification_channels').set(set).where('id', '=', id).execute();
  return (await getChannel(db, id))!;
}

export async function deleteChannel(db: Kysely<Database>, id: string): Promise<void> {
  await db.transaction().execute(async (tx) => {
    const result = await tx.deleteFrom('notification_channels').where('id', '=', id).executeTakeFirst();
    if (!Number(result.numDeletedRows)) throw new PalisadeError('notify.not_found', `no channel ${id}`, { kind: 'not-found' });
    await tx.deleteFrom('notification_deliveries').where('channel', '=', id).execute();
  });
}

export async function getChannel(db: Kysely<Database>, id: string): Promise<Channel | undefined> {
  const row = await db.selectFrom('notification_channels').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? toChannel(row) : undefined;
}

export async function listChannels(db: Kysely<Database>): Promise<Channel[]> {
  const rows = await db.selectFrom('notification_channels').selectAll().orderBy('created_at').orderBy('id').execute();
  return rows.map(toChannel);
}

export function toChannel(row: { id: string; name: string; kind: string; settings: Record<string, unknown>; min_severity: string; digest_minutes: number; enabled: boolean; created_at: Date; last_success_at: Date | null; last_error: string | null; last_error_at: Date | null }): Channel {
  return {
    id: row.id,
    name: row.name,
    kind: row.kind as ChannelKind,
    settings: row.settings as unknown as ChannelSettings,
    minSeverity: row.min_severity as Severity,
    digestMinutes: row.digest_minutes,
    enabled: row.enabled,
    createdAt: row.created_at,
    lastSuccessAt: row.last_success_at,
    lastError: row.last_error,
    lastErrorAt: row.last_error_at,
  };
}

/** The channel with its secrets opened, for sending. */
export function openChannel(channel: Channel, secretKey: string | undefined): Channel {
  return { ...channel, settings: openSettings(channel.kind, channel.settings, secretKey) };
}

/** Settings without secrets, for the API and the dashboard; `sealed` says whether they are encrypted at rest. */
export function redactSettings(channel: Channel, secretKey?: string): Record<string, unknown> {
  const raw = channel.settings as unknown as Record<string, unknown>;
  const sealed = Object.values(raw).some(isSealed);
  let settings: Record<string, unknown>;
  try {
    settings = { ...openSettings(channel.kind, raw, secretKey), sealed };
  } catch {
    settings = { ...raw, url: typeof raw.url === 'string' && isSealed(raw.url) ? '(sealed)' : raw.url, sealed };
  }
  if ('secret' in settings) settings.secret = '********';
  if ('password' in settings) settings.password = '********';
  // Slack and Teams webhook URLs are bearer secrets themselves: show where they go, not the key.
  if ((channel.kind === 'slack' || channel.kind === 'teams') && typeof settings.url === 'string' && settings.url !== '(sealed)') {
    const url = new URL(settings.url);
    settings.url = `${url.protocol}//${url.host}/…`;
  }
  return settings;
}
