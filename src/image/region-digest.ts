import { open } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import { PalisadeError } from '../core/index.js';
import { detectCompression } from './layers.js';

/** Where a layer's bytes lie, stored as they are, in a plain file (an uncompressed image archive, a layout's blob). */
export interface FileRegion {
  file: string;
  offset: number;
  size: number;
}

/** A digest being computed beside the stream that reads the same bytes; `cancel` stops it when the layer fails. */
export interface PendingDigest {
  /** Hex digest of the region's bytes. */
  hex: Promise<string>;
  cancel(): void;
}

/**
 * Below this a worker costs more to start (~20 ms) than hashing inline; above it the hash (~1 GB/s
 * with SHA-NI) would be the main thread's largest single cost.
 */
export const WORKER_DIGEST_MIN_BYTES = 32 * 1024 * 1024;

/**
 * Self-contained, so it runs the same from `src` under the test runner, from `dist`, or bundled:
 * reads the region in 1 MiB pieces and posts the hex digest.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { openSync, readSync, closeSync } = require('node:fs');
const { createHash } = require('node:crypto');
const { file, offset, size, algorithm } = workerData;
const hash = createHash(algorithm);
const buffer = Buffer.allocUnsafe(Math.min(1 << 20, Math.max(size, 1)));
const fd = openSync(file, 'r');
let done = 0;
try {
  while (done < size) {
    const n = readSync(fd, buffer, 0, Math.min(buffer.length, size - done), offset + done);
    if (n === 0) break;
    hash.update(buffer.subarray(0, n));
    done += n;
  }
} finally {
  closeSync(fd);
}
parentPort.postMessage({ hex: hash.digest('hex'), bytes: done });
`;

/**
 * The digest of an uncompressed layer's region, computed on a worker thread while the main thread
 * parses the same bytes: on a 209 MiB `docker save` layer set, hashing was ~170 ms of a ~390 ms
 * scan, and it needs no coordination with the parse, so it runs on the other core. Undefined when
 * the region is small or compressed (the diff ID is over inflated bytes, so it is hashed inline).
 */
export async function uncompressedRegionDigest(region: FileRegion, algorithm: 'sha256' | 'sha512', what: string): Promise<PendingDigest | undefined> {
  if (region.size < WORKER_DIGEST_MIN_BYTES) return undefined;
  const head = Buffer.alloc(4);
  const handle = await open(region.file, 'r');
  try {
    await handle.read(head, 0, 4, region.offset);
  } finally {
    await handle.close();
  }
  if (detectCompression(head) !== 'none') return undefined;
  return digestRegion(region, algorithm, what);
}

export function digestRegion(region: FileRegion, algorithm: 'sha256' | 'sha512', what: string): PendingDigest {
  // Small heap limits: the worker holds one 1 MiB buffer, and the scan's peak RSS is a target.
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { ...region, algorithm }, resourceLimits: { maxOldGenerationSizeMb: 8, maxYoungGenerationSizeMb: 2 } });
  let settled = false;
  const hex = new Promise<string>((resolve, reject) => {
    const fail = (why: string) =>
      reject(new PalisadeError('image.layer.invalid', `${what}: cannot read the layer to check its digest: ${why}`, { kind: 'unprocessable', hint: 'the archive is truncated or unreadable' }));
    worker.once('message', (message: { hex: string; bytes: number }) => {
      settled = true;
      if (message.bytes !== region.size) fail(`${message.bytes} of ${region.size} bytes read`);
      else resolve(message.hex);
    });
    worker.once('error', (error) => {
      settled = true;
      fail(error.message);
    });
    worker.once('exit', (code) => {
      if (!settled) fail(`digest worker exited with code ${code}`);
    });
  });
  // A layer that fails elsewhere never awaits this; its rejection is not an unhandled one.
  hex.catch(() => undefined);
  return {
    hex,
    cancel: () => {
      if (!settled) void worker.terminate();
    },
  };
}
