import { appendFileSync, mkdtempSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixture, fixturesAvailable } from '../../../test/support/fixtures.js';
import { AuditdLogTail, decodeAuditdEvent, decodeSockaddr, parseAuditdLine, parseAuditdText } from './auditd.js';

/** The parts of LAUREL's JSON rendering the tests compare. */
interface LaurelEvent {
  ID: string;
  SYSCALL?: { pid: number; exe?: string | null; SYSCALL?: string | number };
  EXECVE?: { ARGV: string[] };
  CWD?: { cwd: string };
  PATH?: { name: string }[];
  PROCTITLE?: { ARGV?: string[] };
}

describe.skipIf(!fixturesAvailable())('auditd records (real fixtures)', () => {
  const laurel = (name: string) => fixture('auditd', 'laurel', name);
  const withJson = readdirSync(fixture('auditd', 'laurel')).filter((f) => f.startsWith('record-') && f.endsWith('.json'));

  it('decodes every LAUREL record like LAUREL does: one event, argv, cwd, paths, proctitle', () => {
    let compared = 0;
    for (const json of withJson) {
      // LAUREL writes one JSON object per line, one per event.
      const expectedEvents = readFileSync(laurel(json), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as LaurelEvent);
      const events = parseAuditdText(readFileSync(laurel(json.replace('.json', '.txt')), 'utf8'));
      expect(events.length, `${json}: ${events.map((e) => e.records.map((r) => r.type).join('+')).join(' | ')}`).toBe(expectedEvents.length);
      expectedEvents.forEach((expected, i) => {
        const event = decodeAuditdEvent(events[i]!);
        const where = `${json} #${i}`;
        expect(`${events[i]!.time.toFixed(3)}:${events[i]!.serial}`, where).toBe(expected.ID);
        if (expected.SYSCALL) {
          expect(event.pid, where).toBe(expected.SYSCALL.pid);
          expect(event.exe ?? null, where).toBe(expected.SYSCALL.exe ?? null);
          if (typeof expected.SYSCALL.SYSCALL === 'string' && !/^\d+$/.test(expected.SYSCALL.SYSCALL)) expect(event.syscall, where).toBe(expected.SYSCALL.SYSCALL);
        }
        if (expected.EXECVE) expect(event.argv, where).toEqual(expected.EXECVE.ARGV);
        if (expected.CWD) expect(event.cwd, where).toBe(expected.CWD.cwd);
        if (expected.PATH) expect(event.paths.map((p) => p.name), where).toEqual(expected.PATH.map((p: { name: string }) => p.name));
        if (expected.PROCTITLE?.ARGV) expect(event.proctitle, where).toEqual(expected.PROCTITLE.ARGV);
        compared++;
      });
    }
    expect(compared).toBeGreaterThan(10);
  });

  it('joins a long argument split into a1[0], a1[1], ... chunks', () => {
    const [event] = parseAuditdText(readFileSync(laurel('record-execve-long.txt'), 'utf8')).map(decodeAuditdEvent);
    expect(event!.argv![0]).toBe('/bin/echo');
    expect(event!.argv![1]!.length).toBe(8192);
    expect(event!.argv![1]!.startsWith('baaaa')).toBe(true);
  });

  it('decodes connect and bind socket addresses, including a big-endian architecture', () => {
    const connects = parseAuditdText(readFileSync(laurel('record-connect.txt'), 'utf8')).map(decodeAuditdEvent);
    expect(connects.map((e) => [e.syscall, e.sockaddr?.ip, e.sockaddr?.port, e.success])).toEqual([['connect', '127.0.0.1', 11211, true], ['connect', '::1', 11211, true]]);
    const [bind] = parseAuditdText(readFileSync(laurel('record-bind-ipv4-bigendian.txt'), 'utf8')).map(decodeAuditdEvent);
    expect(bind!.arch).toBe('ppc64');
    expect(bind!.syscall).toBe('bind');
    expect(bind!.sockaddr).toEqual({ family: 'inet', ip: '0.0.0.0', port: 55555 });
  });

  it('keeps ENRICHED fields apart from raw ones, and lifts user-space msg fields', () => {
    const record = parseAuditdLine(readFileSync(laurel('line-user-acct.txt'), 'utf8').trim())!;
    expect(record.type).toBe('USER_ACCT');
    expect(record.fields.acct).toBe('user');
    expect(record.fields.exe).toBe('/usr/bin/sudo');
    expect(record.fields.res).toBe('success');
    expect(record.enriched).toEqual({ UID: 'user', AUID: 'user' });
  });

  it('reassembles events from records out of order, lost EOEs and serial rollover', () => {
    for (const name of ['normal.log', 'out_of_order.log', 'lost_messages.log', 'rollover.log']) {
      const text = readFileSync(fixture('auditd', 'go-libaudit', 'testdata', name), 'utf8');
      const records = text.split('\n').map(parseAuditdLine).filter((r) => r !== undefined && r.type !== 'EOE');
      const keys = new Set(records.map((r) => `${r!.time}:${r!.serial}`));
      const events = parseAuditdText(text);
      expect(events.length, name).toBe(keys.size);
      for (const event of events) {
        expect(new Set(event.records.map((r) => r.serial)).size, name).toBe(1);
      }
      expect(events.reduce((n, e) => n + e.records.length, 0), name).toBe(records.length);
    }
  });

  it('parses every line of the go-libaudit distro logs into typed records with serials', () => {
    for (const name of ['audit-rhel6.log', 'audit-rhel7.log', 'audit-ubuntu14.log', 'audit-ubuntu16.log', 'audit-ubuntu17.log']) {
      const lines = readFileSync(fixture('auditd', 'go-libaudit', 'auparse', 'testdata', name), 'utf8').split('\n').filter(Boolean);
      const golden = JSON.parse(readFileSync(fixture('auditd', 'go-libaudit', 'auparse', 'testdata', `${name}.golden`), 'utf8')) as { sequence: number; record_type: string; data: Record<string, string> }[];
      // go-libaudit leaves null where it could not parse a line; compare the others.
      const pairs = lines.map((line, i) => [parseAuditdLine(line), golden[i]] as const).filter(([, g]) => g !== null);
      expect(pairs.length, name).toBeGreaterThan(0);
      const parsed = pairs.map(([r]) => r);
      expect(parsed.map((r) => r?.serial), name).toEqual(pairs.map(([, g]) => g!.sequence));
      expect(parsed.map((r) => r?.type.toLowerCase()), name).toEqual(pairs.map(([, g]) => g!.record_type));
      // Hex-encoded executables, commands and paths decode to what go-libaudit decodes.
      pairs.forEach(([, g], i) => {
        for (const key of ['exe', 'comm', 'cwd', 'name', 'proctitle']) {
          if (g!.data[key] !== undefined && parsed[i]!.fields[key] !== undefined && g!.data[key] !== '(null)') expect(parsed[i]!.fields[key]!.replaceAll('\0', ' '), `${name} line ${i + 1} ${key}`).toBe(g!.data[key]);
        }
      });
    }
  });

  it('decodes the reverse-shell one-liner of the perl fixture', () => {
    const [event] = parseAuditdText(readFileSync(laurel('record-perl-reverse-shell.txt'), 'utf8')).map(decodeAuditdEvent);
    expect(event!.argv![2]).toContain('exec("/bin/sh -i")');
    expect(event!.uid).toBe(0);
    expect(event!.auid).toBe(1000);
  });
});

describe('sockaddr', () => {
  it('reads unix socket paths', () => {
    const hex = Buffer.concat([Buffer.from([1, 0]), Buffer.from('/run/x.sock\0')]).toString('hex');
    expect(decodeSockaddr(hex)).toEqual({ family: 'unix', path: '/run/x.sock' });
  });
});

describe('audit log tail', () => {
  it('reads appended lines, survives rotation without losing the old file tail, and restarts after truncation', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'audit-tail-'));
    const log = path.join(dir, 'audit.log');
    writeFileSync(log, 'old line before start\n');
    const tail = new AuditdLogTail(log);
    expect(tail.read()).toEqual([]);
    appendFileSync(log, 'a\nb');
    expect(tail.read()).toEqual(['a']);
    appendFileSync(log, '\nc\n');
    expect(tail.read()).toEqual(['b', 'c']);
    appendFileSync(log, 'd\n');
    renameSync(log, `${log}.1`); // auditd's rotation: rename, then a new file
    appendFileSync(`${log}.1`, 'e\n');
    writeFileSync(log, 'f\nf2\n');
    expect(tail.read()).toEqual(['d', 'e', 'f', 'f2']);
    writeFileSync(log, 'g\n'); // truncated in place and rewritten (copytruncate)
    expect(tail.read()).toEqual(['g']);
    tail.close();
  });
});
