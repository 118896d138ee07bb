import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto';

/**
 * Secrets at rest (registry credentials, notification channel secrets, the shared admission
 * key): AES-256-GCM under a key derived from PALISADE_SECRET_KEY with scrypt, one derivation per
 * purpose, so a value sealed for one use cannot be opened as another. The sealed form is
 * base64(iv | tag | ciphertext); callers add their own version prefix.
 */
const keys = new Map<string, Buffer>();

function keyFor(secretKey: string, purpose: string): Buffer {
  const id = `${purpose}\u0000${secretKey}`;
  let key = keys.get(id);
  if (!key) {
    key = scryptSync(secretKey, purpose, 32);
    keys.set(id, key);
  }
  return key;
}

export function seal(secretKey: string, purpose: string, plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', keyFor(secretKey, purpose), iv);
  const sealed = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), sealed]).toString('base64');
}

/** Throws when the key (or purpose) differs from the one the value was sealed with, or the value was altered. */
export function unseal(secretKey: string, purpose: string, sealed: string): string {
  const data = Buffer.from(sealed, 'base64');
  const decipher = createDecipheriv('aes-256-gcm', keyFor(secretKey, purpose), data.subarray(0, 12));
  decipher.setAuthTag(data.subarray(12, 28));
  return Buffer.concat([decipher.update(data.subarray(28)), decipher.final()]).toString('utf8');
}
