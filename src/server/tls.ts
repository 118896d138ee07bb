import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import path from 'node:path';
import { generate } from 'selfsigned';
import type { Config } from '../core/index.js';

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

/**
 * The admission webhook's certificate: from configuration when given; otherwise one generated
 * at first start (self-signed, 10 years, the webhook's host names as SANs) and kept in the data
 * directory, so its caBundle stays valid across restarts.
 */
export async function admissionTls(config: Pick<Config, 'tlsCert' | 'tlsKey' | 'dataDir' | 'publicUrl'>): Promise<TlsMaterial> {
  if (config.tlsCert && config.tlsKey) {
    const cert = await readFile(config.tlsCert, 'utf8');
    return { cert, key: await readFile(config.tlsKey, 'utf8'), ca: cert, generated: false };
  }
  const dir = path.join(config.dataDir, 'tls');
  const certPath = path.join(dir, 'admission.crt');
  const keyPath = path.join(dir, 'admission.key');
  try {
    const cert = await readFile(certPath, 'utf8');
    return { cert, key: await readFile(keyPath, 'utf8'), ca: cert, generated: false };
  } catch {
    // first start: generate below
  }
  const names = webhookHostNames(config);
  const now = new Date();
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
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFile(keyPath, pems.private, { mode: 0o600 });
  await writeFile(certPath, pems.cert);
  return { cert: pems.cert, key: pems.private, ca: pems.cert, generated: true };
}
