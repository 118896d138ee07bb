import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fixture, fixturesAvailable } from '../../test/support/fixtures.js';
import { NodeAgent } from './agent.js';

describe.skipIf(!fixturesAvailable())('agent over the audit log', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'agent-audit-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('turns real auditd records into exec, network and file events and alerts on them', async () => {
    const log = path.join(dir, 'audit.log');
    writeFileSync(log, '');
    const agent = new NodeAgent({ node: 'audit-node', auditLog: log, threatIntel: ['127.0.0.1/32'], watchFiles: false });
    await agent.collect(); // snapshot of /proc; the log is still empty
    appendFileSync(log, readFileSync(fixture('auditd', 'laurel', 'record-perl-reverse-shell.txt'), 'utf8'));
    appendFileSync(log, readFileSync(fixture('auditd', 'laurel', 'record-connect.txt'), 'utf8'));
    // An openat(O_WRONLY|O_TRUNC) of /etc/passwd in auditd's own record format (no such record in the fixtures).
    appendFileSync(log, [
      'type=SYSCALL msg=audit(1700000000.100:777): arch=c000003e syscall=257 success=yes exit=3 a0=ffffff9c a1=7ffd0 a2=241 a3=1b6 items=2 ppid=1 pid=4242 auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=1 comm="bash" exe="/usr/bin/bash" key="identity"',
      'type=CWD msg=audit(1700000000.100:777): cwd="/root"',
      'type=PATH msg=audit(1700000000.100:777): item=0 name="/etc/" inode=2 dev=08:01 mode=040755 ouid=0 ogid=0 rdev=00:00 nametype=PARENT cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0',
      'type=PATH msg=audit(1700000000.100:777): item=1 name="/etc/passwd" inode=3 dev=08:01 mode=0100644 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0',
      'type=PROCTITLE msg=audit(1700000000.100:777): proctitle="bash"',
      'type=EOE msg=audit(1700000000.100:777): ',
      '',
    ].join('\n'));
    const { events, alerts } = await agent.collect();
    const audit = events.filter((e) => e.source === 'auditd');
    expect(audit.map((e) => e.kind).sort()).toEqual(['exec', 'file', 'network', 'network']);
    const file = audit.find((e) => e.kind === 'file');
    expect(file).toMatchObject({ path: '/etc/passwd', op: 'truncate', process: { pid: 4242, exe: '/usr/bin/bash' } });
    const rules = alerts.map((a) => a.rule).sort();
    expect(rules).toContain('agent.reverse-shell');
    expect(rules).toContain('agent.account-files-changed');
    // 127.0.0.1 listed, ::1 not. Only the audit log's connections count: the /proc snapshot also sees
    // this machine's own loopback connections (other tests' servers and databases) and may alert on them.
    const fromLog = alerts.filter((a) => a.rule === 'agent.threat-intel-connection' && a.evidence.every((e) => e.event.source === 'auditd'));
    expect(fromLog).toHaveLength(1);
    const shell = alerts.find((a) => a.rule === 'agent.reverse-shell')!;
    expect(shell.evidence[0]!.event.raw!.some((line) => line.startsWith('type=EXECVE'))).toBe(true);
    expect(shell.at).toBe(new Date(1626611363720).toISOString());
    // Same records again after a restart of the agent: same event ids, so the server stores them once.
    const again = new NodeAgent({ node: 'audit-node', auditLog: log, auditFromStart: true, watchFiles: false });
    const replay = (await again.collect()).events.filter((e) => e.source === 'auditd').map((e) => e.id).sort();
    expect(replay).toEqual(audit.map((e) => e.id).sort());
  });
});
