import { spawn } from 'node:child_process';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeAddress, isListening, parseProcNet, readNamespaceSockets, SocketOwners } from './net.js';
import { classifyFd, fullCapabilityMask, hasAllCapabilities, parseStat, parseStatus, ProcessTable } from './proc.js';

describe('/proc parsing', () => {
  it('reads stat lines whose comm holds spaces and parentheses', () => {
    const stat = parseStat('4242 (my (weird) name) S 17 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 10 18446744073709551615');
    expect(stat).toMatchObject({ comm: 'my (weird) name', state: 'S', ppid: 17, startTime: 987654 });
  });

  it('takes the effective uid and CapEff from status', () => {
    expect(parseStatus('Name:\tx\nUid:\t1000\t0\t0\t0\nCapEff:\t000001ffffffffff\n')).toEqual({ uid: 0, capEff: '000001ffffffffff' });
  });

  it('tells all capabilities from a default set', () => {
    const full = fullCapabilityMask();
    expect(hasAllCapabilities(full.toString(16).padStart(16, '0'), full)).toBe(true);
    expect(hasAllCapabilities('00000000a80425fb', full)).toBe(false);
  });

  it('classifies fd 0 links', () => {
    expect(classifyFd('socket:[12345]')).toEqual({ type: 'socket', inode: 12345 });
    expect(classifyFd('/dev/pts/3')).toEqual({ type: 'tty' });
    expect(classifyFd('pipe:[9]')).toEqual({ type: 'pipe' });
  });

  it('decodes kernel socket addresses', () => {
    expect(decodeAddress('0100007F')).toBe('127.0.0.1');
    expect(decodeAddress('00000000000000000000000001000000')).toBe('::1');
    expect(decodeAddress('0000000000000000FFFF00000100007F')).toBe('127.0.0.1');
    expect(decodeAddress('B80D0120000000000000000001000000')).toBe('2001:db8::1');
    const [entry] = parseProcNet('  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:0016 00000000:0000 0A 00000000:00000001 00:00000000 00000000     0        0 143261 2 000000000b8ce66c 100 0 0 10 0\n', 'tcp');
    expect(entry).toMatchObject({ local: { ip: '127.0.0.1', port: 22 }, state: 0x0a, inode: 143261 });
    expect(isListening(entry!)).toBe(true);
  });
});

describe('live /proc', () => {
  const children: { kill(): boolean }[] = [];
  let server: Server | undefined;
  let client: Socket | undefined;
  afterAll(() => {
    for (const child of children) child.kill();
    client?.destroy();
    server?.close();
  });

  it('sees a new process with its argv, uid and parent chain, and its exit', async () => {
    const table = new ProcessTable('/proc', 1);
    table.poll();
    const child = spawn('sleep', ['30']);
    children.push(child);
    await new Promise((r) => setTimeout(r, 100));
    const diff = table.poll();
    const seen = diff.started.find((p) => p.info.pid === child.pid);
    expect(seen?.info).toMatchObject({ name: 'sleep', argv: ['sleep', '30'], uid: process.getuid!(), ppid: process.pid });
    expect(table.ancestors(child.pid!)[0]?.pid).toBe(process.pid);
    expect(table.poll().started.find((p) => p.info.pid === child.pid)).toBeUndefined();
    child.kill();
    await new Promise((r) => setTimeout(r, 100));
    expect(table.poll().exited).toContain(child.pid);
  });

  it('notices a process that exec\'d in place into the same program (same pid, same comm)', async () => {
    const table = new ProcessTable('/proc', 1);
    const child = spawn('bash', ['-c', 'sleep 0.4; exec bash -c "sleep 30; true"']);
    children.push(child);
    await new Promise((r) => setTimeout(r, 150));
    table.poll();
    expect(table.get(child.pid!)?.argv).toEqual(['bash', '-c', 'sleep 0.4; exec bash -c "sleep 30; true"']);
    await new Promise((r) => setTimeout(r, 700));
    const again = table.poll().started.find((p) => p.info.pid === child.pid);
    expect(again?.info.argv).toEqual(['bash', '-c', 'sleep 30; true']);
    child.kill();
  });

  it('finds our listening socket and the connection, and maps the inode to this process', async () => {
    server = createServer(() => {});
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    client = connect(port, '127.0.0.1');
    await new Promise((r) => client!.once('connect', r));
    const sockets = readNamespaceSockets('/proc', 'self');
    const listen = sockets.find((s) => s.local.port === port && isListening(s));
    const outbound = sockets.find((s) => s.remote.port === port && s.remote.ip === '127.0.0.1');
    expect(listen).toBeDefined();
    expect(outbound).toBeDefined();
    const owners = new SocketOwners('/proc');
    owners.resolve([listen!.inode, outbound!.inode], [process.pid]);
    expect(owners.get(listen!.inode)).toBe(process.pid);
    expect(owners.get(outbound!.inode)).toBe(process.pid);
  });
});
