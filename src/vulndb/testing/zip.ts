/** Test and benchmark helper: builds zip archives in memory or on disk with yazl. */
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { crc32, deflateRawSync } from 'node:zlib';
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
 * A large archive for benchmarks, written entry by entry with synchronous deflate. Hand-written
 * because yazl either deflates every buffered entry at once (200k zlib contexts: out of memory)
 * or opens a stream per lazy entry (over ten minutes for 200k on these machines). It writes
 * plain deflate entries and a zip64 end record (more than 65,535 entries); yauzl reads it back
 * in the benchmark itself, which checks the format.
 */
export async function writeLargeZip(file: string, entries: Iterable<[name: string, content: string]>): Promise<void> {
  const out = createWriteStream(file);
  const central: Buffer[] = [];
  let offset = 0;
  let count = 0;
  const write = async (chunk: Buffer): Promise<void> => {
    offset += chunk.length;
    if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', resolve));
  };
  for (const [name, content] of entries) {
    const data = Buffer.from(content);
    const deflated = deflateRawSync(data);
    const nameBytes = Buffer.from(name);
    const crc = crc32(data) >>> 0;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(8, 8); // deflate
    local.writeUInt32LE(0, 10); // DOS time and date
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(deflated.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    local.writeUInt16LE(0, 28);
    const header = Buffer.alloc(46);
    header.writeUInt32LE(0x02014b50, 0);
    header.writeUInt16LE(45, 4); // made by
    header.writeUInt16LE(20, 6);
    header.writeUInt16LE(0x0800, 8);
    header.writeUInt16LE(8, 10);
    header.writeUInt32LE(0, 12);
    header.writeUInt32LE(crc, 16);
    header.writeUInt32LE(deflated.length, 20);
    header.writeUInt32LE(data.length, 24);
    header.writeUInt16LE(nameBytes.length, 28);
    header.writeUInt32LE(offset, 42); // local header offset (archives here stay below 4 GiB)
    central.push(header, nameBytes);
    await write(Buffer.concat([local, nameBytes, deflated]));
    count++;
  }
  const cdStart = offset;
  for (const chunk of central) await write(chunk);
  const cdSize = offset - cdStart;
  const zip64End = Buffer.alloc(56);
  zip64End.writeUInt32LE(0x06064b50, 0);
  zip64End.writeBigUInt64LE(44n, 4);
  zip64End.writeUInt16LE(45, 12);
  zip64End.writeUInt16LE(45, 14);
  zip64End.writeBigUInt64LE(BigInt(count), 24);
  zip64End.writeBigUInt64LE(BigInt(count), 32);
  zip64End.writeBigUInt64LE(BigInt(cdSize), 40);
  zip64End.writeBigUInt64LE(BigInt(cdStart), 48);
  const zip64EndOffset = offset;
  const locator = Buffer.alloc(20);
  locator.writeUInt32LE(0x07064b50, 0);
  locator.writeBigUInt64LE(BigInt(zip64EndOffset), 8);
  locator.writeUInt32LE(1, 16);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(0xffff, 8);
  end.writeUInt16LE(0xffff, 10);
  end.writeUInt32LE(0xffffffff, 12);
  end.writeUInt32LE(0xffffffff, 16);
  await write(Buffer.concat([zip64End, locator, end]));
  await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
}
