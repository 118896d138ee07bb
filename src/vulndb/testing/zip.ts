/** Test and benchmark helper: builds zip archives in memory or on disk with yazl. */
import { createWriteStream } from 'node:fs';
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
