import { PalisadeError, seal, unseal } from '../../core/index.js';

/**
 * Channel secrets at rest (webhook signing secrets, SMTP passwords, Slack/Teams webhook URLs,
 * which are bearer secrets themselves): AES-256-GCM under a key derived from PALISADE_SECRET_KEY
 * when the server has one. Without a key they are stored as given, as the foundation stores
 * nothing else secret without one; settings say which.
 */
const PREFIX = 'sealed:v1:';
/** Which settings are secret, per channel kind (a Slack or Teams webhook URL grants posting). */
export const SECRET_FIELDS: Record<string, readonly string[]> = { webhook: ['secret'], email: ['password'], slack: ['url'], teams: ['url'] };

const PURPOSE = 'palisade:notification-channels';

export function isSealed(value: unknown): boolean {
  return typeof value === 'string' && value.startsWith(PREFIX);
}

export function sealValue(secretKey: string, value: string): string {
  return PREFIX + seal(secretKey, PURPOSE, value);
}

export function openValue(secretKey: string | undefined, value: string): string {
  if (!isSealed(value)) return value;
  if (!secretKey) throw new PalisadeError('notify.secret_key', 'this channel was saved with PALISADE_SECRET_KEY set; the server has none now', { kind: 'unprocessable', field: 'secretKey' });
  try {
    return unseal(secretKey, PURPOSE, value.slice(PREFIX.length));
  } catch {
    throw new PalisadeError('notify.secret_key', 'cannot open the channel secrets: PALISADE_SECRET_KEY differs from the key they were sealed with', { kind: 'unprocessable', hint: 'use the original key, or edit the channel and enter its secrets again' });
  }
}

/** Seals the secret fields of settings (no-op without a key or for already sealed values). */
export function sealSettings<T extends object>(kind: string, settings: T, secretKey: string | undefined): T {
  if (!secretKey) return settings;
  const out = { ...settings } as Record<string, unknown>;
  for (const field of SECRET_FIELDS[kind] ?? []) if (typeof out[field] === 'string' && !isSealed(out[field])) out[field] = sealValue(secretKey, out[field]);
  return out as T;
}

export function openSettings<T extends object>(kind: string, settings: T, secretKey: string | undefined): T {
  const out = { ...settings } as Record<string, unknown>;
  for (const field of SECRET_FIELDS[kind] ?? []) if (typeof out[field] === 'string') out[field] = openValue(secretKey, out[field]);
  return out as T;
}
