import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { PalisadeError } from '../../core/index.js';
import { AuditLineDecoder, type AuditSink, type DecodeContext } from './decode.js';

/**
 * Offline audit log files: the apiserver log backend (`--audit-log-path`, JSON lines), its rotated
 * siblings (`audit-2024-05-01T12-00-00.000.log`) and gzipped ones (`--audit-log-compress`).
 * Gzip is recognised by its magic bytes, not the name, so any rotation scheme works. Files are
 * streamed line by line: a multi-gigabyte log never sits in memory.
 */
async function isGzip(path: string): Promise<boolean> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(2);
    const { bytesRead } = await handle.read(buffer, 0, 2, 0);
    return bytesRead === 2 && buffer[0] === 0x1f && buffer[1] === 0x8b;
  } finally {
    await handle.close();
  }
}

async function lines(stream: Readable, decoder: AuditLineDecoder): Promise<void> {
  const rl = createInterface({ input: stream, crlfDelay: Infinity });
  for await (const line of rl) decoder.push(line);
  decoder.end();
}

/** Streams one audit file into the sink; returns the number of lines read. */
export async function readAuditFile(path: string, sink: AuditSink, ctx: DecodeContext = {}): Promise<number> {
  try {
    await stat(path);
  } catch (error) {
    throw new PalisadeError('audit.file-not-found', `cannot read audit log ${path}`, { kind: 'not-found', field: 'file', cause: error });
  }
  const decoder = new AuditLineDecoder(sink, { ...ctx, file: ctx.file ?? path });
  const raw = createReadStream(path);
  const input = (await isGzip(path)) ? raw.pipe(createGunzip()) : raw;
  const failed = new Promise<never>((_, reject) => input.on('error', (error: Error) =>
    reject(new PalisadeError('audit.file-unreadable', `cannot read audit log ${path}: ${error.message}`, { field: 'file', cause: error }))));
  await Promise.race([lines(input, decoder), failed]);
  return decoder.lines;
}

export interface FollowOptions {
  /** How often to look for appended bytes. */
  intervalMs?: number;
  signal?: AbortSignal;
  /** Called after each poll that delivered something, so callers can flush alerts. */
  onBatch?: () => void | Promise<void>;
}

/**
 * `tail -f`: after the file has been read, keeps reading what the apiserver appends. When the file
 * is rotated (renamed away and recreated, or truncated) it starts again from the new file's start.
 */
export async function followAuditFile(path: string, sink: AuditSink, options: FollowOptions = {}, ctx: DecodeContext = {}): Promise<void> {
  const interval = options.intervalMs ?? 500;
  const decoder = new AuditLineDecoder(sink, { ...ctx, file: ctx.file ?? path });
  let offset = 0;
  let partial = '';
  let inode: number | undefined;
  while (!options.signal?.aborted) {
    const info = await stat(path).catch(() => undefined);
    const size = info?.size ?? 0;
    // Rotated: renamed away and recreated (new inode), or truncated in place (smaller).
    if (size < offset || (info && inode !== undefined && info.ino !== inode)) {
      offset = 0;
      partial = '';
    }
    if (info) inode = info.ino;
    if (size > offset) {
      const handle = await open(path, 'r');
      try {
        const buffer = Buffer.alloc(size - offset);
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
        offset += bytesRead;
        const text = partial + buffer.subarray(0, bytesRead).toString('utf8');
        const parts = text.split('\n');
        partial = parts.pop() ?? '';
        for (const line of parts) decoder.push(line);
      } finally {
        await handle.close();
      }
      await options.onBatch?.();
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, interval);
      options.signal?.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
    });
  }
}
