// `npm start` runs this first: it builds only when a build input changed since the last build, so a
// second start takes seconds instead of the full TypeScript and dashboard build.
//   node scripts/build-if-stale.mjs           build when stale, then record the inputs
//   node scripts/build-if-stale.mjs --stamp   record the inputs (the end of `npm run build`)
// The fingerprint is a hash of every input's path, size and modification time, so an edit, a
// `git pull` or a new dependency each cause a rebuild, and a deleted output too.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

process.chdir(path.join(import.meta.dirname, '..'));

const INPUT_DIRS = ['src', 'web'];
const INPUT_FILES = ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'scripts/copy-assets.mjs', 'scripts/build-store-template.mjs', 'scripts/bundle.mjs'];
const SKIPPED = new Set(['node_modules', 'dist']);
// The embedded database template is an output too: without it every new data directory is initialised from scratch.
const OUTPUTS = ['dist/bin/palisade.js', 'web/dist/index.html', 'dist/store-template/manifest.json'];
const STAMP = 'dist/.build-inputs';

function listFiles(dir, found) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (SKIPPED.has(entry.name)) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) listFiles(full, found);
    else if (entry.isFile()) found.push(full);
  }
  return found;
}

function fingerprint() {
  const files = [...INPUT_DIRS.flatMap((dir) => (existsSync(dir) ? listFiles(dir, []) : [])), ...INPUT_FILES.filter((f) => existsSync(f))].sort();
  const hash = createHash('sha256');
  for (const file of files) {
    const stat = statSync(file);
    hash.update(`${file}\0${stat.size}\0${stat.mtimeMs}\n`);
  }
  return { hash: hash.digest('hex'), files: files.length };
}

const current = fingerprint();
if (process.argv.includes('--stamp')) {
  writeFileSync(STAMP, `${current.hash}\n`);
  process.exit(0);
}

const recorded = existsSync(STAMP) ? readFileSync(STAMP, 'utf8').trim() : '';
const missing = OUTPUTS.filter((f) => !existsSync(f));
if (recorded === current.hash && !missing.length) {
  console.error(`build is current (${current.files} inputs unchanged since the last build); starting`);
  process.exit(0);
}
console.error(missing.length ? `building: ${missing.join(', ')} missing` : recorded ? 'building: sources changed since the last build' : 'building: first build');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const build = spawnSync(npm, ['run', 'build', '--silent'], { stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);
// The inputs as they were when the build began: an edit made during the build rebuilds next time.
writeFileSync(STAMP, `${current.hash}\n`);
