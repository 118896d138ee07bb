/** Test and benchmark helper: builds zip archives in memory or on disk with yazl. */
import { createWriteStream } from 'node:fs';
import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import yazl from 'yazl';

export type ZipEntries = Iterable<[name: string, content: string | Buffer]>;

function build(entries: ZipEntries, compress: boolean): yazl.ZipFile {
  const zip = new yazl.ZipFile();
  for (const [name, content] of entries) zip.addBuffer(Buffer.isBuffer(content) ? content : Buffer.from(content), name, { compress });
  zip.end();
  return zip;
}

export async function zipToBuffer(entries: ZipEntries, compress = true): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of build(entries, compress).outputStream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export async function zipToFile(file: string, entries: ZipEntries, compress = true): Promise<void> {
  await pipeline(build(entries, compress).outputStream, createWriteStream(file));
}

/**
 * A large archive without holding it in memory: yazl asks for each entry's content only when it
 * writes that entry (addBuffer would deflate every entry at once and exhaust memory at 200k).
 */
export async function zipLazyToFile(file: string, count: number, entry: (index: number) => [name: string, content: string]): Promise<void> {
  // Entry names are `records/INDEX.json`: the importer reads records, not names.
  const zip = new yazl.ZipFile();
  for (let i = 0; i < count; i++) {
    const index = i;
    zip.addReadStreamLazy(`records/${index}.json`, {}, (callback) => {
      callback(null, new PassThrough().end(Buffer.from(entry(index)[1])));
    });
  }
  zip.end();
  await pipeline(zip.outputStream, createWriteStream(file));
}
