import type { InstalledPackage } from '../../core/index.js';

/** What a layer reader knows about a file before reading it. */
export interface FileFacts {
  /** Path inside the image, without a leading slash (`var/lib/dpkg/status`). */
  path: string;
  size: number;
  mode: number;
}

export interface CatalogFile extends FileFacts {
  content: Buffer;
}

/** A package as a cataloger reads it; the layer is filled in when layers are merged. */
export type FoundPackage = Omit<InstalledPackage, 'layer'>;

/** OS identity read from one release file; detection picks among candidates by file priority. */
export interface OsCandidate {
  id: string;
  version: string;
  prettyName?: string;
  /** Lower is preferred (os-release before the older release files). */
  priority: number;
  distroless?: boolean;
}

/** What one file contributed. Plain JSON: layer analyses are cached. */
export interface FileAnalysis {
  packages?: FoundPackage[];
  os?: OsCandidate;
  /** Paths (no leading slash) an OS package manager says it installed: language packages there are not reported twice. */
  owned?: string[];
  warnings?: string[];
}

/** Receives a large file's bytes as they stream by, for catalogers that look for a marker (Go build info). */
export interface FileSink {
  write(chunk: Buffer): void;
  end(): FileAnalysis | undefined;
}

/** A file's bytes by position: what a layer read in place offers, so a few parts of a large file are read and not the rest. */
export interface FileBytes {
  readonly length: number;
  /** Bytes [start, end) of the file; throws when the range is outside it. */
  slice(start: number, end: number): Buffer;
}

/**
 * One package format. Pure: file contents in, packages out. A cataloger either reads whole files
 * (`wants` + `analyze`, kept in memory up to `maxBytes`) or watches a stream (`streams` + `sink`).
 * A streaming cataloger may also `inspect` the same files by position where the layer allows it
 * (a `docker save` layer read in place): it must answer what its sink answers for the whole stream.
 */
export interface Cataloger {
  name: string;
  /** Bump when output changes: cached layer analyses are keyed by it. */
  version: number;
  wants?(file: FileFacts): boolean;
  maxBytes?: number;
  analyze?(file: CatalogFile): FileAnalysis | undefined | Promise<FileAnalysis | undefined>;
  streams?(file: FileFacts): boolean;
  sink?(file: FileFacts): FileSink;
  inspect?(file: FileFacts, bytes: FileBytes): FileAnalysis | undefined;
}

export function basename(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? path : path.slice(i + 1);
}

export function dirname(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}
