/**
 * Publishing the advisory database file (file.ts): after an import or update the records in the
 * store are written into a new file version, kept in the store as a blob (migration 0201) so every
 * worker matches against the same version, and pointed to by palisade_meta `vulndb.file`.
 *
 * Local copies: with the embedded database the current file sits beside it
 * (`DATA_DIR/advisories.pvdb`, replaced atomically), which is what a one-shot `palisade scan` reads
 * without opening the database; with PostgreSQL each process caches versions it fetched under
 * `CACHE_DIR/advisories/VERSION.pvdb` and fetches a version once.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, open, readdir, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import type { Kysely } from 'kysely';
import { systemClock, type Clock } from '../core/index.js';
import type { Database, Store } from '../store/index.js';
import { AdvisoryFile, AdvisoryFileBuilder, type AdvisoryFileHeader, type AdvisoryFileStatus, type FileRecord } from './file.js';
import { diffAdvisoryFiles } from './diff.js';
import { recordPublishedChange, type PublishedChange } from './rematch-scope.js';
import { dbStatus, loadKysely, readGeneration, type DbStatus } from './store.js';

const ADVISORY_FILE_NAME = 'advisories.pvdb';
const POINTER_KEY = 'vulndb.file';
const CHUNK_BYTES = 8 * 1024 * 1024;
const PAGE = 20_000;

export interface VulnDbFileTable {
  version: string;
  generation: string;
  built_at: string | number;
  bytes: string | number;
  chunks: number;
}

export interface VulnDbFileChunkTable {
  version: string;
  seq: number;
  data: Uint8Array;
}

declare module '../store/schema.js' {
  interface Database {
    vuln_db_files: VulnDbFileTable;
    vuln_db_file_chunks: VulnDbFileChunkTable;
  }
}

/** `PALISADE_CACHE_DIR`, else `$XDG_CACHE_HOME/palisade`, else `~/.cache/palisade`. */
export function palisadeCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.PALISADE_CACHE_DIR) return path.resolve(env.PALISADE_CACHE_DIR);
  return path.join(env.XDG_CACHE_HOME ? path.resolve(env.XDG_CACHE_HOME) : path.join(homedir(), '.cache'), 'palisade');
}

/** The file a one-shot scan reads for an embedded data directory. */
export function dataDirAdvisoryFile(dataDir: string): string {
  return path.join(path.resolve(dataDir), ADVISORY_FILE_NAME);
}

type StoreLike = Pick<Store, 'db'> & Partial<Pick<Store, 'kind' | 'where'>>;

/** Where this process keeps a store's file version: beside an embedded database, or in the cache directory. */
function localPath(store: StoreLike, version: string): string {
  return store.kind === 'pglite' && store.where ? path.join(store.where, ADVISORY_FILE_NAME) : path.join(palisadeCacheDir(), 'advisories', `${version}.pvdb`);
}

function serializeStatus(status: DbStatus): AdvisoryFileStatus {
  const iso = (d: Date | undefined) => (d ? d.toISOString() : undefined);
  return {
    advisories: status.advisories,
    ecosystems: status.ecosystems.map((e) => ({
      ecosystem: e.ecosystem,
      advisories: e.advisories,
      ...(e.newestModified ? { newestModified: iso(e.newestModified)! } : {}),
      ...(e.lastUpdate ? { lastUpdate: iso(e.lastUpdate)! } : {}),
      ...(e.lastUpdateSource ? { lastUpdateSource: e.lastUpdateSource } : {}),
    })),
    ...(status.lastImport ? { lastImport: serializeImport(status.lastImport) } : {}),
  };
}

type LastImport = NonNullable<DbStatus['lastImport']>;
type FileLastImport = NonNullable<AdvisoryFileStatus['lastImport']>;

function serializeImport({ startedAt, finishedAt, ...rest }: LastImport): FileLastImport {
  return { ...rest, startedAt: startedAt.toISOString(), ...(finishedAt ? { finishedAt: finishedAt.toISOString() } : {}) };
}

function parseImport({ startedAt, finishedAt, ...rest }: FileLastImport): LastImport {
  return { ...rest, startedAt: new Date(startedAt), ...(finishedAt ? { finishedAt: new Date(finishedAt) } : {}) };
}

/** `db status` as the file recorded it, the same shape `dbStatus(store)` returns. */
export function fileStatus(file: AdvisoryFile): DbStatus {
  const s = file.header.status;
  const date = (v: string | undefined) => (v === undefined ? undefined : new Date(v));
  return {
    advisories: s.advisories,
    ecosystems: s.ecosystems.map((e) => ({
      ecosystem: e.ecosystem,
      advisories: e.advisories,
      ...(e.newestModified ? { newestModified: date(e.newestModified)! } : {}),
      ...(e.lastUpdate ? { lastUpdate: date(e.lastUpdate)! } : {}),
      ...(e.lastUpdateSource ? { lastUpdateSource: e.lastUpdateSource } : {}),
    })),
    ...(s.lastImport ? { lastImport: parseImport(s.lastImport) } : {}),
  };
}

/** Every (ecosystem, key, advisory) posting of records not withdrawn, page by page in key order. */
async function* postings(db: Kysely<Database>): AsyncGenerator<{ ecosystem: string; name: string; advisory_id: string }> {
  const { sql } = await loadKysely();
  let after: [string, string, string] | undefined;
  for (;;) {
    const page = await sql<{ ecosystem: string; name: string; advisory_id: string }>`
      select a.ecosystem, a.name, a.advisory_id from vuln_affected a join vuln_advisories v on v.id = a.advisory_id
      where not v.withdrawn ${after ? sql`and (a.ecosystem, a.name, a.advisory_id) > (${after[0]}, ${after[1]}, ${after[2]})` : sql``}
      order by a.ecosystem, a.name, a.advisory_id limit ${PAGE}`.execute(db);
    yield* page.rows;
    if (page.rows.length < PAGE) return;
    const last = page.rows[page.rows.length - 1]!;
    after = [last.ecosystem, last.name, last.advisory_id];
  }
}

/** The records in the builder's order, fetched a page of ids at a time. */
async function* recordsInOrder(db: Kysely<Database>, order: readonly string[]): AsyncGenerator<FileRecord> {
  const { sql } = await loadKysely();
  for (let i = 0; i < order.length; i += 2000) {
    const ids = order.slice(i, i + 2000);
    const rows = await sql<{ id: string; record: string }>`
      select id, record from vuln_advisories where id in (select json_array_elements_text(${JSON.stringify(ids)}::json))`.execute(db);
    const byId = new Map(rows.rows.map((r) => [r.id, r.record]));
    for (const id of ids) {
      const json = byId.get(id);
      if (json === undefined) throw new Error(`advisory ${id} disappeared while the advisory file was built`);
      yield { id, json };
    }
  }
}

/** Writes the store's current records to `file` (atomically); its header, without opening it (the caller opens the copy it keeps). */
async function buildAdvisoryFile(store: Pick<Store, 'db'>, file: string, clock: Clock = systemClock): Promise<AdvisoryFileHeader> {
  const generation = await readGeneration(store.db);
  const status = serializeStatus(await dbStatus(store));
  const builder = new AdvisoryFileBuilder();
  for await (const p of postings(store.db)) builder.addPosting(p.ecosystem, p.name, p.advisory_id);
  await mkdir(path.dirname(file), { recursive: true });
  return builder.write(file, recordsInOrder(store.db, builder.recordOrder()), { generation, builtAt: clock.now(), status });
}

/**
 * Builds the file from the store's records, keeps it in the store as a blob and makes it the
 * current version. Called by `importOsv` and `updateFromOsvDev` when they finish.
 */
export async function publishAdvisoryFile(store: StoreLike, options: { clock?: Clock } = {}): Promise<AdvisoryFile> {
  const clock = options.clock ?? systemClock;
  const staging = path.join(store.kind === 'pglite' && store.where ? store.where : path.join(palisadeCacheDir(), 'advisories'), `.building-${process.pid}-${Date.now()}.pvdb`);
  // The version being replaced, opened before the new one takes its place (beside an embedded database they share a name).
  const previous = await previousVersionFile(store);
  const header = await buildAdvisoryFile(store, staging, clock);
  const { version } = header;
  try {
    const change = await changeSince(previous, staging, version);
    await storeBlob(store.db, header, staging, change, clock.now().getTime());
  } catch (error) {
    await rm(staging, { force: true });
    throw error;
  } finally {
    if (previous.file && previous.file !== openFiles.get(store.db)?.file) previous.file.close();
  }
  const target = localPath(store, version);
  await mkdir(path.dirname(target), { recursive: true });
  await rename(staging, target);
  forgetOpenFile(store.db);
  if (store.kind !== 'pglite') await pruneCache(version);
  return AdvisoryFile.open(target);
}

interface PreviousVersion {
  version?: string;
  file?: AdvisoryFile;
  /** Why there is no file to compare with. */
  why?: string;
}

/** The currently published version and its file, when this process can open it (local copy, else fetched from the store). */
async function previousVersionFile(store: StoreLike): Promise<PreviousVersion> {
  const version = await publishedVersion(store.db);
  if (!version) return { why: 'no advisory database version was published before (first import or update)' };
  const open = openFiles.get(store.db)?.file;
  if (open?.version === version) return { version, file: open };
  const local = localPath(store, version);
  try {
    let file = tryOpen(local, version);
    if (!file && (await downloadAdvisoryFile(store.db, version, local))) file = tryOpen(local, version);
    return file ? { version, file } : { version, why: `the previous advisory database version ${version} is gone` };
  } catch (error) {
    return { version, why: `the previous advisory database version ${version} cannot be read: ${(error as Error).message}` };
  }
}

/**
 * What the new file changed against the previous version, package by package, or `full` when
 * there is nothing to compare with (or the comparison failed: re-matching everything is never wrong).
 */
async function changeSince(previous: PreviousVersion, staging: string, version: string): Promise<PublishedChange> {
  const base = { version, ...(previous.version ? { previous: previous.version } : {}) };
  if (!previous.file) return { ...base, full: true, reason: previous.why ?? 'no previous version', packages: [] };
  let next: AdvisoryFile | undefined;
  try {
    next = AdvisoryFile.open(staging);
    return { ...base, full: false, packages: await diffAdvisoryFiles(previous.file, next) };
  } catch (error) {
    return { ...base, full: true, reason: `comparing with version ${previous.version} failed: ${(error as Error).message}`, packages: [] };
  } finally {
    next?.close();
  }
}

async function storeBlob(db: Kysely<Database>, header: AdvisoryFileHeader, bytesPath: string, change: PublishedChange, at: number): Promise<void> {
  const { sql } = await loadKysely();
  const { version, generation, builtAt } = header;
  const handle = await open(bytesPath, 'r');
  try {
    const size = (await handle.stat()).size;
    const chunks = Math.max(1, Math.ceil(size / CHUNK_BYTES));
    await db.transaction().execute(async (trx) => {
      const previous = await trx.selectFrom('palisade_meta').select('value').where('key', '=', POINTER_KEY).executeTakeFirst();
      const exists = await trx.selectFrom('vuln_db_files').select('version').where('version', '=', version).executeTakeFirst();
      if (!exists) {
        await trx.insertInto('vuln_db_files').values({ version, generation, built_at: Date.parse(builtAt), bytes: size, chunks }).execute();
        for (let seq = 0; seq < chunks; seq++) {
          const length = Math.min(CHUNK_BYTES, size - seq * CHUNK_BYTES);
          const data = Buffer.alloc(length);
          await handle.read(data, 0, length, seq * CHUNK_BYTES);
          await trx.insertInto('vuln_db_file_chunks').values({ version, seq, data }).execute();
        }
      }
      // What re-matching must cover: nothing when the same content is published again; everything
      // when another process published a version after the one this change was computed against.
      if (previous?.value !== version) {
        const raced = change.previous !== previous?.value;
        await recordPublishedChange(trx, raced
          ? { version, ...(previous?.value ? { previous: previous.value } : {}), full: true, reason: `version ${previous?.value ?? '(none)'} was published while this one was built`, packages: [] }
          : change, at);
      }
      await sql`insert into palisade_meta (key, value) values (${POINTER_KEY}, ${version})
        on conflict (key) do update set value = excluded.value`.execute(trx);
      // Keep the version just replaced (a worker may be fetching it); drop the older ones.
      const keep = [version, previous?.value].filter((v): v is string => !!v);
      await trx.deleteFrom('vuln_db_files').where('version', 'not in', keep).execute();
    });
  } finally {
    await handle.close();
  }
}

async function publishedVersion(db: Kysely<Database>): Promise<string | undefined> {
  const row = await db.selectFrom('palisade_meta').select('value').where('key', '=', POINTER_KEY).executeTakeFirst();
  return row?.value;
}

/** Fetches a version's blob from the store into `file` (atomically), checking its size and hash of content. */
async function downloadAdvisoryFile(db: Kysely<Database>, version: string, file: string): Promise<boolean> {
  const meta = await db.selectFrom('vuln_db_files').selectAll().where('version', '=', version).executeTakeFirst();
  if (!meta) return false;
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  const out = await open(tmp, 'w');
  const hash = createHash('sha256');
  let written = 0;
  try {
    for (let seq = 0; seq < meta.chunks; seq++) {
      const row = await db.selectFrom('vuln_db_file_chunks').select('data').where('version', '=', version).where('seq', '=', seq).executeTakeFirst();
      if (!row) throw new Error(`advisory file ${version}: chunk ${seq} is missing from the store`);
      const data = row.data instanceof Uint8Array ? row.data : Buffer.from(row.data as ArrayBuffer);
      hash.update(data);
      await out.write(data, 0, data.length, written);
      written += data.length;
    }
    if (written !== Number(meta.bytes)) throw new Error(`advisory file ${version}: ${written} bytes fetched, ${meta.bytes} expected`);
    await out.close();
    await rename(tmp, file);
    return true;
  } catch (error) {
    await out.close().catch(() => {});
    await rm(tmp, { force: true });
    throw error;
  }
}

interface OpenState {
  file?: AdvisoryFile;
  checkedAt: number;
  pending?: Promise<AdvisoryFile>;
}

const openFiles = new WeakMap<object, OpenState>();

function forgetOpenFile(db: object): void {
  const state = openFiles.get(db);
  if (state) state.checkedAt = 0;
}

/**
 * The store's current advisory file, open in this process. The published version is checked at
 * most every `maxAgeMs` (one small query), so matching never waits on SQL; a new version is
 * fetched once into the local copy and swapped in. A store that has records but no published
 * file (written by an earlier Palisade) gets one built now.
 */
export async function currentAdvisoryFile(store: StoreLike, maxAgeMs = 1000): Promise<AdvisoryFile> {
  let state = openFiles.get(store.db);
  if (!state) {
    state = { checkedAt: 0 };
    openFiles.set(store.db, state);
  }
  if (state.file && Date.now() - state.checkedAt < maxAgeMs) return state.file;
  const s = state;
  s.pending ??= refresh(store, s).finally(() => (s.pending = undefined));
  return s.pending;
}

async function refresh(store: StoreLike, state: OpenState): Promise<AdvisoryFile> {
  const version = await publishedVersion(store.db);
  state.checkedAt = Date.now();
  if (version && state.file?.version === version) return state.file;
  let next: AdvisoryFile | undefined;
  if (version) {
    const local = localPath(store, version);
    next = tryOpen(local, version);
    if (!next && (await downloadAdvisoryFile(store.db, version, local))) next = tryOpen(local, version);
  }
  next ??= await publishAdvisoryFile(store);
  state.file = next;
  state.checkedAt = Date.now();
  // The file replaced is not closed here: a scan that took it before the swap may still be
  // matching with it. Its descriptor closes when nothing holds it (AdvisoryFile's finalizer).
  if (store.kind !== 'pglite') void pruneCache(next.version);
  return next;
}

function tryOpen(file: string, version: string): AdvisoryFile | undefined {
  if (!existsSync(file)) return undefined;
  try {
    const opened = AdvisoryFile.open(file);
    if (opened.version === version) return opened;
    opened.close();
  } catch {
    // A damaged local copy is fetched again.
  }
  return undefined;
}

/** Drops cached versions other than the current one (a process still reading an old one keeps its open descriptor). */
async function pruneCache(current: string): Promise<void> {
  const dir = path.join(palisadeCacheDir(), 'advisories');
  try {
    const names = (await readdir(dir)).filter((n) => n.endsWith('.pvdb') && n !== `${current}.pvdb` && !n.startsWith('.'));
    for (const n of names) await rm(path.join(dir, n), { force: true });
  } catch {
    // The cache is an optimisation: never fail a match over it.
  }
}

/** Opens the advisory file of an embedded data directory, or undefined when there is none yet. */
export function openDataDirAdvisoryFile(dataDir: string): AdvisoryFile | undefined {
  const file = dataDirAdvisoryFile(dataDir);
  return existsSync(file) ? AdvisoryFile.open(file) : undefined;
}
