import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { inventoryImage } from './index.js';
import { resolvePath } from './merge.js';
import { gzipLayer, tarOf, writeLayout, type TestEntry } from './testing/layout.js';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function scanLayers(...layers: TestEntry[][]) {
  const dir = await mkdtemp(path.join(tmpdir(), 'palisade-layers-'));
  dirs.push(dir);
  await writeLayout(dir, await Promise.all(layers.map(async (l) => gzipLayer(await tarOf(l)))));
  return inventoryImage(`oci:${dir}:test`);
}

const npmPkg = (dir: string, name: string, version: string): TestEntry => ({ name: `${dir}/node_modules/${name}/package.json`, content: JSON.stringify({ name, version }) });
const status = (...pkgs: Array<[string, string]>): TestEntry => ({
  name: 'var/lib/dpkg/status',
  content: pkgs.map(([n, v]) => `Package: ${n}\nStatus: install ok installed\nVersion: ${v}\nArchitecture: amd64\n`).join('\n'),
});
const osRelease: TestEntry = { name: 'usr/lib/os-release', content: 'ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n' };
const names = (r: Awaited<ReturnType<typeof scanLayers>>) => r.inventory.packages.map((p) => `${p.name}@${p.version}`).sort();

describe('layers merged in order', () => {
  it('a whiteout hides the named path and everything under it, matching whole path components', async () => {
    const r = await scanLayers([npmPkg('app', 'foo', '1.0.0'), npmPkg('app', 'foobar', '2.0.0'), npmPkg('app/node_modules/foo', 'inner', '3.0.0')], [{ name: 'app/node_modules/.wh.foo', content: '' }]);
    expect(names(r)).toEqual(['foobar@2.0.0']);
  });

  it('an opaque directory hides lower layers but keeps its own layer\'s files', async () => {
    const r = await scanLayers([npmPkg('opt/a', 'x', '1.0.0'), npmPkg('opt/b', 'z', '1.0.0')], [{ name: 'opt/a/.wh..wh..opq', content: '' }, npmPkg('opt/a', 'y', '1.0.0')]);
    expect(names(r)).toEqual(['y@1.0.0', 'z@1.0.0']);
  });

  it('a later file replaces an earlier one, and each package keeps the layer that introduced it', async () => {
    const r = await scanLayers([osRelease, status(['base', '1.0'], ['gone', '1.0'])], [status(['base', '1.0'], ['added', '2.0'])]);
    expect(names(r)).toEqual(['added@2.0', 'base@1.0']);
    const [l0, l1] = r.image.layers;
    expect(r.inventory.packages.find((p) => p.name === 'base')?.layer).toBe(l0!.diffId);
    expect(r.inventory.packages.find((p) => p.name === 'added')).toMatchObject({ layer: l1!.diffId, ecosystem: 'Debian', purl: 'pkg:deb/debian/added@2.0?arch=amd64&distro=debian-12' });
  });

  it('resolves os-release through a relative symlink and a hardlink', async () => {
    const viaSymlink = await scanLayers([osRelease, { name: 'etc/os-release', type: 'symlink', linkname: '../usr/lib/os-release' }]);
    expect(viaSymlink.inventory.os).toMatchObject({ id: 'debian', version: '12' });
    const viaHardlink = await scanLayers([{ name: 'usr/lib/os-release', content: 'ID=alpine\nVERSION_ID=3.19.1\n' }, { name: 'etc/os-release', type: 'link', linkname: 'usr/lib/os-release' }]);
    expect(viaHardlink.inventory.os).toMatchObject({ id: 'alpine', ecosystem: 'Alpine:v3.19' });
  });

  it('places files written through a symlinked directory at their real path', async () => {
    // merged-/usr: lib → usr/lib; a later whiteout of usr/lib/apk removes what was written as lib/apk.
    const installed = { name: 'lib/apk/db/installed', content: 'P:musl\nV:1.2.4-r2\nA:x86_64\no:musl\n\n' };
    const kept = await scanLayers([{ name: 'lib', type: 'symlink', linkname: 'usr/lib' }], [installed]);
    expect(kept.inventory.packages.map((p) => p.path)).toEqual(['usr/lib/apk/db/installed']);
    const removed = await scanLayers([{ name: 'lib', type: 'symlink', linkname: 'usr/lib' }], [installed], [{ name: 'usr/lib/.wh.apk', content: '' }]);
    expect(removed.inventory.packages).toEqual([]);
  });

  it('does not report a language package that an OS package installed', async () => {
    const meta = (n: string, v: string) => `Metadata-Version: 2.1\nName: ${n}\nVersion: ${v}\n\nDescription`;
    const r = await scanLayers([
      osRelease,
      status(['python3-six', '1.16.0-4']),
      { name: 'var/lib/dpkg/info/python3-six.list', content: '/.\n/usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA\n' },
      { name: 'usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA', content: meta('six', '1.16.0') },
      { name: 'usr/local/lib/python3.11/site-packages/Flask_Cors-4.0.0.dist-info/METADATA', content: meta('Flask_Cors', '4.0.0') },
    ]);
    expect(r.inventory.packages.map((p) => `${p.ecosystem}:${p.name}@${p.version}`).sort()).toEqual(['Debian:python3-six@1.16.0-4', 'PyPI:flask-cors@4.0.0']);
    expect(r.inventory.packages.find((p) => p.ecosystem === 'PyPI')?.purl).toBe('pkg:pypi/flask-cors@4.0.0');
  });

  it('recognises a distroless image by status.d without a status file', async () => {
    const r = await scanLayers([
      { name: 'etc/os-release', content: 'ID=debian\nVERSION_ID="12"\n' },
      { name: 'var/lib/dpkg/status.d/base', content: 'Package: base-files\nVersion: 12.4+deb12u5\nArchitecture: amd64\n' },
      { name: 'var/lib/dpkg/status.d/base.md5sums', content: 'abc  etc/issue\n' },
    ]);
    expect(r.inventory.os).toMatchObject({ id: 'debian', distroless: true });
    expect(names(r)).toEqual(['base-files@12.4+deb12u5']);
  });
});

describe('binaries in layers', () => {
  it.skipIf(!existsSync('/usr/bin/docker-registry'))('streams executables past the Go cataloger, and leaves non-executable copies alone', async () => {
    const binary = await readFile('/usr/bin/docker-registry');
    const r = await scanLayers([
      { name: 'usr/bin/docker-registry', content: binary, mode: 0o755 },
      { name: 'opt/copy/docker-registry.bak', content: binary, mode: 0o644 },
    ]);
    const go = r.inventory.packages.filter((p) => p.ecosystem === 'Go');
    expect(go.map((p) => `${p.name} ${p.path}`)).toEqual(['stdlib usr/bin/docker-registry']);
    expect(go[0]!.version).toMatch(/^v1\.\d+\.\d+$/);
  });
});

describe('path resolution inside the image', () => {
  const links: Record<string, string> = { lib: 'usr/lib', 'etc/alt': '/etc/alt2', 'etc/alt2': '../../../../usr/bin/real', loop1: 'loop2', loop2: 'loop1' };
  const lookup = (p: string) => links[p];
  it('follows relative and absolute links, clamping `..` at the image root', () => {
    expect(resolvePath('lib/x/y', lookup)).toBe('usr/lib/x/y');
    expect(resolvePath('etc/alt', lookup)).toBe('usr/bin/real');
    expect(resolvePath('etc/alt', lookup, false)).toBe('etc/alt');
  });
  it('gives up on loops instead of spinning', () => {
    expect(resolvePath('loop1/file', lookup)).toBeUndefined();
  });
});
