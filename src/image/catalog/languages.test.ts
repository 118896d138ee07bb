import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { deflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseComposerInstalled } from './composer.js';
import { parseDepsJson } from './dotnet.js';
import { bufferBytes } from './elf.js';
import { goCataloger, parseBuildInfo } from './go.js';
import { javaCataloger, parseJavaArchive } from './java.js';
import { npmCataloger, parseNpmPackage } from './npm.js';
import { parsePythonMetadata, pythonCataloger } from './python.js';
import { parseGemspec, rubyCataloger } from './ruby.js';
import { rustCataloger } from './rust.js';
import type { Cataloger, FileAnalysis } from './types.js';

const run = promisify(execFile);
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'palisade-lang-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Streams a file through a cataloger's sink in 64 KiB chunks, as the layer reader does. */
function streamThrough(cataloger: Cataloger, file: string, data: Buffer): FileAnalysis | undefined {
  const sink = cataloger.sink!({ path: file, size: data.length, mode: 0o755 });
  for (let i = 0; i < data.length; i += 65536) sink.write(data.subarray(i, i + 65536));
  return sink.end();
}

describe('npm and Python', () => {
  it('reads scoped and plain package.json, and only under node_modules', () => {
    expect(parseNpmPackage('{"name":"@babel/core","version":"7.24.0"}', 'app/node_modules/@babel/core/package.json').packages![0]).toMatchObject({ name: '@babel/core', purl: 'pkg:npm/%40babel/core@7.24.0' });
    expect(parseNpmPackage('{"name":"x"}', 'p').packages).toBeUndefined();
    expect(npmCataloger.wants!({ path: 'app/node_modules/@babel/core/package.json', size: 1, mode: 0 })).toBe(true);
    expect(npmCataloger.wants!({ path: 'app/node_modules/a/node_modules/b/package.json', size: 1, mode: 0 })).toBe(true);
    expect(npmCataloger.wants!({ path: 'app/package.json', size: 1, mode: 0 })).toBe(false);
    expect(npmCataloger.wants!({ path: 'app/node_modules/a/lib/package.json', size: 1, mode: 0 })).toBe(false);
  });

  it('reads dist-info METADATA and egg-info PKG-INFO with normalised names', () => {
    const meta = 'Metadata-Version: 2.1\nName: Flask_SQLAlchemy\nVersion: 3.1.1\nSummary: x\n\nName: not-this\n';
    expect(parsePythonMetadata(meta, 'x').packages![0]).toMatchObject({ name: 'flask-sqlalchemy', version: '3.1.1', ecosystem: 'PyPI' });
    expect(pythonCataloger.wants!({ path: 'usr/lib/python3/dist-packages/six-1.16.0.egg-info', size: 1, mode: 0 })).toBe(true);
    expect(pythonCataloger.wants!({ path: 'usr/lib/python3.11/site-packages/pip-23.0.dist-info/RECORD', size: 1, mode: 0 })).toBe(false);
  });
});

/** An ELF header without program headers (the whole file is searched) and Go build info at `at`: its module list padded to `modinfoBytes`. */
function goBinary(size: number, at: number, modinfoBytes = 0, version = 'go1.21.0'): Buffer {
  const file = Buffer.alloc(size);
  Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]).copy(file, 0);
  const varint = (n: number) => { const out: number[] = []; while (n >= 0x80) { out.push((n & 0x7f) | 0x80); n = Math.floor(n / 128); } out.push(n); return Buffer.from(out); };
  const text = (s: string) => Buffer.concat([varint(Buffer.byteLength(s, 'latin1')), Buffer.from(s, 'latin1')]);
  const header = Buffer.alloc(32);
  Buffer.from('\xff Go buildinf:', 'latin1').copy(header, 0);
  header[14] = 8;
  header[15] = 2;
  const modinfo = 'path\texample.com/app\nmod\texample.com/app\t(devel)\t\ndep\tgolang.org/x/text\tv0.14.0\th1:x=\n';
  Buffer.concat([header, text(version), text(modinfo.padEnd(modinfoBytes, '#'))]).copy(file, at);
  return file;
}

/** Streams through the sink in `piece`-byte chunks, and inspects by position: both answers. */
function bothAnswers(data: Buffer, piece: number): { streamed: FileAnalysis | undefined; inspected: FileAnalysis | undefined } {
  const facts = { path: 'usr/bin/app', size: data.length, mode: 0o755 };
  const sink = goCataloger.sink!(facts);
  for (let i = 0; i < data.length; i += piece) sink.write(data.subarray(i, i + piece));
  return { streamed: sink.end(), inspected: goCataloger.inspect!(facts, bufferBytes(data)) };
}

describe('Go build info', () => {
  it('finds the build info however the binary is cut into pieces (slivers shorter than the magic included), and reading by position agrees', () => {
    const data = goBinary(3 * 4096, 4096 + 3);
    for (const piece of [7, 13, 64 * 1024]) {
      const { streamed, inspected } = bothAnswers(data, piece);
      expect(streamed?.packages?.map((p) => `${p.name}@${p.version}`), `${piece}-byte pieces`).toEqual(['golang.org/x/text@v0.14.0', 'stdlib@v1.21.0']);
      expect(inspected).toEqual(streamed);
    }
  });

  it('reads build info of nearly the largest size it accepts by position, as the stream does', () => {
    // A long version string (as `go1.21.0 X:boringcrypto` and the like, longer) and a module list near 1 MiB.
    const data = goBinary(4 * 1024 * 1024, 4096, 1024 * 1024 - 16, `go1.21.0 ${'X'.repeat(100)}`);
    const { streamed, inspected } = bothAnswers(data, 1024 * 1024);
    expect(streamed?.packages?.length).toBe(2);
    expect(inspected).toEqual(streamed);
    // Cut short by the end of the file: nothing found either way, and no warning.
    expect(bothAnswers(data.subarray(0, 4096 + 5000), 1024 * 1024)).toEqual({ streamed: {}, inspected: {} });
  });

  it.skipIf(!existsSync('/usr/bin/docker-registry'))('reads the toolchain version from a real Go binary (Debian docker-registry, go1.19.8)', async () => {
    const data = await readFile('/usr/bin/docker-registry');
    const { stdout } = await run('strings', ['-n', '8', '/usr/bin/docker-registry']).catch(() => ({ stdout: '' }));
    const result = streamThrough(goCataloger, 'usr/bin/docker-registry', data);
    const stdlib = result?.packages?.find((p) => p.name === 'stdlib');
    expect(stdlib?.version).toMatch(/^v1\.\d+/);
    if (stdout) expect(stdout).toContain(`go${stdlib!.version.slice(1)}`);
  });

  it('reads modules, replacements and the toolchain from inline build info split across chunks', () => {
    const start = Buffer.from('3077af0c9274080241e1c107e6d618e6', 'hex');
    const end = Buffer.from('f932433186182072008242104116d8f2', 'hex');
    const modinfo = Buffer.concat([
      start,
      Buffer.from('path\texample.com/app\nmod\texample.com/app\t(devel)\t\ndep\tgolang.org/x/net\tv0.7.0\th1:abc=\ndep\tgithub.com/old/mod\tv1.0.0\th1:x=\n=>\tgithub.com/new/mod\tv1.2.0\th1:y=\nbuild\t-compiler=gc\n'),
      end,
    ]);
    const varint = (n: number) => {
      const out: number[] = [];
      while (n >= 0x80) {
        out.push((n & 0x7f) | 0x80);
        n >>>= 7;
      }
      out.push(n);
      return Buffer.from(out);
    };
    const header = Buffer.alloc(32);
    Buffer.from('\xff Go buildinf:', 'latin1').copy(header);
    header[14] = 8;
    header[15] = 2;
    const version = Buffer.from('go1.21.3');
    const info = Buffer.concat([header, varint(version.length), version, varint(modinfo.length), modinfo]);
    const elf = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46]), Buffer.alloc(65536 - 10, 1), info, Buffer.alloc(1000)]);
    const result = streamThrough(goCataloger, 'usr/local/bin/app', elf);
    expect(result?.packages?.map((p) => `${p.name}@${p.version}`).sort()).toEqual(['github.com/new/mod@v1.2.0', 'golang.org/x/net@v0.7.0', 'stdlib@v1.21.3']);
    expect(parseBuildInfo(info.subarray(0, 40), 'x')).toBe('need-more');
    // A non-ELF executable (a script) is not examined at all.
    expect(streamThrough(goCataloger, 'usr/bin/script', Buffer.from('#!/bin/sh\necho hi\n'.repeat(10)))).toBeUndefined();
  });

  it('looks for build info only in the writable data segments the program headers name, as Go\'s debug/buildinfo does', () => {
    const header = Buffer.alloc(32);
    Buffer.from('\xff Go buildinf:', 'latin1').copy(header);
    header[14] = 8;
    header[15] = 2;
    const info = Buffer.concat([header, Buffer.from([8]), Buffer.from('go1.22.1'), Buffer.from([0])]);
    // ELF64 little-endian with two PT_LOAD program headers: code (r-x) at 0, data (rw-) at 8192..12288.
    const elfWithBlobAt = (at: number) => {
      const file = Buffer.alloc(200_000);
      Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]).copy(file);
      file.writeBigUInt64LE(64n, 0x20); // e_phoff
      file.writeUInt16LE(56, 0x36); // e_phentsize
      file.writeUInt16LE(2, 0x38); // e_phnum
      const segment = (i: number, flags: number, offset: number, size: number) => {
        const o = 64 + i * 56;
        file.writeUInt32LE(1, o); // PT_LOAD
        file.writeUInt32LE(flags, o + 4);
        file.writeBigUInt64LE(BigInt(offset), o + 8);
        file.writeBigUInt64LE(BigInt(size), o + 32);
      };
      segment(0, 5, 0, 4096);
      segment(1, 6, 8192, 4096);
      info.copy(file, at);
      return file;
    };
    expect(streamThrough(goCataloger, 'usr/local/bin/app', elfWithBlobAt(8192 + 64))?.packages).toEqual([expect.objectContaining({ name: 'stdlib', version: 'v1.22.1' })]);
    // The same bytes in code or past the data segment are a string constant, not this binary's build info.
    expect(streamThrough(goCataloger, 'usr/local/bin/app', elfWithBlobAt(2048))).toEqual({});
    expect(streamThrough(goCataloger, 'usr/local/bin/app', elfWithBlobAt(100_000))).toEqual({});
  });
});

describe('Java archives', () => {
  const realJar = '/usr/share/java/commons-io.jar';
  it.skipIf(!existsSync(realJar))('reads pom.properties from a real jar and from jars nested in a fat jar', async () => {
    const plain = await javaCataloger.analyze!({ path: 'opt/app/commons-io.jar', size: 0, mode: 0o644, content: await readFile(realJar) });
    const pom = (await run('unzip', ['-p', realJar, 'META-INF/maven/commons-io/commons-io/pom.properties'])).stdout;
    const version = /version=(.+)/.exec(pom)![1]!.trim();
    expect(plain?.packages).toEqual([expect.objectContaining({ name: 'commons-io:commons-io', version, ecosystem: 'Maven', purl: `pkg:maven/commons-io/commons-io@${version}` })]);

    const fat = path.join(dir, 'fat');
    await mkdir(path.join(fat, 'BOOT-INF/lib'), { recursive: true });
    await copyFile(realJar, path.join(fat, 'BOOT-INF/lib/commons-io.jar'));
    await writeFile(path.join(fat, 'README'), 'no pom here');
    await run('zip', ['-q', '-r', path.join(dir, 'app.jar'), 'BOOT-INF', 'README'], { cwd: fat });
    const nested = await javaCataloger.analyze!({ path: 'app/app.jar', size: 0, mode: 0o644, content: await readFile(path.join(dir, 'app.jar')) });
    expect(nested?.packages).toEqual([expect.objectContaining({ name: 'commons-io:commons-io', version, path: 'app/app.jar!BOOT-INF/lib/commons-io.jar' })]);
  });

  it('warns about an archive that is not a zip', async () => {
    const warnings: string[] = [];
    expect(await parseJavaArchive(Buffer.from('not a zip'), 'x.jar', 0, warnings)).toEqual([]);
    expect(warnings[0]).toMatch(/not a readable archive/);
  });
});

describe('Ruby, PHP and .NET manifests', () => {
  it('reads a gemspec written by RubyGems without evaluating it', () => {
    const spec = `# -*- encoding: utf-8 -*-\n# stub: rack 2.2.8 ruby lib\n\nGem::Specification.new do |s|\n  s.name = "rack".freeze\n  s.version = "2.2.8"\n  s.require_paths = ["lib".freeze]\nend\n`;
    expect(parseGemspec(spec, 'x').packages![0]).toMatchObject({ name: 'rack', version: '2.2.8', ecosystem: 'RubyGems', purl: 'pkg:gem/rack@2.2.8' });
    expect(rubyCataloger.wants!({ path: 'usr/local/bundle/specifications/rack-2.2.8.gemspec', size: 1, mode: 0 })).toBe(true);
    expect(rubyCataloger.wants!({ path: 'usr/lib/ruby/3.1.0/rack.gemspec', size: 1, mode: 0 })).toBe(false);
  });

  it('reads Composer 1 and 2 installed.json', () => {
    const v2 = JSON.stringify({ packages: [{ name: 'symfony/http-kernel', version: 'v5.4.20', version_normalized: '5.4.20.0' }], dev: true });
    const v1 = JSON.stringify([{ name: 'monolog/monolog', version: '2.9.1' }]);
    expect(parseComposerInstalled(v2, 'x').packages![0]).toMatchObject({ name: 'symfony/http-kernel', version: '5.4.20', purl: 'pkg:composer/symfony/http-kernel@5.4.20' });
    expect(parseComposerInstalled(v1, 'x').packages![0]).toMatchObject({ name: 'monolog/monolog', version: '2.9.1' });
  });

  it('reads NuGet packages from deps.json, not the project itself', () => {
    const deps = JSON.stringify({ libraries: { 'MyApp/1.0.0': { type: 'project' }, 'Newtonsoft.Json/13.0.1': { type: 'package', sha512: 'x' } } });
    expect(parseDepsJson(`\uFEFF${deps}`, 'app/MyApp.deps.json').packages).toEqual([expect.objectContaining({ name: 'Newtonsoft.Json', version: '13.0.1', ecosystem: 'NuGet', purl: 'pkg:nuget/Newtonsoft.Json@13.0.1' })]);
  });
});

/**
 * The start of what `rust-audit-info /usr/bin/batcat` printed for Ubuntu 26.04's bat 0.25.0 (the
 * `.dep-v0` JSON cargo-auditable embedded), as recorded in Ubuntu's project documentation page on
 * cargo-auditable (ubuntu-project-docs): its first eight packages, the array closed after them.
 */
const BATCAT_AUDIT_DATA = '{"packages":[{"name":"adler","version":"1.0.2","source":"crates.io"},{"name":"aho-corasick","version":"1.1.4","source":"crates.io","dependencies":[65]},{"name":"ansi_colours","version":"1.2.3","source":"crates.io","dependencies":[86]},{"name":"anstream","version":"0.6.21","source":"crates.io","dependencies":[4,5,6,26,54,128]},{"name":"anstyle","version":"1.0.13","source":"crates.io"},{"name":"anstyle-parse","version":"0.2.7","source":"crates.io","dependencies":[128]},{"name":"anstyle-query","version":"1.1.4","source":"crates.io"},{"name":"anyhow","version":"1.0.101","source":"crates.io","kind":"build"}]}';

describe('Rust cargo-auditable', () => {
  it.skipIf(!existsSync('/usr/bin/objcopy') || !existsSync('/bin/true'))('reads the dependency list a real cargo-auditable build embedded (Ubuntu\'s batcat), build-time crates left out, streamed and by position alike', async () => {
    await writeFile(path.join(dir, 'batcat-dep-v0'), deflateSync(Buffer.from(BATCAT_AUDIT_DATA)));
    await run('objcopy', ['--add-section', `.dep-v0=${path.join(dir, 'batcat-dep-v0')}`, '/bin/true', path.join(dir, 'batcat')]);
    const binary = await readFile(path.join(dir, 'batcat'));
    const streamed = streamThrough(rustCataloger, 'usr/bin/batcat', binary);
    expect(streamed?.packages?.map((p) => `${p.name}@${p.version}`)).toEqual([
      'adler@1.0.2', 'aho-corasick@1.1.4', 'ansi_colours@1.2.3', 'anstream@0.6.21', 'anstyle@1.0.13', 'anstyle-parse@0.2.7', 'anstyle-query@1.1.4',
    ]);
    expect(rustCataloger.inspect!({ path: 'usr/bin/batcat', size: binary.length, mode: 0o755 }, bufferBytes(binary))).toEqual(streamed);
  });

  it.skipIf(!existsSync('/usr/bin/objcopy') || !existsSync('/bin/true'))('reads the .dep-v0 section of a real ELF binary', async () => {
    const audit = { packages: [
      { name: 'app', version: '0.1.0', source: 'local' },
      { name: 'serde', version: '1.0.197', source: 'crates.io' },
      { name: 'cc', version: '1.0.90', source: 'crates.io', kind: 'build' },
    ] };
    await writeFile(path.join(dir, 'dep-v0'), deflateSync(Buffer.from(JSON.stringify(audit))));
    await run('objcopy', ['--add-section', `.dep-v0=${path.join(dir, 'dep-v0')}`, '/bin/true', path.join(dir, 'rust-bin')]);
    const result = streamThrough(rustCataloger, 'usr/local/bin/rust-bin', await readFile(path.join(dir, 'rust-bin')));
    expect(result?.packages).toEqual([expect.objectContaining({ name: 'serde', version: '1.0.197', ecosystem: 'crates.io', purl: 'pkg:cargo/serde@1.0.197' })]);
    // The plain binary has no section: recorded empty, nothing reported.
    expect(streamThrough(rustCataloger, 'bin/true', await readFile('/bin/true'))).toEqual({});
  });
});
