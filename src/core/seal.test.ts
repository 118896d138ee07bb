import { createCipheriv, randomBytes, scryptSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { seal, unseal } from './seal.js';

const key = 'k'.repeat(40);

describe('sealing secrets at rest', () => {
  it('round-trips, with a fresh IV each time', () => {
    const a = seal(key, 'palisade:test', 'hunter2');
    expect(a).not.toBe(seal(key, 'palisade:test', 'hunter2'));
    expect(a).not.toContain('hunter2');
    expect(unseal(key, 'palisade:test', a)).toBe('hunter2');
  });

  it('refuses another key, another purpose, and an altered value', () => {
    const sealed = seal(key, 'palisade:test', 'hunter2');
    expect(() => unseal('x'.repeat(40), 'palisade:test', sealed)).toThrow();
    expect(() => unseal(key, 'palisade:other', sealed)).toThrow();
    const bytes = Buffer.from(sealed, 'base64');
    bytes[bytes.length - 1]! ^= 1;
    expect(() => unseal(key, 'palisade:test', bytes.toString('base64'))).toThrow();
  });

  it('opens values stored before sealing was shared: scrypt(key, purpose) and iv | tag | ciphertext', () => {
    // Registry credentials and channel secrets were sealed this way inline; stored ones must still open.
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', scryptSync(key, 'palisade:registry-credentials', 32), iv);
    const body = Buffer.concat([cipher.update('{"username":"u","password":"p"}', 'utf8'), cipher.final()]);
    const stored = Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64');
    expect(unseal(key, 'palisade:registry-credentials', stored)).toBe('{"username":"u","password":"p"}');
  });
});
