import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, readFileSync, writeFileSync } from 'node:fs';
import { link, mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { createGunzip } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture } from '../../test/support/fixtures.js';
import { DEFAULT_CATALOGERS } from './catalog/index.js';
import { analyzeLayer } from './layers.js';
import { walkTarStream } from './tar-stream-walk.js';
import { writeSparseFile, writeTarChecksum } from './testing/layout.js';

const run = promisify(execFile);
let dir: string;
let tree: string;

/** The stream cut into pieces of `size` bytes: headers and data straddle them everywhere. */
async function* cut(bytes: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

const fail = (why: string) => new Error(why);

/** Every entry's name, type and data (read whole for files, skipped for everything else), as the walk gives them. */
async function walked(source: AsyncIterable<Buffer>): Promise<Array<{ name: string; type: string; sparse?: boolean; data?: Buffer }>> {
  const entries: Array<{ name: string; type: string; sparse?: boolean; data?: Buffer }> = [];
  await walkTarStream(source, { fail, maxEntries: 100_000 }, async (entry, body) => {
    if (entry.type === '0' && !entry.sparse) {
      const pieces: Buffer[] = [];
      for await (const piece of body.chunks()) pieces.push(Buffer.from(piece));
      entries.push({ name: entry.name, type: entry.type, data: Buffer.concat(pieces) });
    } else {
      await body.skip();
      entries.push({ name: entry.name, type: entry.type, ...(entry.sparse ? { sparse: true } : {}) });
    }
  });
  return entries;
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'palisade-tar-walk-'));
  tree = path.join(dir, 'tree');
  // Names over 100 and over 255 bytes (a pax path or GNU long name), links, a directory, an empty
  // file, one of exactly one block and one of mostly zero blocks (written out, so stored whole).
  const deep = path.join(tree, 'usr/lib', 'a-directory-name-long-enough-to-need-an-extended-header/'.repeat(5));
  await mkdir(deep, { recursive: true });
  writeFileSync(path.join(deep, 'package.json'), JSON.stringify({ name: 'deep', version: '2.0.0' }));
  writeFileSync(path.join(tree, 'empty'), '');
  writeFileSync(path.join(tree, 'block'), Buffer.alloc(512, 7));
  writeFileSync(path.join(tree, 'odd'), Buffer.alloc(1000, 3));
  writeFileSync(path.join(tree, 'zeros'), Buffer.concat([Buffer.alloc(300_000), Buffer.from('end')]));
  writeSparseFile(path.join(tree, 'sparse'), 1_000_000, 'end');
  writeFileSync(path.join(tree, 'random'), createHash('sha512').update('x').digest().toString('hex').repeat(300));
  await symlink('random', path.join(tree, 'link-to-random'));
  await link(path.join(tree, 'random'), path.join(tree, 'hard-random'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('a tar walked as it streams in', () => {
  for (const format of ['pax', 'gnu', 'oldgnu']) {
    it(`lists what GNU tar lists (sparse files named as it names them) and reads each file's bytes, however the stream is cut (${format})`, async () => {
      const file = path.join(dir, `${format}.tar`);
      await run('tar', [`--format=${format}`, '--sparse', '-cf', file, '-C', tree, '.']);
      const listed = (await run('tar', ['-tf', file])).stdout.split('\n').filter(Boolean);
      const bytes = readFileSync(file);
      for (const size of [1, 7, 511, 512, 513, 64 * 1024, bytes.length]) {
        const entries = await walked(cut(bytes, size));
        expect(entries.map((e) => e.name), `${size}-byte pieces`).toEqual(listed);
        // Named as GNU tar names it (pax 1.0 stores it as GNUSparseFile.PID/sparse) and flagged: its data is not its content.
        expect(entries.filter((e) => e.sparse).map((e) => e.name)).toEqual(['./sparse']);
        for (const entry of entries.filter((e) => e.data)) {
          expect(entry.data!.equals(readFileSync(path.join(tree, entry.name))), `${entry.name} in ${size}-byte pieces`).toBe(true);
        }
      }
    });
  }

  it('lists what GNU tar lists on the layers of a real image (Debian 12 built with debootstrap and apt, npm packages)', async () => {
    // The shared fixture image (fixtures/images/README.md): its gzip layers inflated as a scan streams them.
    const blobs = path.join(fixture('images/debian12'), 'blobs/sha256');
    const index = JSON.parse(readFileSync(path.join(fixture('images/debian12'), 'index.json'), 'utf8')) as { manifests: { digest: string; annotations?: Record<string, string> }[] };
    const app = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === 'app')!;
    const manifest = JSON.parse(readFileSync(path.join(blobs, app.digest.slice(7)), 'utf8')) as { layers: { digest: string }[] };
    expect(manifest.layers.length).toBeGreaterThan(1);
    for (const layer of manifest.layers) {
      const blob = path.join(blobs, layer.digest.slice(7));
      const listed = (await run('tar', ['--quoting-style=literal', '-tzf', blob], { maxBuffer: 64 * 1024 * 1024 })).stdout.split('\n').filter(Boolean);
      const entries = await walked(createReadStream(blob).pipe(createGunzip()));
      expect(listed.length).toBeGreaterThan(100);
      expect(entries.map((e) => e.name), layer.digest).toEqual(listed);
    }
  });

  it('flags only files GNU tar stored sparsely: other GNU.sparse.* keys, global or an entry\'s own, change nothing', async () => {
    for (const option of ['GNU.sparse.foo=1', 'GNU.sparse.foo:=1']) {
      const file = path.join(dir, 'not-sparse.tar');
      await run('tar', ['--format=pax', `--pax-option=${option}`, '-cf', file, '-C', tree, 'random', 'link-to-random']);
      const entries = await walked(cut(readFileSync(file), 100));
      expect(entries.map((e) => [e.name, e.type, e.sparse ?? false]), option).toEqual([['random', '0', false], ['link-to-random', '2', false]]);
      expect(entries[0]!.data!.equals(readFileSync(path.join(tree, 'random'))), option).toBe(true);
    }
  });

  it('refuses more than 1 MiB of global pax headers, which every later entry would carry', async () => {
    const record = (key: string, value: string) => {
      const body = ` ${key}=${value}\n`;
      let length = body.length + 1;
      while (String(length).length + body.length !== length) length = String(length).length + body.length;
      return `${length}${body}`;
    };
    // Global headers (`g`) of ~60 KB, each with new keys: every one under the 1 MiB of one extended header.
    const header = (name: string, type: string, size: number) => {
      const block = Buffer.alloc(512);
      block.write(name, 0, 'latin1');
      block.write('0000644\0', 100, 'latin1');
      block.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 'latin1');
      block.write(type, 156, 'latin1');
      block.write('ustar\x0000', 257, 'latin1');
      writeTarChecksum(block);
      return block;
    };
    const globals = (count: number) => {
      const parts: Buffer[] = [];
      let bytes = 0;
      for (let g = 0; g < count; g++) {
        const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => record(`comment.${g}.${i}`, 'x'.repeat(40))).join(''));
        parts.push(header('pax_global_header', 'g', data.length), data, Buffer.alloc((512 - (data.length % 512)) % 512));
        bytes += data.length;
      }
      return { tar: Buffer.concat([...parts, header('file', '0', 0), Buffer.alloc(1024)]), bytes };
    };
    const over = globals(18);
    expect(over.bytes).toBeGreaterThan(1024 * 1024);
    await expect(walked(cut(over.tar, 4096))).rejects.toThrow('has more than 1048576 bytes of global pax headers');
    const under = globals(16);
    expect(under.bytes).toBeLessThan(1024 * 1024);
    expect((await walked(cut(under.tar, 4096))).map((e) => e.name)).toEqual(['file']);
  });

  it('fails a stream cut short inside a header, inside a file\'s data or inside its padding, saying where', async () => {
    const file = path.join(dir, 'cut.tar');
    await run('tar', ['--format=gnu', '-cf', file, '-C', tree, 'odd', 'block']);
    const bytes = readFileSync(file);
    await expect(walked(cut(bytes.subarray(0, 100), 64))).rejects.toThrow(/ends inside a header/);
    await expect(walked(cut(bytes.subarray(0, 512 + 500), 64))).rejects.toThrow(/ends inside odd .*truncated/);
    // 1000 bytes of data, then 24 of padding to the next block.
    await expect(walked(cut(bytes.subarray(0, 512 + 1010), 64))).rejects.toThrow(/ends at byte 1522, before byte 1536 \(truncated\?\)/);
    await expect(walked(cut(bytes.subarray(0, 512 + 1024 + 512 + 100), 64))).rejects.toThrow(/ends inside block .*truncated/);
    await expect(walked(cut(Buffer.alloc(4096, 'x'), 64))).rejects.toThrow('is not a tar archive');
  });

  it('ends the stages before it when an entry fails, so an inflater is torn down at once', async () => {
    const file = path.join(dir, 'two.tar');
    await run('tar', ['--format=gnu', '-cf', file, '-C', tree, 'odd', 'block']);
    let ended = false;
    async function* source() {
      try {
        yield* cut(readFileSync(file), 100);
      } finally {
        ended = true;
      }
    }
    const failing = walkTarStream(source(), { fail, maxEntries: 10 }, async () => {
      throw new Error('a cataloger failed');
    });
    await expect(failing).rejects.toThrow('a cataloger failed');
    expect(ended).toBe(true);
  });

  it('reads the stream to its end after the end-of-archive blocks', async () => {
    const file = path.join(dir, 'trailing.tar');
    await run('tar', ['--format=gnu', '-cf', file, '-C', tree, 'block']);
    const bytes = Buffer.concat([readFileSync(file), Buffer.from('bytes after the archive')]);
    let pulled = 0;
    async function* counted() {
      for await (const piece of cut(bytes, 100)) {
        pulled += piece.length;
        yield piece;
      }
    }
    expect((await walked(counted())).map((e) => e.name)).toEqual(['block']);
    expect(pulled).toBe(bytes.length);
  });

  it('checks a layer\'s diff ID over every byte, those after its end-of-archive blocks included', async () => {
    const file = path.join(dir, 'layer.tar');
    await run('tar', ['--format=gnu', '-cf', file, '-C', tree, 'block']);
    const tar = readFileSync(file);
    const diffId = `sha256:${createHash('sha256').update(tar).digest('hex')}`;
    const changed = Buffer.from(tar);
    changed[changed.length - 1] = 1; // in the record's zero padding, after the end of the archive
    await expect(analyzeLayer(Readable.from(cut(tar, 4096)), { catalogers: DEFAULT_CATALOGERS, diffId })).resolves.toMatchObject({ entries: 1 });
    await expect(analyzeLayer(Readable.from(cut(changed, 4096)), { catalogers: DEFAULT_CATALOGERS, diffId })).rejects.toMatchObject({ code: 'image.digest.mismatch' });
  });
});
