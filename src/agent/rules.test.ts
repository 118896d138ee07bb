import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AgentRuleEngine } from './engine.js';
import { loadAgentRules } from './rules.js';
import { sampleEvent } from './samples.js';
import { judgeSamples } from '../rules/index.js';
import type { HostEvent } from './events.js';

const TEST_THREAT_LIST = ['198.51.100.0/24', '2001:db8:bad::/48'];

const set = loadAgentRules();

describe('built-in agent rules', () => {
  const engine = new AgentRuleEngine(set, { lists: { threat_intel: TEST_THREAT_LIST } });

  it('covers every detection the node agent promises', () => {
    const ids = set.rules.map((r) => r.id);
    for (const id of ['agent.ssh-server-in-container', 'agent.privileged-container', 'agent.web-shell', 'agent.threat-intel-connection',
      'agent.kubernetes-api-from-container', 'agent.service-account-token-read', 'agent.crypto-miner', 'agent.reverse-shell',
      'agent.package-manager-in-container', 'agent.account-files-changed', 'agent.history-cleared']) {
      expect(ids).toContain(id);
    }
  });

  for (const rule of set.rules) {
    describe(rule.id, () => {
      // The kernel's sample runner, as the audit rules use it: a fire sample's last event fires, no quiet event does.
      const fired = (events: HostEvent[]) => events.map((e) => engine.match(e).some((r) => r.id === rule.id));
      for (const verdict of judgeSamples(rule.samples, fired)) {
        it(`${verdict.kind === 'fire' ? 'fires on' : 'stays quiet on'} sample ${verdict.index + 1}`, () => {
          expect(verdict.ok).toBe(true);
        });
      }
    });
  }

  it('reads the threat list at run time and picks up a refresh', () => {
    const event = sampleEvent({ kind: 'network', direction: 'connect', protocol: 'tcp', local: { ip: '10.0.0.2', port: 5000 }, remote: { ip: '192.0.2.77', port: 443 } });
    const local = new AgentRuleEngine(set);
    expect(local.match(event).map((r) => r.id)).not.toContain('agent.threat-intel-connection');
    local.setList('threat_intel', ['192.0.2.0/24']);
    expect(local.match(event).map((r) => r.id)).toContain('agent.threat-intel-connection');
  });

  it('alerts carry node, container, process tree and the raw event, with a stable id', () => {
    const event = set.rules.find((r) => r.id === 'agent.web-shell')!.samples.fire[0]!.events[0]!;
    const [alert] = engine.evaluate('node-a', event);
    expect(alert).toMatchObject({ rule: 'agent.web-shell', severity: 'high', tactic: 'Persistence', resource: { kind: 'container', id: 'c1' } });
    expect(alert!.evidence[0]!.processTree.map((p) => p.name)).toEqual(['sh', 'python3.11']);
    expect(alert!.evidence[0]!.event).toBe(event);
    expect(alert!.evidence[0]!.node).toBe('node-a');
    expect(engine.evaluate('node-a', event)[0]!.id).toBe(alert!.id);
  });
});

describe('user rule files', () => {
  it('widen a rule\'s exceptions without editing it: the fire sample they name is silenced, the others still fire', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'agent-rules-'));
    writeFileSync(path.join(dir, 'site.yaml'), [
      'rules:',
      '  - id: agent.package-manager-in-container',
      '    exceptions: [{ name: site_builders, fields: [container.id, process.name], comps: [equals, in], values: [[c1, [apt-get]]] }]',
      '    override: { exceptions: append }',
      'macros:',
      "  user_known_package_manager_in_container: { condition: { process.name: gcc }, append: true }",
    ].join('\n'));
    const builtin = loadAgentRules();
    const site = loadAgentRules({ dir });
    const rule = (set: typeof site) => set.rules.find((r) => r.id === 'agent.package-manager-in-container')!;
    const fires = (set: typeof site, e: HostEvent) => new AgentRuleEngine(set).match(e).some((r) => r.id === 'agent.package-manager-in-container');
    const [aptGet, gcc] = rule(builtin).samples.fire.map((s) => s.events[0]!);
    expect(fires(builtin, aptGet!)).toBe(true);
    expect(fires(builtin, gcc!)).toBe(true);
    // apt-get in c1 is excepted by the appended exception, gcc by the widened user_known_* macro.
    expect(fires(site, aptGet!)).toBe(false);
    expect(fires(site, gcc!)).toBe(false);
    expect(fires(site, sampleEvent({ kind: 'exec', process: { name: 'apk', exe: '/sbin/apk', argv: ['apk', 'add', 'nmap'] }, container: { id: 'c1', runtime: 'containerd' }, mainProcess: false }))).toBe(true);
  });

  it('the example rule file in docs/rules.md loads as written and its samples hold', () => {
    const doc = readFileSync(path.join(import.meta.dirname, '../../docs/rules.md'), 'utf8');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'agent-rules-'));
    writeFileSync(path.join(dir, 'example.yaml'), /```yaml\n([\s\S]*?)```/.exec(doc)![1]!);
    const example = loadAgentRules({ dir });
    const rule = example.rules.find((r) => r.id === 'site.shell-in-builder')!;
    const engine = new AgentRuleEngine(example);
    expect(judgeSamples(rule.samples, (events) => events.map((e) => engine.match(e).some((r) => r.id === rule.id))).every((v) => v.ok)).toBe(true);
    expect(example.rules.find((r) => r.id === 'agent.crypto-miner')!.severity).toBe('critical');
    expect(engine.evaluate('n', rule.samples.fire[0]!.events[0]!).find((a) => a.rule === rule.id)!.title).toBe('Shell bash in container c1');
  });

  it('alert titles fill in event fields', () => {
    const event = set.rules.find((r) => r.id === 'agent.package-manager-in-container')!.samples.fire[0]!.events[0]!;
    expect(new AgentRuleEngine(set).evaluate('node-a', event).find((a) => a.rule === 'agent.package-manager-in-container')?.title)
      .toBe('Package manager or compiler (apt-get) run in container c1');
  });
});

describe('rule files', () => {
  function dirWith(yaml: string): string {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'agent-rules-'));
    writeFileSync(path.join(dir, 'r.yaml'), yaml);
    return dir;
  }

  it('rejects a rule without quiet samples, naming the rule', () => {
    const dir = dirWith('rules:\n  - id: x\n    title: t\n    description: d\n    severity: low\n    mitre: { tactic: Execution }\n    remediation: r\n    events: [exec]\n    condition: { process.name: ls }\n    samples: { fire: [{ kind: exec }] }\n');
    expect(() => loadAgentRules({ dir, builtin: false })).toThrow(/r\.yaml: x\.samples: every rule needs/);
  });

  it('rejects unknown tests and lists', () => {
    const base = 'rules:\n  - id: y\n    title: t\n    description: d\n    severity: low\n    mitre: { tactic: Execution }\n    remediation: r\n    events: [exec]\n    samples: { fire: [{ kind: exec }], quiet: [{ kind: exec }] }\n';
    const bad = loadAgentRules({ dir: dirWith(`${base}    condition: { process.name: { like: ls } }\n`), builtin: false });
    expect(() => new AgentRuleEngine(bad)).toThrow(/unknown test 'like'/);
    const missing = loadAgentRules({ dir: dirWith(`${base}    condition: { process.name: '@nope' }\n`), builtin: false });
    expect(() => new AgentRuleEngine(missing)).toThrow(/unknown list @nope/);
  });
});
