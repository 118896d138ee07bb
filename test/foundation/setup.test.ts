import { spawnSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '../..');

describe('the README set-up commands', () => {
  it('npm test without the shared fixtures says in one line what is missing and where to get it', () => {
    const run = spawnSync('bash', ['scripts/test.sh'], { cwd: root, env: { ...process.env, PALISADE_FIXTURES: '/nonexistent/fixtures' }, encoding: 'utf8', timeout: 60_000 });
    expect(run.status).toBe(1);
    const lines = run.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/shared fixtures .*not found at \/nonexistent\/fixtures: .*\.\.\/shared\/fixtures.*PALISADE_FIXTURES/);
    // The summary line CI reads stays last.
    expect(lines.slice(1)).toEqual(['0 passed, 1 failed']);
  });

  it('npm start builds only when a build input changed', async () => {
    // A stand-in project whose build only counts its runs, with the real script.
    const dir = await mkdtemp(path.join(os.tmpdir(), 'palisade-prestart-'));
    await mkdir(path.join(dir, 'scripts'));
    await copyFile(path.join(root, 'scripts/build-if-stale.mjs'), path.join(dir, 'scripts/build-if-stale.mjs'));
    const build = "node -e \"const fs=require('fs');fs.mkdirSync('dist/bin',{recursive:true});fs.mkdirSync('web/dist',{recursive:true});fs.mkdirSync('dist/store-template',{recursive:true});fs.writeFileSync('dist/bin/palisade.js','');fs.writeFileSync('web/dist/index.html','');fs.writeFileSync('dist/store-template/manifest.json','{}');fs.appendFileSync('builds','x')\"";
    await writeFile(path.join(dir, 'package.json'), JSON.stringify({ name: 'stand-in', scripts: { build } }));
    await mkdir(path.join(dir, 'src'));
    await writeFile(path.join(dir, 'src/a.ts'), 'export {};\n');
    const prestart = () => spawnSync(process.execPath, ['scripts/build-if-stale.mjs'], { cwd: dir, encoding: 'utf8', timeout: 120_000 });
    const builds = async () => (await readFile(path.join(dir, 'builds'), 'utf8')).length;

    expect(prestart().stderr).toMatch(/^building: dist\/bin\/palisade.js, web\/dist\/index.html, dist\/store-template\/manifest.json missing/);
    expect(await builds()).toBe(1);
    const again = prestart();
    expect(again.status).toBe(0);
    expect(again.stderr).toMatch(/^build is current/);
    expect(await builds()).toBe(1);
    await writeFile(path.join(dir, 'src/a.ts'), 'export const changed = 1;\n');
    expect(prestart().stderr).toMatch(/sources changed/);
    expect(await builds()).toBe(2);
    await rm(path.join(dir, 'web/dist/index.html'));
    expect(prestart().stderr).toMatch(/web\/dist\/index\.html missing/);
    expect(await builds()).toBe(3);
  }, 120_000);
});
