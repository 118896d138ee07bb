/**
 * Data corruption is loud (issue 14 point 6). PostgreSQL reports a damaged page or a failed
 * checksum as SQLSTATE XX001 (`data_corrupted`, "invalid page in block N of relation
 * base/DB/FILENODE", "page verification failed, calculated checksum …") and a damaged index as
 * XX002 (`index_corrupted`). Every query of the store passes through {@link CorruptionWatch.note}
 * (Kysely's error log and the pg-boss executor), so the first such error anywhere marks the store
 * corrupt: readiness fails, the API answers 503 `store_corrupt`, and the log names the relation
 * and how to restore. The mark stays until the process restarts: a damaged block does not heal,
 * and answering from a store that lost rows would hide it.
 */
import { systemClock, type Clock } from '../core/index.js';
export interface CorruptionReport {
  /** XX001 or XX002 (or `checksum` when only the message says so). */
  code: string;
  /** `public.alerts` when it could be resolved, else the file path from the message (`base/16384/16397`). */
  relation: string | undefined;
  /** PostgreSQL's own message. */
  detail: string;
  /** What the operator should do. */
  restore: string;
  at: Date;
}

const CORRUPTION_CODES = new Set(['XX001', 'XX002']);
const CORRUPTION_MESSAGE = /invalid page in block|page verification failed|checksum mismatch|could not read block \d+ in file/i;
const RELATION_FILE = /relation "?((?:base|global|pg_tblspc)\/[\w/.]+)"?/i;
const RELATION_NAME = /(?:relation|index|table) "([^"]+)"/i;

/** The corruption an error reports, if it is one (a PostgreSQL or PGlite error with code XX001/XX002, or a checksum message). */
export function corruptionOf(error: unknown): { code: string; detail: string; file?: string; name?: string } | undefined {
  if (!(error instanceof Error)) return undefined;
  const code = (error as Error & { code?: unknown }).code;
  const isCoded = typeof code === 'string' && CORRUPTION_CODES.has(code);
  if (!isCoded && !CORRUPTION_MESSAGE.test(error.message)) return undefined;
  const file = RELATION_FILE.exec(error.message)?.[1];
  const name = file ? undefined : RELATION_NAME.exec(error.message)?.[1];
  return { code: isCoded ? code : 'checksum', detail: error.message, ...(file ? { file } : {}), ...(name ? { name } : {}) };
}

export function restoreAdvice(kind: 'pglite' | 'postgres', relation: string | undefined): string {
  const what = relation ? `relation ${relation}` : 'a relation';
  return kind === 'postgres'
    ? `PostgreSQL reports ${what} as corrupted. Stop every palisade server and worker, then restore the database from your latest backup (pg_restore of a pg_dump, or point-in-time recovery). `
      + 'To save what is still readable first, pg_dump each other table (pg_dump --exclude-table=RELATION), and check the disk and memory of the database host. '
      + 'An index (XX002) can be rebuilt in place with REINDEX. Restart palisade afterwards; see docs/security.md, "Corruption".'
    : `the embedded database reports ${what} as corrupted. Stop palisade, move PALISADE_DATA_DIR aside and restore it from your latest backup of that directory `
      + '(or start empty and let registries and clusters report again). Check the disk. Restart palisade afterwards; see docs/security.md, "Corruption".';
}

export class CorruptionWatch {
  #report: CorruptionReport | undefined;
  readonly #listeners: Array<(report: CorruptionReport) => void> = [];
  readonly #seen = new Set<string>();

  constructor(
    private readonly kind: 'pglite' | 'postgres',
    /** Maps a file path (`base/16384/16397`) to `schema.table`; best effort. */
    private readonly resolveFile: (file: string) => Promise<string | undefined> = async () => undefined,
    private readonly clock: Clock = systemClock,
  ) {}

  /** The first corruption seen since start, if any. */
  current(): CorruptionReport | undefined {
    return this.#report;
  }

  /** Called with every failed query; reports each corrupted relation once. */
  note(error: unknown): void {
    const found = corruptionOf(error);
    if (!found) return;
    const key = `${found.code}:${found.file ?? found.name ?? found.detail}`;
    if (this.#seen.has(key)) return;
    this.#seen.add(key);
    // Known at once with the file path; the table name follows when the catalogue answers.
    const report: CorruptionReport = { code: found.code, relation: found.name ?? found.file, detail: found.detail, restore: restoreAdvice(this.kind, found.name ?? found.file), at: this.clock.now() };
    this.#report ??= report;
    const publish = (final: CorruptionReport) => {
      if (this.#report === report) this.#report = final;
      for (const listener of this.#listeners) listener(final);
    };
    if (!found.file) return publish(report);
    this.resolveFile(found.file).then(
      (name) => publish(name ? { ...report, relation: `${name} (${found.file})`, restore: restoreAdvice(this.kind, name) } : report),
      () => publish(report),
    );
  }

  onReport(listener: (report: CorruptionReport) => void): void {
    this.#listeners.push(listener);
  }
}
