import { createHash } from 'node:crypto';
import { copyFile, cp, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { migrationFiles } from './migrate.js';

/**
 * A new embedded database starts as a copy of one made at build time (`npm run build`): initdb and
 * every migration, run once there, instead of at each first start (tens of seconds on a loaded
 * machine). The copy is used only when it was made from exactly the migrations this build ships
 * (names and contents) and the installed PGlite; anything else initialises and migrates as before.
 */
export const STORE_TEMPLATE_DIR = path.join(import.meta.dirname, '..', 'store-template');
const MANIFEST = 'manifest.json';

interface TemplateManifest {
  fingerprint: string;
  migrations: string[];
  pglite: string;
}

async function pgliteVersion(): Promise<string> {
  // The package's exports do not include its package.json: find it from its entry point.
  let dir = path.dirname(fileURLToPath(import.meta.resolve('@electric-sql/pglite')));
  while (path.basename(dir) !== 'pglite' && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return (JSON.parse(await readFile(path.join(dir, 'package.json'), 'utf8')) as { version: string }).version;
}

/** What a template must have been made from: the PGlite version and each migration's name and content. */
async function currentManifest(): Promise<TemplateManifest> {
  const files = await migrationFiles();
  const pglite = await pgliteVersion();
  const hash = createHash('sha256').update(`pglite ${pglite}\n`);
  for (const file of files) hash.update(`${path.basename(file)}\0`).update(await readFile(file)).update('\0');
  return { fingerprint: hash.digest('hex'), migrations: files.map((f) => path.basename(f)), pglite };
}

/**
 * Fills an empty (or missing) PGlite data directory from the build's template when it matches this
 * build. Returns false, changing nothing, when there is no matching template or the directory is not empty.
 * The caller holds the data directory's lock.
 */
export async function seedFromTemplate(pgdata: string, templateDir = STORE_TEMPLATE_DIR): Promise<boolean> {
  const recorded = await readFile(path.join(templateDir, MANIFEST), 'utf8').then((text) => JSON.parse(text) as TemplateManifest, () => undefined);
  if (!recorded) return false;
  if ((await readdir(pgdata).catch(() => [])).length) return false;
  if (recorded.fingerprint !== (await currentManifest()).fingerprint) return false;
  // Copied beside it and renamed into place, so a copy cut short never looks like a database.
  const staging = `${pgdata}.seeding-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  try {
    await copyTree(path.join(templateDir, 'pgdata'), staging);
    await rm(pgdata, { recursive: true, force: true });
    await rename(staging, pgdata);
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
  return true;
}

/**
 * A data directory is some 1,300 files: copied several at a time, which takes a third less than
 * fs.cp's one after another (writes wait on the disk, not the CPU).
 */
async function copyTree(from: string, to: string): Promise<void> {
  const entries = await readdir(from, { withFileTypes: true, recursive: true });
  const inside = (entry: { parentPath: string; name: string }) => path.relative(from, path.join(entry.parentPath, entry.name));
  await mkdir(to, { recursive: true });
  // Sorted, so each directory is made after its parent.
  for (const dir of entries.filter((e) => e.isDirectory()).map(inside).sort()) await mkdir(path.join(to, dir));
  const files = entries.filter((e) => e.isFile()).map(inside);
  let next = 0;
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (next < files.length) {
      const file = files[next++]!;
      await copyFile(path.join(from, file), path.join(to, file));
    }
  }));
}

/** Keeps a freshly migrated, closed PGlite data directory as the template (the build's last store step). */
export async function writeTemplate(pgdata: string, templateDir = STORE_TEMPLATE_DIR): Promise<void> {
  await rm(templateDir, { recursive: true, force: true });
  await mkdir(templateDir, { recursive: true });
  await cp(pgdata, path.join(templateDir, 'pgdata'), { recursive: true });
  await writeFile(path.join(templateDir, MANIFEST), `${JSON.stringify(await currentManifest(), null, 2)}\n`);
}
