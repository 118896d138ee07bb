import { promisify } from 'node:util';
import yauzl from 'yauzl';
import { purl } from './purl.js';
import type { Cataloger, FileAnalysis, FoundPackage } from './types.js';

/**
 * Java archives: each `META-INF/maven/GROUP/ARTIFACT/pom.properties` inside a jar/war/ear is one
 * Maven artifact; jars inside jars (Spring Boot `BOOT-INF/lib`, `WEB-INF/lib`) are opened in memory,
 * bounded in depth and size. Path is `outer.jar!inner.jar` for nested artifacts.
 */
const ARCHIVE = /\.(?:jar|war|ear|par|sar|jpi|hpi)$/i;
const POM_PROPERTIES = /^META-INF\/maven\/[^/]+\/[^/]+\/pom\.properties$/;
const MAX_ARCHIVE = 128 * 1024 * 1024;
const MAX_NESTED = 64 * 1024 * 1024;
const MAX_DEPTH = 3;

const fromBuffer = promisify(yauzl.fromBuffer) as (buffer: Buffer, options: yauzl.Options) => Promise<yauzl.ZipFile>;

export function parsePomProperties(text: string): { groupId?: string; artifactId?: string; version?: string } {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*([\w.]+)\s*[=:]\s*(.*?)\s*$/.exec(line);
    if (m && !line.trimStart().startsWith('#')) out[m[1]!] = m[2]!;
  }
  return out;
}

async function readEntry(zip: yauzl.ZipFile, entry: yauzl.Entry, max: number): Promise<Buffer | undefined> {
  if (entry.uncompressedSize > max) return undefined;
  const stream = await promisify(zip.openReadStream.bind(zip))(entry);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

export async function parseJavaArchive(content: Buffer, path: string, depth = 0, warnings: string[] = []): Promise<FoundPackage[]> {
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
            const data = await readEntry(zip, entry, 64 * 1024);
            const p = data ? parsePomProperties(data.toString('utf8')) : {};
            if (p.groupId && p.artifactId && p.version) {
              const name = `${p.groupId}:${p.artifactId}`;
              packages.push({ name, version: p.version, ecosystem: 'Maven', purl: purl('maven', p.groupId, p.artifactId, p.version), path });
            }
          } else if (ARCHIVE.test(entry.fileName) && !entry.fileName.endsWith('/')) {
            if (depth + 1 > MAX_DEPTH) warnings.push(`java: ${path}!${entry.fileName}: nested too deeply; skipped`);
            else {
              const inner = await readEntry(zip, entry, MAX_NESTED);
              if (inner) packages.push(...(await parseJavaArchive(inner, `${path}!${entry.fileName}`, depth + 1, warnings)));
              else warnings.push(`java: ${path}!${entry.fileName}: larger than ${MAX_NESTED} bytes; skipped`);
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
  version: 1,
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
