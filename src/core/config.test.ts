import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.js';

async function dirWith(yaml?: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'palisade-config-'));
  if (yaml !== undefined) await writeFile(path.join(dir, 'palisade.yaml'), yaml);
  return dir;
}

describe('configuration', () => {
  it('uses defaults on an empty environment', async () => {
    const cwd = await dirWith();
    const config = loadConfig({ env: {}, cwd });
    expect(config.port).toBe(8080);
    expect(config.dataDir).toBe(path.join(cwd, '.palisade'));
    expect(config.databaseUrl).toBeUndefined();
  });

  it('ranks flags over environment over palisade.yaml over defaults', async () => {
    const cwd = await dirWith('port: 9000\nlogLevel: debug\nhost: 0.0.0.0\n');
    const config = loadConfig({ env: { PALISADE_PORT: '9100', PALISADE_LOG_LEVEL: 'warn' }, flags: { port: 9200 }, cwd });
    expect(config.port).toBe(9200);
    expect(config.logLevel).toBe('warn');
    expect(config.host).toBe('0.0.0.0');
  });

  it('lists every bad key in one error', async () => {
    const cwd = await dirWith('port: lots\nfavouriteColour: blue\n');
    const error = (() => {
      try {
        loadConfig({ env: { PALISADE_LOG_LEVEL: 'loud', PALISADE_BODY_LIMIT: 'huge' }, cwd });
      } catch (e) {
        return (e as Error).message;
      }
      return 'no error';
    })();
    expect(error).toMatch(/port: must be an integer \(got "lots" from palisade\.yaml port\)/);
    expect(error).toMatch(/bodyLimit: must be a size.*from PALISADE_BODY_LIMIT/);
    expect(error).toMatch(/logLevel: must be one of.*from PALISADE_LOG_LEVEL/);
    expect(error).toMatch(/favouriteColour: unknown key in palisade\.yaml/);
  });

  it('names a malformed palisade.yaml', async () => {
    const cwd = await dirWith('port: [1,\n');
    expect(() => loadConfig({ env: {}, cwd })).toThrow(/palisade\.yaml is not valid YAML/);
  });

  it('never prints a secret it rejects', async () => {
    const cwd = await dirWith();
    let message = '';
    try {
      loadConfig({ env: { PALISADE_SECRET_KEY: 'short-secret-value' }, cwd });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/secretKey: must be at least 32 characters/);
    expect(message).not.toContain('short-secret-value');
  });

  it('reads sizes with units', async () => {
    const cwd = await dirWith();
    expect(loadConfig({ env: { PALISADE_BODY_LIMIT: '2mb' }, cwd }).bodyLimit).toBe(2 * 1024 * 1024);
  });

  it('accepts cron schedules or off, and names a malformed one', async () => {
    const cwd = await dirWith();
    expect(loadConfig({ env: { PALISADE_DB_UPDATE_SCHEDULE: 'off', PALISADE_RESCAN_SCHEDULE: '30 4 * * 1-5' }, cwd })).toMatchObject({ dbUpdateSchedule: 'off', rescanSchedule: '30 4 * * 1-5' });
    expect(() => loadConfig({ env: { PALISADE_POLL_SCHEDULE: 'every five minutes' }, cwd })).toThrow(/pollSchedule: must be a five-field cron expression/);
  });

  it('reads the clusters to assess from the environment or palisade.yaml, and names a bad entry', async () => {
    const cwd = await dirWith();
    expect(loadConfig({ env: {}, cwd }).clusters).toEqual([]);
    expect(loadConfig({ env: { PALISADE_CLUSTERS: 'prod=in-cluster, staging=kube/staging.yaml#admin@staging' }, cwd }).clusters).toEqual([
      { name: 'prod', inCluster: true },
      { name: 'staging', kubeconfig: path.join(cwd, 'kube/staging.yaml'), context: 'admin@staging' },
    ]);
    const withFile = await dirWith('clusters:\n  edge: /etc/palisade/edge.kubeconfig\n');
    expect(loadConfig({ env: {}, cwd: withFile }).clusters).toEqual([{ name: 'edge', kubeconfig: '/etc/palisade/edge.kubeconfig' }]);
    expect(() => loadConfig({ env: { PALISADE_CLUSTERS: 'Prod=in-cluster' }, cwd })).toThrow(/clusters: cluster name "Prod" must be lowercase/);
    // A name a cluster token could not carry (`cluster:prod-` is not a valid scope) is refused here, not at the first ingest.
    expect(() => loadConfig({ env: { PALISADE_CLUSTERS: 'prod-=in-cluster' }, cwd })).toThrow(/cluster name "prod-" must be .*ending with a letter or digit/);
    expect(() => loadConfig({ env: { PALISADE_CLUSTERS: 'prod' }, cwd })).toThrow(/clusters: cluster prod needs in-cluster or a kubeconfig path/);
    expect(() => loadConfig({ env: { PALISADE_CLUSTERS: 'a=in-cluster,a=x' }, cwd })).toThrow(/cluster a is listed twice/);
  });
});
