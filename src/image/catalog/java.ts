import { promisify } from 'node:util';
import yauzl from 'yauzl';
import { purl } from './purl.js';
import type { Cataloger, FileAnalysis, FoundPackage } from './types.js';

/**
 * Java archives: each `META-INF/maven/GROUP/ARTIFACT/pom.properties` inside a jar/war/ear is one
 * Maven artifact; jars inside jars (Spring Boot `BOOT-INF/lib`, `WEB-INF/lib`) are opened in memory,
 * bounded in depth, size and expansion while they inflate. Path is `outer.jar!inner.jar` for nested
 * artifacts. A nested archive over a limit is skipped with a warning naming it and the limit; the
 * rest of the image is still read.
 */
const ARCHIVE = /\.(?:jar|war|ear|par|sar|jpi|hpi)$/i;
const POM_PROPERTIES = /^META-INF\/maven\/[^/]+\/[^/]+\/pom\.properties$/;
const MAX_ARCHIVE = 128 * 1024 * 1024;
/** Nested archives held at once along one chain (outer.jar!a.jar!b.jar holds a and b): their sizes together. */
const MAX_NESTED = 64 * 1024 * 1024;
const MAX_DEPTH = 3;
/** Past 1 MiB inflated, an entry growing more than this many times its compressed size is a zip bomb. */
export const MAX_ZIP_RATIO = 200;
const RATIO_CHECK_AFTER = 1024 * 1024;

const fromBuffer = promisify(yauzl.fromBuffer) as (buffer: Buffer, options: yauzl.Options) => Promise<yauzl.ZipFile>;

export function parsePomProperties(text: string): { groupId?: string; artifactId?: string; version?: string } {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*([\w.]+)\s*[=:]\s*(.*?)\s*$/.exec(line);
    if (m && !line.trimStart().startsWith('#')) out[m[1]!] = m[2]!;
  }
  return out;
}

type EntryRead = { data: Buffer } | { refused: string };

/** Inflates one entry, stopping as soon as it passes `max` bytes or the expansion limit. */
async function readEntry(zip: yauzl.ZipFile, entry: yauzl.Entry, max: number): Promise<EntryRead> {
  if (entry.uncompressedSize > max) return { refused: `declares ${entry.uncompressedSize} bytes, over the ${max} byte limit` };
  const stream = await promisify(zip.openReadStream.bind(zip))(entry);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) return { refused: `larger than the ${max} byte limit` };
    if (size > RATIO_CHECK_AFTER && size > MAX_ZIP_RATIO * Math.max(1, entry.compressedSize)) {
      return { refused: `expands more than ${MAX_ZIP_RATIO}× its ${entry.compressedSize} compressed bytes (zip bomb?)` };
    }
    chunks.push(chunk);
  }
  return { data: Buffer.concat(chunks) };
}

/**
 * `budget` is what nested archives below this one may still hold in memory; each level passes on
 * what its own copy leaves, so a chain of nested jars never holds more than MAX_NESTED together.
 */
export async function parseJavaArchive(content: Buffer, path: string, depth = 0, warnings: string[] = [], budget = MAX_NESTED): Promise<FoundPackage[]> {
  const packages: FoundPackage[] = [];
  let zip: yauzl.ZipFile;
  try {
    zip = await fromBuffer(content, { lazyEntries: true, validateEntrySizes: true });
  } catch (error) {
    warnings.push(`java: ${path} is not a readable archive: ${(error as Error).message}`);
    return packages;
  }
  try {
    await new Promise<void>((resolve, reject) => {
      zip.on('entry', (entry: yauzl.Entry) => {
        void (async () => {
          if (POM_PROPERTIES.test(entry.fileName)) {
            const read = await readEntry(zip, entry, 64 * 1024);
            const p = 'data' in read ? parsePomProperties(read.data.toString('utf8')) : {};
            if (p.groupId && p.artifactId && p.version) {
              const name = `${p.groupId}:${p.artifactId}`;
              packages.push({ name, version: p.version, ecosystem: 'Maven', purl: purl('maven', p.groupId, p.artifactId, p.version), path });
            }
          } else if (ARCHIVE.test(entry.fileName) && !entry.fileName.endsWith('/')) {
            const inner = `${path}!${entry.fileName}`;
            if (depth + 1 > MAX_DEPTH) warnings.push(`java: ${inner}: nested too deeply; skipped`);
            else {
              const read = await readEntry(zip, entry, budget);
              if ('data' in read) packages.push(...(await parseJavaArchive(read.data, inner, depth + 1, warnings, budget - read.data.length)));
              else warnings.push(`java: ${inner}: ${read.refused}; skipped`);
            }
          }
        })().then(() => zip.readEntry(), reject);
      });
      zip.on('end', () => resolve());
      zip.on('error', reject);
      zip.readEntry();
    });
  } catch (error) {
    warnings.push(`java: ${path}: ${(error as Error).message}`);
  } finally {
    zip.close();
  }
  return packages;
}

export const javaCataloger: Cataloger = {
  name: 'java',
  version: 2,
  maxBytes: MAX_ARCHIVE,
  wants: (f) => ARCHIVE.test(f.path),
  async analyze(file): Promise<FileAnalysis> {
    const warnings: string[] = [];
    const packages = await parseJavaArchive(file.content, file.path, 0, warnings);
    // The same artifact can be both a shaded copy and its own pom: report it once per archive path.
    const seen = new Set<string>();
    const unique = packages.filter((p) => {
      const key = `${p.name}@${p.version}@${p.path}`;
      return seen.has(key) ? false : (seen.add(key), true);
    });
    return { packages: unique, ...(warnings.length ? { warnings } : {}) };
  },
};
