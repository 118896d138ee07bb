import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import path from 'node:path';
import { sql } from 'kysely';
import { PalisadeError, seal, systemClock, unseal, type Config } from '../core/index.js';
import type { Store } from '../store/index.js';

export interface TlsMaterial {
  cert: string;
  key: string;
  /** PEM to paste as the webhook's caBundle (the self-signed certificate itself when generated). */
  ca: string;
  generated: boolean;
}

/** Names the admission webhook is reached by: the in-cluster Service, loopback, and the public URL's host. */
export function webhookHostNames(config: Pick<Config, 'publicUrl'>): string[] {
  const names = ['palisade.palisade.svc', 'palisade.palisade.svc.cluster.local', 'localhost', '127.0.0.1'];
  if (config.publicUrl) names.push(new URL(config.publicUrl).hostname);
  return [...new Set(names)];
}

/** A new self-signed certificate for the webhook's host names (10 years, EC P-256). */
async function generateCertificate(config: Pick<Config, 'publicUrl'>): Promise<{ cert: string; key: string }> {
  const names = webhookHostNames(config);
  const now = systemClock.now();
  // Loaded only when a certificate is generated (first start with an admission port): it is not cheap to load.
  const { generate } = await import('selfsigned');
  const pems = await generate([{ name: 'commonName', value: 'palisade admission webhook' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: now,
    notAfterDate: new Date(now.getTime() + 10 * 365 * 86_400_000),
    extensions: [
      { name: 'basicConstraints', cA: true },
      { name: 'keyUsage', digitalSignature: true, keyCertSign: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: names.map((n) => (isIP(n) ? { type: 7 as const, ip: n } : { type: 2 as const, value: n })) },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}

const SHARED_KEY = 'admission_tls';
const SEAL_PURPOSE = 'palisade:admission-tls';

/**
 * Servers sharing one PostgreSQL share one generated certificate: the first to start generates
 * it under an advisory lock and stores it (the key sealed with PALISADE_SECRET_KEY); the others
 * use it, so the webhook's single caBundle is valid whichever replica answers.
 */
async function sharedCertificate(store: Store, config: Pick<Config, 'publicUrl'>, secretKey: string): Promise<{ cert: string; key: string; generated: boolean }> {
  return store.db.transaction().execute(async (tx) => {
    await sql`select pg_advisory_xact_lock(hashtext('palisade.admission-tls'))`.execute(tx);
    const row = await tx.selectFrom('palisade_meta').select('value').where('key', '=', SHARED_KEY).executeTakeFirst();
    if (row) {
      const stored = JSON.parse(row.value) as { cert: string; key: string };
      try {
        return { cert: stored.cert, key: unseal(secretKey, SEAL_PURPOSE, stored.key), generated: false };
      } catch {
        throw new PalisadeError('server.admission_tls', 'cannot open the shared admission webhook key: PALISADE_SECRET_KEY differs from the one it was sealed with', {
          kind: 'unprocessable', field: 'secretKey', hint: 'give every server the same PALISADE_SECRET_KEY, or set PALISADE_TLS_CERT and PALISADE_TLS_KEY',
        });
      }
    }
    const made = await generateCertificate(config);
    await tx.insertInto('palisade_meta').values({ key: SHARED_KEY, value: JSON.stringify({ cert: made.cert, key: seal(secretKey, SEAL_PURPOSE, made.key) }) }).execute();
    return { ...made, generated: true };
  });
}

/**
 * The admission webhook's certificate: from configuration when given; on PostgreSQL with a
 * secret key, one shared by every server of the database; otherwise one generated at first start
 * and kept in the data directory. Either way it stays valid across restarts, and a copy sits in
 * the data directory, where `palisade cluster connect` reads the caBundle.
 */
export async function admissionTls(config: Pick<Config, 'tlsCert' | 'tlsKey' | 'dataDir' | 'publicUrl' | 'databaseUrl' | 'secretKey'>, store?: Store): Promise<TlsMaterial> {
  if (config.tlsCert && config.tlsKey) {
    const cert = await readFile(config.tlsCert, 'utf8');
    return { cert, key: await readFile(config.tlsKey, 'utf8'), ca: cert, generated: false };
  }
  const dir = path.join(config.dataDir, 'tls');
  const certPath = path.join(dir, 'admission.crt');
  const keyPath = path.join(dir, 'admission.key');
  const keep = async (material: { cert: string; key: string }) => {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeFile(keyPath, material.key, { mode: 0o600 });
    await writeFile(certPath, material.cert);
  };
  if (store && config.databaseUrl && config.secretKey) {
    const shared = await sharedCertificate(store, config, config.secretKey);
    await keep(shared);
    return { cert: shared.cert, key: shared.key, ca: shared.cert, generated: shared.generated };
  }
  try {
    const cert = await readFile(certPath, 'utf8');
    return { cert, key: await readFile(keyPath, 'utf8'), ca: cert, generated: false };
  } catch {
    // first start: generate below
  }
  const made = await generateCertificate(config);
  await keep(made);
  return { cert: made.cert, key: made.key, ca: made.cert, generated: true };
}
