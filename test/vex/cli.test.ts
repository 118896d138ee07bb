import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { register as registerVex } from '../../src/cli/vex.js';
import { runCommands } from '../../src/cli/testing/run.js';

/** `palisade vex add` refuses what it cannot send before it looks for a server, naming the file. */
describe('palisade vex add: files it cannot send', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'palisade-vex-cli-'));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('names a missing file, a file that is not JSON, and one over the upload limit', async () => {
    await expect(runCommands([registerVex], ['vex', 'add', path.join(dir, 'missing.json')])).rejects.toThrow(/cannot read .*missing\.json: ENOENT/);
    const broken = path.join(dir, 'broken.json');
    await writeFile(broken, '{"statements": [');
    await expect(runCommands([registerVex], ['vex', 'add', broken])).rejects.toThrow(/broken\.json is not JSON/);
    const huge = path.join(dir, 'huge.json');
    await writeFile(huge, '');
    await truncate(huge, 5 * 1024 * 1024);
    await expect(runCommands([registerVex], ['vex', 'add', huge])).rejects.toThrow(/huge\.json is 5242880 bytes; a VEX document may have at most 4194304/);
  });

  it('names an unknown --format before it reads the file or looks for a server', async () => {
    await expect(runCommands([registerVex], ['vex', 'add', '--format', 'yaml', path.join(dir, 'missing.json')])).rejects.toThrow(/unknown format "yaml"/);
  });
});
