import { open } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordThreats } from '../../src/center/index.js';
import { loadConfig, systemClock } from '../../src/core/index.js';
import { buildApp } from '../../src/server/index.js';
import { createToken, openStore, type Store } from '../../src/store/index.js';
import { bearer } from '../support/app.js';
import { createPrivatePostgres, privatePostgresAvailable, type PrivatePostgres } from '../support/private-postgres.js';

/**
 * Issue 14 point 6 with a real corruption: a private PostgreSQL cluster whose `alerts` heap file
 * gets a garbage page header while the cluster is stopped. PostgreSQL then answers every read of
 * that table with XX001 "invalid page in block 0 of relation base/…". Palisade must fail
 * /readyz, log the relation and how to restore, and answer 503 store_corrupt (not a 500).
 */
describe.skipIf(!privatePostgresAvailable())('data corruption in PostgreSQL is loud', () => {
  let cluster: PrivatePostgres;
  let store: Store;
  let app: FastifyInstance;
  let admin: Record<string, string>;
  const logLines: string[] = [];

  beforeAll(async () => {
    cluster = await createPrivatePostgres();
    store = await openStore({ databaseUrl: cluster.url });
    const logger = pino({ level: 'info' }, { write: (line: string) => { logLines.push(line); } });
    const config = loadConfig({ env: {}, flags: { databaseUrl: cluster.url } });
    app = await buildApp({ config, store, jobs: undefined, clock: systemClock }, { logger });
    admin = bearer((await createToken(store.db, 'admin', 'corruption test')).secret);
    await recordThreats(store.db, [{
      rule: 'k8s.exec-into-pod', title: 'Exec into a pod', severity: 'medium', tactic: 'Execution',
      resource: { kind: 'pod', id: 'prod/shop/pod/web', name: 'web', cluster: 'prod', namespace: 'shop' },
      evidence: [{ auditID: 'a-1' }], remediation: 'Restrict pods/exec', source: 'audit', at: new Date('2026-03-01T00:00:00Z'),
    }]);
  }, 300_000);
  afterAll(async () => {
    await app?.close();
    await store?.close().catch(() => {});
    await cluster?.drop();
  });

  it('fails /readyz, logs the relation and how to restore, and answers 503 store_corrupt', async () => {
    expect((await app.inject({ url: '/api/v1/alerts', headers: admin })).statusCode).toBe(200);
    expect((await app.inject('/readyz')).statusCode).toBe(200);

    const client = new pg.Client({ connectionString: cluster.url });
    await client.connect();
    const file = (await client.query<{ file: string }>(`select pg_relation_filepath('alerts') as file`)).rows[0]!.file;
    const dataDir = (await client.query<{ dir: string }>("select current_setting('data_directory') as dir")).rows[0]!.dir;
    await client.end();

    // Stopped first, so the shutdown checkpoint cannot write the good page back over the damage.
    await cluster.stop();
    const heap = await open(path.join(dataDir, file), 'r+');
    await heap.write(Buffer.alloc(24, 0xa5), 0, 24, 0); // the page header of block 0
    await heap.close();
    await cluster.start();

    // The pool's connections died with the server: the first attempts may fail on those.
    let answer = await app.inject({ url: '/api/v1/alerts', headers: admin });
    for (let i = 0; i < 5 && answer.json().code !== 'store_corrupt'; i++) {
      await new Promise((r) => setTimeout(r, 500));
      answer = await app.inject({ url: '/api/v1/alerts', headers: admin });
    }
    expect(answer.statusCode, answer.body).toBe(503);
    expect(answer.json()).toMatchObject({ code: 'store_corrupt' });

    // Tables that are intact still answer; readiness does not (a load balancer takes the server out).
    expect((await app.inject({ url: '/api/v1/tokens', headers: admin })).statusCode).toBe(200);
    const ready = await app.inject('/readyz');
    expect(ready.statusCode).toBe(503);
    expect(ready.json().checks.database).toMatch(/^corrupt: XX001 in /);
    // The file path is known at once; the table name follows when the catalogue answers.
    await expect.poll(async () => (await app.inject('/readyz')).json().checks.database, { timeout: 10_000 })
      .toMatch(/^corrupt: XX001 in public\.alerts/);

    await expect.poll(() => logLines.find((l) => l.includes('DATA CORRUPTION')), { timeout: 10_000 }).toBeTruthy();
    const logged = JSON.parse(logLines.find((l) => l.includes('DATA CORRUPTION'))!);
    expect(logged).toMatchObject({ level: 50, code: 'XX001', relation: `public.alerts (${file})` });
    expect(logged.detail).toMatch(/invalid page in block 0 of relation/);
    expect(logged.restore).toMatch(/restore the database from your latest backup/);
    // Once per relation, however many requests hit it.
    await app.inject({ url: '/api/v1/alerts', headers: admin });
    expect(logLines.filter((l) => l.includes('DATA CORRUPTION'))).toHaveLength(1);
  }, 180_000);
});
