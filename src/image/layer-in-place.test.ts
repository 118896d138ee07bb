import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { link, mkdir, mkdtemp, open, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { deflateSync, gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture } from '../../test/support/fixtures.js';
import { DEFAULT_CATALOGERS } from './catalog/index.js';
import { analyzeLayer, analyzeLayerInPlace, type LayerAnalysis } from './layers.js';
import { tarOf, writeSparseFile } from './testing/layout.js';

/**
 * A layer read in place (its headers walked by seeking, only wanted files read) must give exactly
 * what reading it as a stream gives: on the real layers of the debian12 fixture image
 * and on a layer made of the awkward entries (pax long names, links, whiteouts, names climbing out).
 */
const IMAGE = fixture('images/debian12');
const run = promisify(execFile);
/** Bytes before the layer in its file, as in a `docker save` archive (the layer is one member among others). */
const BEFORE = 3 * 512;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'palisade-in-place-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** The layer written after BEFORE bytes of something else; the file holds it as an archive would. */
function placed(name: string, tar: Buffer): string {
  const file = path.join(dir, name);
  writeFileSync(file, Buffer.concat([Buffer.alloc(BEFORE, 7), tar, Buffer.alloc(1024)]));
  return file;
}

async function bothWays(name: string, tar: Buffer): Promise<{ whole: LayerAnalysis; inPlace: LayerAnalysis }> {
  const diffId = `sha256:${sha256(tar)}`;
  const file = placed(name, tar);
  const whole = await analyzeLayer(createReadStream(file, { start: BEFORE, end: BEFORE + tar.length - 1 }), { catalogers: DEFAULT_CATALOGERS, diffId });
  const handle = await open(file, 'r');
  try {
    const inPlace = await analyzeLayerInPlace({ handle, offset: BEFORE, size: tar.length }, { catalogers: DEFAULT_CATALOGERS, diffId, uncompressedDigest: async () => sha256(tar) });
    return { whole, inPlace };
  } finally {
    await handle.close();
  }
}

/**
 * An ELF header without program headers (so the whole file is searched) and Go build info whose
 * magic starts 5 bytes before the first MiB: a reader by position must find it across its pieces.
 */
function goBuildInfoAcrossPieces(): Buffer {
  const file = Buffer.alloc(2 * 1024 * 1024);
  Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]).copy(file, 0); // ELF, 64-bit, little-endian
  const text = (s: string) => Buffer.concat([Buffer.from([Buffer.byteLength(s)]), Buffer.from(s)]);
  const header = Buffer.alloc(32);
  Buffer.from('\xff Go buildinf:', 'latin1').copy(header, 0);
  header[14] = 8; // pointer size
  header[15] = 2; // strings inline (Go 1.18 and later)
  const modinfo = 'path\texample.com/app\nmod\texample.com/app\t(devel)\t\ndep\tgolang.org/x/text\tv0.14.0\th1:x=\n';
  Buffer.concat([header, text('go1.21.0'), text(modinfo)]).copy(file, 1024 * 1024 - 5);
  return file;
}

/** The layers of the fixture's `app` image, inflated. */
function fixtureLayers(): Buffer[] {
  const index = JSON.parse(readFileSync(path.join(IMAGE, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations?: Record<string, string> }[] };
  const blob = (digest: string) => readFileSync(path.join(IMAGE, 'blobs', ...digest.split(':')));
  const app = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === 'app')!;
  const manifest = JSON.parse(blob(app.digest).toString()) as { layers: { digest: string }[] };
  return manifest.layers.map((l) => gunzipSync(blob(l.digest)));
}

describe('a layer read in place', () => {
  it('finds what reading it whole finds, on every layer of a real image', async () => {
    const layers = fixtureLayers();
    expect(layers.length).toBeGreaterThan(1);
    let packages = 0;
    for (const [i, tar] of layers.entries()) {
      const { whole, inPlace } = await bothWays(`layer-${i}`, tar);
      expect(inPlace).toEqual(whole);
      packages += inPlace.files.length;
    }
    expect(packages).toBeGreaterThan(0); // the dpkg status, os-release, binaries: something was read
  });

  it('finds what reading it whole finds on awkward entries', async () => {
    const long = `usr/lib/${'very-long-directory-name/'.repeat(8)}package.json`;
    const tar = await tarOf([
      { name: 'etc/os-release', content: 'ID=debian\nVERSION_ID="12"\n' },
      { name: 'usr/lib/os-release', type: 'symlink', linkname: '../../etc/os-release' },
      { name: 'etc/hard-os-release', type: 'link', linkname: 'etc/os-release' },
      { name: 'var/lib/dpkg/', type: 'directory' },
      { name: 'var/lib/dpkg/status', content: 'Package: zlib1g\nStatus: install ok installed\nVersion: 1:1.2.13.dfsg-1\nArchitecture: amd64\n\n' },
      { name: long, content: JSON.stringify({ name: 'deep', version: '1.0.0' }) },
      { name: 'opt/.wh.removed', content: '' },
      { name: 'srv/.wh..wh..opq', content: '' },
      { name: '../escape', content: 'x' },
      { name: './usr/bin//tool', content: Buffer.alloc(4096, 1), mode: 0o755 },
    ]);
    const { whole, inPlace } = await bothWays('awkward', tar);
    expect(inPlace).toEqual(whole);
    expect(inPlace.whiteouts).toEqual(['opt/removed']);
    expect(inPlace.links.map((l) => l.path)).toEqual(['usr/lib/os-release', 'etc/hard-os-release']);
    expect(inPlace.warnings.some((w) => w.includes('../escape'))).toBe(true);
  });

  it('finds what reading it whole finds on layers GNU tar wrote (pax, GNU long names and sparse headers, links)', async () => {
    const tree = path.join(dir, 'tree');
    // A package whose path (over 100 bytes) needs a pax path record or a GNU long name.
    const deep = path.join(tree, 'usr/lib', 'a-directory-name-long-enough-to-need-an-extended-header/'.repeat(2), 'node_modules/deep');
    await mkdir(path.join(tree, 'etc'), { recursive: true });
    await mkdir(deep, { recursive: true });
    writeFileSync(path.join(tree, 'etc/os-release'), 'ID=debian\nVERSION_ID="12"\n');
    writeFileSync(path.join(deep, 'package.json'), JSON.stringify({ name: 'deep', version: '2.0.0' }));
    // Stored sparsely (old-GNU `S`, pax GNU.sparse 1.0 under GNUSparseFile.PID/): named as GNU tar names it, skipped with a warning.
    writeSparseFile(path.join(tree, 'etc/sparse'), 200_000, 'end');
    await symlink('../etc/os-release', path.join(tree, 'usr/os-release'));
    await link(path.join(tree, 'etc/os-release'), path.join(tree, 'etc/os-release.hard'));
    for (const format of ['pax', 'gnu']) {
      const file = path.join(dir, `gnu-${format}.tar`);
      await run('tar', [`--format=${format}`, '--sparse', '-cf', file, '-C', tree, '.']);
      const { whole, inPlace } = await bothWays(`gnu-${format}`, readFileSync(file));
      expect(inPlace, format).toEqual(whole);
      expect(inPlace.files.some((f) => f.path.endsWith('package.json')), format).toBe(true);
      expect(inPlace.links.map((l) => l.path).sort(), format).toEqual(['etc/os-release.hard', 'usr/os-release']);
      expect(inPlace.warnings, format).toContain('skipped etc/sparse: stored as a GNU sparse file, whose holes are not expanded');
    }
  });

  it.skipIf(!existsSync('/usr/bin/objcopy'))('reads Go and Rust binaries by position and finds what reading them whole finds', async () => {
    // A Rust binary as cargo-auditable leaves it: /bin/true with a .dep-v0 section.
    const audit = { packages: [{ name: 'serde', version: '1.0.197', source: 'crates.io' }] };
    writeFileSync(path.join(dir, 'dep-v0'), deflateSync(Buffer.from(JSON.stringify(audit))));
    await run('objcopy', ['--add-section', `.dep-v0=${path.join(dir, 'dep-v0')}`, '/bin/true', path.join(dir, 'rust-bin')]);
    const entries = [
      { name: 'usr/local/bin/rust-bin', content: readFileSync(path.join(dir, 'rust-bin')), mode: 0o755 },
      { name: 'usr/local/bin/straddling-go', content: goBuildInfoAcrossPieces(), mode: 0o755 },
      { name: 'bin/true', content: readFileSync('/bin/true'), mode: 0o755 },
      { name: 'bin/cut-short', content: readFileSync('/bin/true').subarray(0, 200), mode: 0o755 },
      { name: 'bin/script', content: Buffer.from(`#!/bin/sh\n${'echo x\n'.repeat(20)}`), mode: 0o755 },
    ];
    // A real Go binary where the test machine has one (Debian's docker-registry, which the registry tests install).
    if (existsSync('/usr/bin/docker-registry')) entries.push({ name: 'usr/bin/docker-registry', content: readFileSync('/usr/bin/docker-registry'), mode: 0o755 });
    const { whole, inPlace } = await bothWays('binaries', await tarOf(entries));
    expect(inPlace).toEqual(whole);
    const packages = (file: string) => inPlace.files.filter((f) => f.path === file).flatMap((f) => f.analysis.packages ?? []).map((p) => `${p.name}@${p.version}`);
    expect(packages('usr/local/bin/rust-bin')).toEqual(['serde@1.0.197']);
    expect(packages('usr/local/bin/straddling-go')).toEqual(['golang.org/x/text@v0.14.0', 'stdlib@v1.21.0']);
    if (existsSync('/usr/bin/docker-registry')) expect(packages('usr/bin/docker-registry').some((p) => /^stdlib@v1\.\d+/.test(p))).toBe(true);
    // ELF binaries without build info are recorded empty; the script and the cut-short file are not binaries to them.
    expect(inPlace.files.filter((f) => f.path === 'bin/true').map((f) => [f.cataloger, f.analysis])).toEqual([['go', {}], ['rust', {}]]);
    expect(inPlace.files.some((f) => f.path === 'bin/script')).toBe(false);
  });

  it('fails on a digest that does not match, and on a layer cut short, naming the layer', async () => {
    const tar = await tarOf([{ name: 'etc/os-release', content: 'ID=alpine\n' }, { name: 'big', content: Buffer.alloc(10_000, 2) }]);
    const file = placed('cut', tar);
    const handle = await open(file, 'r');
    try {
      const options = { catalogers: DEFAULT_CATALOGERS, diffId: `sha256:${sha256(tar)}`, what: 'layer L' };
      await expect(analyzeLayerInPlace({ handle, offset: BEFORE, size: tar.length }, { ...options, uncompressedDigest: async () => '0'.repeat(64) }))
        .rejects.toMatchObject({ code: 'image.digest.mismatch', message: expect.stringContaining('layer L') });
      await expect(analyzeLayerInPlace({ handle, offset: BEFORE, size: 2048 }, { ...options, uncompressedDigest: async () => sha256(tar) }))
        .rejects.toMatchObject({ code: 'image.layer.invalid', message: expect.stringMatching(/^layer L: ends inside big/) });
      await expect(analyzeLayerInPlace({ handle, offset: 0, size: tar.length }, { ...options, uncompressedDigest: async () => sha256(tar) }))
        .rejects.toMatchObject({ code: 'image.layer.invalid', message: 'layer L: is not a tar archive' });
    } finally {
      await handle.close();
    }
  });

  it('fails the layer, not one file with a warning, when an executable cannot be read where a cataloger looks', async () => {
    // The archive ends inside /bin/true's data: the Go and Rust catalogers read past the end by position.
    const tar = await tarOf([{ name: 'etc/os-release', content: 'ID=debian\n' }, { name: 'bin/true', content: readFileSync('/bin/true'), mode: 0o755 }]);
    const cut = tar.subarray(0, 3 * 512 + 4096);
    const file = path.join(dir, 'cut-executable');
    writeFileSync(file, Buffer.concat([Buffer.alloc(BEFORE, 7), cut]));
    const handle = await open(file, 'r');
    try {
      await expect(analyzeLayerInPlace({ handle, offset: BEFORE, size: tar.length }, { catalogers: DEFAULT_CATALOGERS, diffId: `sha256:${sha256(tar)}`, what: 'layer L', uncompressedDigest: async () => sha256(tar) }))
        .rejects.toMatchObject({ code: 'image.layer.invalid', message: expect.stringMatching(/^layer L: .*ended inside an entry/) });
    } finally {
      await handle.close();
    }
  });
});
