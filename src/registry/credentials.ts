import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto';
import { PalisadeError } from '../core/index.js';

/** Registry credentials at rest: AES-256-GCM under a key derived from PALISADE_SECRET_KEY. */
export interface RegistryLogin {
  username: string;
  password: string;
}

const VERSION = 'v1';

function keyFrom(secretKey: string | undefined): Buffer {
  if (!secretKey) {
    throw new PalisadeError('registry.secret_key', 'storing or using registry credentials needs PALISADE_SECRET_KEY', {
      field: 'secretKey',
      hint: 'set PALISADE_SECRET_KEY (32+ random characters) on the server and every worker',
    });
  }
  return scryptSync(secretKey, 'palisade:registry-credentials', 32);
}

export function sealCredentials(secretKey: string | undefined, login: RegistryLogin): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', keyFrom(secretKey), iv);
  const sealed = Buffer.concat([cipher.update(JSON.stringify(login), 'utf8'), cipher.final()]);
  return `${VERSION}:${Buffer.concat([iv, cipher.getAuthTag(), sealed]).toString('base64')}`;
}

export function openCredentials(secretKey: string | undefined, sealed: string): RegistryLogin {
  const [version, payload] = sealed.split(':', 2);
  if (version !== VERSION || !payload) throw new PalisadeError('registry.credentials', 'stored registry credentials are in an unknown format', { kind: 'internal' });
  const data = Buffer.from(payload, 'base64');
  try {
    const decipher = createDecipheriv('aes-256-gcm', keyFrom(secretKey), data.subarray(0, 12));
    decipher.setAuthTag(data.subarray(12, 28));
    return JSON.parse(Buffer.concat([decipher.update(data.subarray(28)), decipher.final()]).toString('utf8')) as RegistryLogin;
  } catch (error) {
    if (error instanceof PalisadeError) throw error;
    throw new PalisadeError('registry.credentials', 'cannot open stored registry credentials: PALISADE_SECRET_KEY differs from the key they were sealed with', {
      kind: 'unprocessable',
      hint: 'use the original PALISADE_SECRET_KEY, or add the registry again with its credentials',
    });
  }
}
