import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { fixture, fixturesAvailable } from '../../test/support/fixtures.js';
import { register, runDbUpdate } from './db.js';
import { openStore } from '../store/index.js';

let dir: string;
const lines: string[] = [];
const errors: string[] = [];

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'palisade-cli-db-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
afterEach(() => {
  vi.restoreAllMocks();
  lines.length = 0;
  errors.length = 0;
  process.exitCode = undefined;
});

async function run(...args: string[]): Promise<void> {
  vi.spyOn(console, 'log').mockImplementation((line: string) => void lines.push(line));
  vi.spyOn(console, 'error').mockImplementation((line: string) => void errors.push(line));
  const program = new Command('palisade').option('--config <file>').exitOverride();
  register(program);
  await program.parseAsync(['node', 'palisade', ...args, '--data-dir', path.join(dir, 'data')]);
}

describe.skipIf(!fixturesAvailable())('palisade db', () => {
  it('import then status, as a user runs them', { timeout: 240_000 }, async () => {
    await run('db', 'import', fixture('osv', 'npm'), fixture('osv', 'go'));
    expect(lines.join('\n')).toMatch(/182 added, 0 changed, 0 unchanged, 0 skipped/);
    expect(errors).toEqual([]);
    lines.length = 0;
    await run('db', 'status');
    const rows = lines.map((l) => l.split('\t'));
    expect(rows[0]).toEqual(['ECOSYSTEM', 'ADVISORIES', 'NEWEST MODIFIED', 'LAST UPDATE']);
    expect(rows.find((r) => r[0] === 'Go')?.[1]).toBe('153');
    expect(rows.find((r) => r[0] === 'npm')?.[1]).toBe('29');
    lines.length = 0;
    await run('db', 'status', '--format', 'json');
    expect(JSON.parse(lines.join('\n')).advisories).toBe(182);
  });

  it('names bad input: unknown ecosystems, missing paths, unknown formats', async () => {
    const store = await openStore({ dataDir: path.join(dir, 'data') });
    try {
      await expect(runDbUpdate(store, { ecosystem: ['Debain'] }, { log: () => {}, warn: () => {} })).rejects.toThrow(/unknown ecosystem\(s\): Debain/);
    } finally {
      await store.close();
    }
    await expect(run('db', 'import', path.join(dir, 'nope'))).rejects.toThrow(/no such file or directory/);
    await expect(run('db', 'status', '--format', 'xml')).rejects.toThrow(/unknown format xml/);
  });
});
