import type { FileHandle } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import { PalisadeError } from '../core/index.js';
import { detectCompression } from './layers.js';

/** Where a layer's bytes lie, stored as they are, in an archive: read through the handle it was opened and indexed through. */
export interface FileRegion {
  handle: FileHandle;
  offset: number;
  size: number;
}

/**
 * Below this a worker costs more to start (~20 ms) than hashing inline; above it the hash (~1 GB/s
 * with SHA-NI) would be the main thread's largest single cost.
 */
export const WORKER_DIGEST_MIN_BYTES = 32 * 1024 * 1024;

/**
 * Self-contained, so it runs the same from `src` under the test runner, from `dist`, or bundled:
 * takes one region at a time, reads it in 1 MiB pieces through the archive's descriptor (they
 * belong to the process, not to a thread) and posts the hex digest.
 */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { readSync } = require('node:fs');
const { createHash } = require('node:crypto');
const buffer = Buffer.allocUnsafe(1 << 20);
parentPort.on('message', ({ id, fd, offset, size, algorithm }) => {
  try {
    const hash = createHash(algorithm);
    let done = 0;
    while (done < size) {
      const n = readSync(fd, buffer, 0, Math.min(buffer.length, size - done), offset + done);
      if (n === 0) break;
      hash.update(buffer.subarray(0, n));
      done += n;
    }
    parentPort.postMessage({ id, hex: hash.digest('hex'), bytes: done });
  } catch (error) {
    parentPort.postMessage({ id, error: String(error && error.message || error) });
  }
});
`;

interface Job {
  size: number;
  what: string;
  resolve(hex: string): void;
  reject(error: Error): void;
}

/**
 * Digests of file regions, computed on one worker thread while the main thread parses the same
 * bytes: on a 209 MiB `docker save`, hashing was ~170 ms of a ~390 ms scan and needs no
 * coordination with the parse, so it runs on the other core. One worker, regions in turn: on two
 * cores a second worker only competes with the parse, and each costs ~10 MiB (peak RSS is a target).
 * Tried again once executables were read by position (a lighter parse): one worker per large layer
 * made that scan slower, 0.51 against 0.47 s whole process, with 9 MiB more at its peak.
 * Started on the first region; `close` ends it.
 */
export class RegionDigester {
  private worker: Worker | undefined;
  private readonly jobs = new Map<number, Job>();
  private nextId = 0;

  digest(region: FileRegion, algorithm: 'sha256' | 'sha512', what: string): Promise<string> {
    const worker = this.worker ?? this.start();
    const id = this.nextId++;
    const hex = new Promise<string>((resolve, reject) => this.jobs.set(id, { size: region.size, what, resolve, reject }));
    // A layer that fails elsewhere never awaits its digest; that rejection is not an unhandled one.
    hex.catch(() => undefined);
    worker.postMessage({ id, fd: region.handle.fd, offset: region.offset, size: region.size, algorithm });
    return hex;
  }

  /**
   * The digest of an uncompressed region large enough to be worth the worker; undefined otherwise
   * (the caller hashes inline). `settle`, called once the caller has read the region itself, gives
   * the digest, or fails when the file was written to meanwhile: the worker and the caller read at
   * different moments, and only an unchanged file means both read the same bytes (else a layer
   * could be parsed from one content and its cache entry keyed by another's digest).
   */
  async uncompressed(region: FileRegion, algorithm: 'sha256' | 'sha512', what: string): Promise<{ settle: () => Promise<string> } | undefined> {
    if (region.size < WORKER_DIGEST_MIN_BYTES) return undefined;
    const head = Buffer.alloc(4);
    await region.handle.read(head, 0, 4, region.offset);
    const before = await fileState(region);
    // A compressed blob's diff ID is over the inflated bytes: that is hashed inline.
    if (detectCompression(head) !== 'none') return undefined;
    const hex = this.digest(region, algorithm, what);
    return {
      settle: async () => {
        const digest = await hex;
        const after = await fileState(region);
        if (after.ctimeNs !== before.ctimeNs || after.size !== before.size || after.ino !== before.ino) {
          throw new PalisadeError('image.archive.changed', `${what}: the archive was written to while it was read`, {
            kind: 'unprocessable',
            hint: 'scan an archive nothing else is writing (copy it first if it is still being written)',
          });
        }
        return digest;
      },
    };
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    this.failAll('the scan ended first');
    await worker?.terminate();
  }

  private start(): Worker {
    // Small heap limits: the worker holds one 1 MiB buffer.
    const worker = new Worker(WORKER_SOURCE, { eval: true, resourceLimits: { maxOldGenerationSizeMb: 8, maxYoungGenerationSizeMb: 2 } });
    worker.on('message', (message: { id: number; hex?: string; bytes?: number; error?: string }) => {
      const job = this.jobs.get(message.id);
      if (!job) return;
      this.jobs.delete(message.id);
      if (message.error !== undefined) job.reject(unreadable(job.what, message.error));
      else if (message.bytes !== job.size) job.reject(unreadable(job.what, `${message.bytes} of ${job.size} bytes read`));
      else job.resolve(message.hex!);
    });
    worker.on('error', (error) => this.failAll(error.message));
    worker.on('exit', (code) => {
      if (this.worker === worker) this.worker = undefined;
      this.failAll(`digest worker exited with code ${code}`);
    });
    this.worker = worker;
    return worker;
  }

  private failAll(why: string): void {
    for (const job of this.jobs.values()) job.reject(unreadable(job.what, why));
    this.jobs.clear();
  }
}

function unreadable(what: string, why: string): PalisadeError {
  return new PalisadeError('image.layer.invalid', `${what}: cannot read the layer to check its digest: ${why}`, { kind: 'unprocessable', hint: 'the archive is truncated or unreadable' });
}

interface FileState {
  ino: number;
  size: number;
  ctimeNs: bigint;
}

/** What changes when a file is written to or replaced: its change time (set by the kernel, never by a user), size and inode. */
async function fileState(region: FileRegion): Promise<FileState> {
  const s = await region.handle.stat({ bigint: true });
  return { ino: Number(s.ino), size: Number(s.size), ctimeNs: s.ctimeNs };
}
