import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { layerOf, overlayMounts, overlayOf } from '../../src/agent/sensor/overlay.js';

/**
 * The upper-layer check behind binary drift: a container's overlay mounts from its mountinfo,
 * and which layer holds an executed path as the merged view resolves it.
 */

/** Recorded on this project's test machine: an overlay mounted by hand, with the /proc and root lines around it. */
const LOCAL = [
  '27 1 254:0 / / rw,relatime - ext4 /dev/vda rw',
  '48 27 0:40 / /tmp/tmp.rzw9sE1cgx/m rw,relatime - overlay overlay rw,lowerdir=/tmp/tmp.rzw9sE1cgx/l,upperdir=/tmp/tmp.rzw9sE1cgx/u,workdir=/tmp/tmp.rzw9sE1cgx/w,uuid=on',
].join('\n');

/** A containerd (overlayfs snapshotter) container's root as published in a test log: two image layers, user namespaces. */
const CONTAINERD = [
  '783 745 0:53 / / ro,relatime master:302 - overlay overlay rw,lowerdir=/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/168/fs:/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/1/fs,upperdir=/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/204/fs,workdir=/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/204/work',
  '784 783 0:56 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw',
  '790 785 0:58 / /dev/shm rw,nosuid,nodev,noexec,relatime - tmpfs shm rw,size=65536k,uid=100000,gid=100000,inode64',
].join('\n');

describe('overlay mounts from mountinfo', () => {
  it('reads upper and lower layers (topmost first) and skips other file systems', () => {
    expect(overlayMounts(CONTAINERD)).toEqual([{
      mountPoint: '/',
      upper: '/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/204/fs',
      lowers: ['/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/168/fs', '/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/1/fs'],
    }]);
    expect(overlayMounts(LOCAL)).toEqual([{ mountPoint: '/tmp/tmp.rzw9sE1cgx/m', upper: '/tmp/tmp.rzw9sE1cgx/u', lowers: ['/tmp/tmp.rzw9sE1cgx/l'] }]);
  });

  it('undoes mountinfo escapes and escaped separators in layer paths; a read-only overlay (no upper) is no drift source', () => {
    const line = '50 27 0:41 / /srv/my\\040root rw - overlay overlay rw,lowerdir=/l/a\\:b:/l/c,upperdir=/u/x\\,y,workdir=/w';
    expect(overlayMounts(line)).toEqual([{ mountPoint: '/srv/my root', upper: '/u/x,y', lowers: ['/l/a:b', '/l/c'] }]);
    expect(overlayMounts('51 27 0:42 / /ro rw - overlay overlay ro,lowerdir=/a:/b')).toEqual([]);
  });

  it('places a path on the deepest overlay above it', () => {
    const mounts = [{ mountPoint: '/', upper: '/u1', lowers: [] }, { mountPoint: '/data', upper: '/u2', lowers: [] }];
    expect(overlayOf(mounts, '/data/x/y')).toEqual({ mount: mounts[1], inside: '/x/y' });
    expect(overlayOf(mounts, '/database/x')).toEqual({ mount: mounts[0], inside: '/database/x' });
    expect(overlayOf([mounts[1]!], '/usr/bin/ls')).toBeUndefined();
  });
});

describe('which layer holds an executed file', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'palisade-layers-'));
  const [upper, image, base] = ['upper', 'image', 'base'].map((d) => path.join(dir, d)) as [string, string, string];
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  // base: a usr-merged Debian layer; image: the application layer; upper: the container's writes.
  for (const d of ['usr/bin', 'etc']) mkdirSync(path.join(base, d), { recursive: true });
  symlinkSync('usr/bin', path.join(base, 'bin'));
  writeFileSync(path.join(base, 'usr/bin/ls'), 'ls');
  writeFileSync(path.join(base, 'usr/bin/removed'), 'x');
  mkdirSync(path.join(image, 'app'), { recursive: true });
  writeFileSync(path.join(image, 'app/server'), 'server');
  symlinkSync('/app/server', path.join(image, 'app/current'));
  symlinkSync('loop-b', path.join(image, 'app/loop-a'));
  symlinkSync('loop-a', path.join(image, 'app/loop-b'));
  mkdirSync(path.join(upper, 'usr/bin'), { recursive: true });
  writeFileSync(path.join(upper, 'usr/bin/dropped'), 'payload');
  const layers = [upper, image, base];
  const whiteout = (() => {
    try {
      execFileSync('mknod', [path.join(upper, 'usr/bin/removed'), 'c', '0', '0'], { stdio: 'ignore' });
      return true;
    } catch {
      return false; // not root: mknod of a character device is refused
    }
  })();

  it('finds a file copied in at run time in the upper layer, through the image\'s /bin symlink', () => {
    expect(layerOf(layers, '/bin/dropped')).toMatchObject({ layer: 0, hostPath: `${upper}/usr/bin/dropped` });
    expect(layerOf(layers, '/usr/bin/../bin/dropped')).toMatchObject({ layer: 0 });
  });

  it('finds image files in their lower layer, following absolute links inside the container', () => {
    expect(layerOf(layers, '/bin/ls')).toMatchObject({ layer: 2, hostPath: `${base}/usr/bin/ls` });
    expect(layerOf(layers, '/app/current')).toMatchObject({ layer: 1, hostPath: `${image}/app/server` });
  });

  it('says nothing for missing files, whiteouts and symlink loops', () => {
    expect(layerOf(layers, '/usr/bin/absent')).toBeUndefined();
    expect(layerOf(layers, '/app/loop-a')).toBeUndefined();
    expect(layerOf(layers, '/usr/bin/ls/x')).toBeUndefined();
    if (whiteout) expect(layerOf(layers, '/bin/removed')).toBeUndefined();
  });

  it('reads layers under a host prefix (the agent in a pod with the host mounted)', () => {
    expect(layerOf(['/upper', '/image', '/base'], '/bin/dropped', dir)).toMatchObject({ layer: 0, hostPath: `${dir}/upper/usr/bin/dropped` });
  });
});
