import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, unlinkSync, writeSync, closeSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runAgent, sampleEvent, Spool, type AgentBatch, type SpoolDrop } from '../../src/agent/index.js';

/**
 * Issue 14 (5): nothing lost silently. The spool sits on a real, small tmpfs that the test
 * fills, so the agent's writes fail with the kernel's own ENOSPC.
 */
const root = process.getuid?.() === 0;
if (!root && process.env.CI === 'true') throw new Error('the disk-full spool tests need root (mount -t tmpfs)');

function batch(n: number, events: number, bytesEach = 400): AgentBatch {
  return {
    batchId: `b${n}`, sentAt: new Date().toISOString(), node: { name: 'n' }, alerts: [],
    events: Array.from({ length: events }, (_, i) => sampleEvent({ kind: 'exec', id: `b${n}-e${i}`, process: { name: 'x', exe: '/x', argv: ['x'.repeat(bytesEach)] } })),
  };
}

/** Writes zeros until the file system says ENOSPC; returns the filler's path. */
function fill(dir: string): string {
  const file = path.join(dir, 'filler');
  const fd = openSync(file, 'w');
  const chunk = Buffer.alloc(4096);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (error) {
    expect((error as NodeJS.ErrnoException).code).toBe('ENOSPC');
  } finally {
    closeSync(fd);
  }
  return file;
}

describe.skipIf(!root)('agent spool on a full disk (tmpfs)', () => {
  const mounts: string[] = [];
  const cleanups: (() => Promise<void> | void)[] = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
    for (const dir of mounts) {
      spawnSync('umount', [dir]);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  function tmpfs(size: string): string {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'agent-spool-tmpfs-'));
    const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { encoding: 'utf8' });
    if (mount.status !== 0) throw new Error(`mount tmpfs: ${mount.stderr}`);
    mounts.push(dir);
    return dir;
  }

  it('keeps refused batches in memory in order, writes them once space returns, and counts only what overflows memory as dropped', () => {
    const dir = tmpfs('256k');
    const spoolDir = path.join(dir, 'spool');
    mkdirSync(spoolDir);
    const drops: SpoolDrop[] = [];
    const one = Buffer.byteLength(JSON.stringify(batch(0, 40)));
    const spool = new Spool(spoolDir, 64 * 1024 * 1024, (d) => drops.push(d), one * 3 + one / 2);
    const filler = fill(dir);

    for (let i = 1; i <= 3; i++) spool.append(batch(i, 40));
    expect(spool.stats()).toMatchObject({ batches: 3, memoryBatches: 3, droppedEvents: 0, lastWriteError: 'ENOSPC' });
    expect(spool.stats().writeFailures).toBeGreaterThanOrEqual(3);
    expect(readdirSync(spoolDir)).toEqual([]); // no partial temp file left holding space
    expect(spool.peek()!.batchId).toBe('b1');

    // Space returns: the next append writes the waiting batches first, in order.
    unlinkSync(filler);
    spool.append(batch(4, 40));
    expect(spool.stats()).toMatchObject({ batches: 4, memoryBatches: 0, memoryBytes: 0, droppedEvents: 0 });
    expect(readdirSync(spoolDir).filter((f) => f.endsWith('.json'))).toHaveLength(4);
    const order: string[] = [];
    for (let b = spool.peek(); b; b = spool.peek()) {
      order.push(b.batchId);
      spool.shift();
    }
    expect(order).toEqual(['b1', 'b2', 'b3', 'b4']);

    // Full again and more than memory holds: the oldest waiting batches are dropped and counted.
    fill(dir);
    for (let i = 5; i <= 9; i++) spool.append(batch(i, 40));
    const stats = spool.stats();
    expect(stats.droppedByReason).toEqual({ spool_full: 0, write_failed: 80 });
    expect(stats).toMatchObject({ droppedEvents: 80, droppedBatches: 2, memoryBatches: 3 });
    expect(drops.every((d) => d.reason === 'write_failed' && d.error === 'ENOSPC')).toBe(true);
    expect(spool.peek()!.batchId).toBe('b7');
    // At stop, what the disk still refuses is counted too.
    expect(spool.close()).toBe(120);
    expect(spool.stats()).toMatchObject({ droppedEvents: 200, memoryBatches: 0, batches: 0 });
  });

  it('reports the drops in its heartbeat and on /metrics', async () => {
    const dir = tmpfs('64k');
    const spoolDir = path.join(dir, 'spool');
    mkdirSync(spoolDir);
    fill(dir);

    // The server: refuses (503) until told otherwise, then records what arrives.
    let accept = false;
    const received: AgentBatch[] = [];
    const server: Server = createServer((request, response) => {
      let body = '';
      request.on('data', (d: Buffer) => { body += d.toString(); });
      request.on('end', () => {
        if (!accept) return response.writeHead(503).end();
        received.push(JSON.parse(body) as AgentBatch);
        response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    const port = (server.address() as { port: number }).port;

    const children: ChildProcess[] = [];
    cleanups.push(() => children.forEach((c) => c.kill()));
    const controller = new AbortController();
    let statusPort = 0;
    const run = runAgent({
      node: 'full-disk', server: `http://127.0.0.1:${port}`, token: 't', intervalMs: 250, heartbeatMs: 500, watchFiles: false,
      spoolDir, spoolMemoryMaxBytes: 1, statusAddr: '127.0.0.1:0', onStatus: (p) => { statusPort = p; }, signal: controller.signal,
    });
    cleanups.push(async () => { controller.abort(); await run; });
    const waitFor = async (what: string, check: () => boolean | Promise<boolean>, ms = 20_000) => {
      const deadline = Date.now() + ms;
      while (!(await check())) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    const metrics = async () => (await fetch(`http://127.0.0.1:${statusPort}/metrics`)).text();
    const dropped = async () => Number(/^palisade_agent_dropped_events_total\{reason="write_failed"\} (\d+)$/m.exec(await metrics())?.[1] ?? 0);

    await waitFor('the status endpoint', () => statusPort > 0);
    for (let i = 0; i < 3; i++) children.push(spawn('sleep', ['30']));
    await waitFor('events dropped on the full disk', async () => (await dropped()) > 0);
    expect(await metrics()).toMatch(/^palisade_agent_spool_write_failures_total [1-9]\d*$/m);
    const ready = await (await fetch(`http://127.0.0.1:${statusPort}/readyz`)).json() as { sensor: string; droppedEvents: number };
    expect(ready.sensor).toBe('proc');
    expect(ready.droppedEvents).toBeGreaterThan(0);

    accept = true;
    await waitFor('a heartbeat reporting the drops', () => received.some((b) => (b.heartbeat?.droppedByReason?.write_failed ?? 0) > 0));
    const heartbeat = received.find((b) => (b.heartbeat?.droppedByReason?.write_failed ?? 0) > 0)!.heartbeat!;
    expect(heartbeat.droppedEvents).toBe(heartbeat.droppedByReason!.write_failed);
    expect(heartbeat.sensor).toBe('proc');
    controller.abort();
    const stats = await run;
    expect(stats.dropped).toBeGreaterThanOrEqual(heartbeat.droppedEvents!);
  }, 60_000);
});
