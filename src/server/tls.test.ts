import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestPostgres, postgresAvailable, type TestPostgres } from '../../test/support/postgres.js';
import { openStore, type Store } from '../store/index.js';
import { admissionTls } from './tls.js';

describe('the generated admission webhook certificate', () => {
  let dir: string;
  let pg: TestPostgres;
  let replicas: Store[];
  const secretKey = 's'.repeat(40);

  beforeAll(async () => {
    if (!(await postgresAvailable())) throw new Error('PostgreSQL is not reachable at 127.0.0.1:5432 (see TESTING.md)');
    dir = await mkdtemp(path.join(os.tmpdir(), 'palisade-tls-'));
    pg = await createTestPostgres();
    replicas = [await openStore({ databaseUrl: pg.url }), await openStore({ databaseUrl: pg.url })];
  });
  afterAll(async () => {
    for (const store of replicas ?? []) await store.close();
    await pg?.drop();
    await rm(dir, { recursive: true, force: true });
  });

  const configFor = (n: number, key = secretKey) => ({ dataDir: path.join(dir, `replica-${n}`), databaseUrl: pg.url, secretKey: key, tlsCert: undefined, tlsKey: undefined, publicUrl: undefined });

  it('is one certificate for every server sharing a PostgreSQL, so one caBundle fits all replicas', async () => {
    const [a, b] = await Promise.all([admissionTls(configFor(1), replicas[0]), admissionTls(configFor(2), replicas[1])]);
    expect(a.cert).toBe(b.cert);
    expect(a.key).toBe(b.key);
    expect([a.generated, b.generated].filter(Boolean)).toHaveLength(1);
    // Each keeps a copy where `palisade cluster connect` reads the caBundle.
    expect(await readFile(path.join(dir, 'replica-2', 'tls', 'admission.crt'), 'utf8')).toBe(a.cert);
    // The stored key is sealed, never in clear.
    const stored = await replicas[0]!.db.selectFrom('palisade_meta').select('value').where('key', '=', 'admission_tls').executeTakeFirstOrThrow();
    expect(stored.value).not.toContain('PRIVATE KEY');
  });

  it('refuses a server whose secret key differs, naming the setting', async () => {
    await expect(admissionTls(configFor(3, 'x'.repeat(40)), replicas[1])).rejects.toMatchObject({ code: 'server.admission_tls', field: 'secretKey' });
  });
});
