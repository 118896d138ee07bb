import { existsSync, mkdtempSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { compileCondition, compileRuleMatch, compileTitle, judgeSamples, loadRuleFiles, parseRuleMeta, type EventSchema } from './index.js';

/** A small event schema of its own: the kernel knows no capability's events. */
type Ev = Record<string, unknown>;
const schema: EventSchema<Ev> = {
  code: 'test',
  aliases: { who: 'user.name' },
  views: { firstTag: (e) => (e.tags as string[] | undefined)?.[0] },
  roots: new Set(['user', 'proc', 'ancestors', 'port', 'tags', 'ip']),
  cel: (e) => ({ event: e }),
};
const lists = new Map<string, unknown[]>([['shells', ['sh', 'bash']], ['ports', [22, '2222']]]);
const holds = (condition: unknown, event: Ev) => compileCondition(condition, lists, schema)(event, event);

function dirWith(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'rules-kernel-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return dir;
}

const RULE = (extra: string) => `
rules:
  - id: shell
    title: Shell %proc.name started by %who
    description: d
    severity: high
    mitre: { tactic: Execution, technique: T1059 }
    remediation: r
    condition:
      proc.name: '@shells'
      not: { macro: user_known_shells }
${extra}`;
const BUILTIN = `
lists:
  shells: [sh, bash]
macros:
  user_known_shells: false
${RULE('')}`;

describe('condition language', () => {
  const event: Ev = { user: { name: 'alice' }, proc: { name: 'bash', argv: ['bash', '-i'] }, ancestors: [{ name: 'nginx' }, { name: 'init' }], port: 2222, tags: ['a', 'b'], ip: '10.1.2.3' };

  it('reads PATH: test keys, field: PATH keys and shorthands alike', () => {
    expect(holds({ 'proc.name': '@shells' }, event)).toBe(true);
    expect(holds({ field: 'proc.name', in: '@shells' }, event)).toBe(true);
    expect(holds({ who: 'alice' }, event)).toBe(true);
    expect(holds({ who: 'bob' }, event)).toBe(false);
    expect(holds({ 'proc.name': { prefix: 'ba', suffix: 'sh' } }, event)).toBe(true);
    expect(holds({ 'proc.name': { prefix: 'ba', suffix: 'zsh' } }, event)).toBe(false);
  });

  it('walks arrays met on a path, tests any element, and compares scalars by text', () => {
    expect(holds({ 'ancestors.name': 'nginx' }, event)).toBe(true);
    expect(holds({ 'ancestors[].name': 'init' }, event)).toBe(true);
    expect(holds({ 'ancestors.name': 'sshd' }, event)).toBe(false);
    expect(holds({ 'proc.argv': { contains: '-i' } }, event)).toBe(true);
    expect(holds({ port: '@ports' }, event)).toBe(true);
    expect(holds({ ip: { cidr: ['10.0.0.0/8'] } }, event)).toBe(true);
    expect(holds({ firstTag: 'a' }, event)).toBe(true);
    expect(holds({ 'proc.cwd': { exists: false } }, event)).toBe(true);
    expect(holds({ cel: 'event.proc.argv.size() == 2' }, event)).toBe(true);
  });

  it('evaluates CEL matches() with RE2 semantics on every event, the compiled pattern kept between events', () => {
    const condition = { cel: 'event.proc.name.matches("^(ba)?sh$")' };
    expect(holds(condition, event)).toBe(true);
    const proc = event.proc as Record<string, unknown>;
    expect(holds(condition, { ...event, proc: { ...proc, name: 'sh' } })).toBe(true);
    expect(holds(condition, { ...event, proc: { ...proc, name: 'zsh' } })).toBe(false);
    // RE2 has no backreferences: the pattern is an error, which is "no match", not a crash.
    expect(holds({ cel: 'event.proc.name.matches("(s)\\\\1")' }, event)).toBe(false);
  });

  it('names an unknown field, test or list instead of compiling a rule that never fires', () => {
    expect(() => holds({ 'prc.name': 'sh' }, event)).toThrow(expect.objectContaining({ code: 'test.rule-invalid', message: expect.stringContaining('unknown field prc') }));
    expect(() => holds({ 'proc.name': { like: 'sh' } }, event)).toThrow(/unknown test 'like'/);
    expect(() => holds({ 'proc.name': '@nope' }, event)).toThrow(/unknown list @nope/);
    expect(() => holds({ ip: { cidr: '10.0.0.0/33' } }, event)).toThrow(/bad prefix/);
  });

  it('fills titles from event fields, <NA> for a missing one', () => {
    expect(compileTitle('Shell %proc.name started by %who (%proc.cwd, 100%%)', schema, 't')(event)).toBe('Shell bash started by alice (<NA>, 100%)');
  });
});

describe('rule files', () => {
  const load = (user?: Record<string, string>) => {
    const loaded = loadRuleFiles({ code: 'test', builtinDir: dirWith({ 'a.yaml': BUILTIN }), ...(user ? { userDir: dirWith(user) } : {}), listRedefinition: 'replace' });
    const rule = parseRuleMeta(loaded.rules[0]!, 'test', [], { techniqueRequired: true });
    const { matches, title } = compileRuleMatch(rule, loaded.lists, schema);
    return { fires: (e: Ev) => matches(e), title, rule, lists: loaded.lists };
  };
  const shell = (name: string, user = 'alice'): Ev => ({ proc: { name }, user: { name: user } });

  it('a user file appends to a list, or replaces it', () => {
    expect(load().fires(shell('zsh'))).toBe(false);
    expect(load({ 'u.yaml': 'lists:\n  shells: { items: [zsh], append: true }\n' }).fires(shell('zsh'))).toBe(true);
    expect(load({ 'u.yaml': 'lists:\n  shells: { items: [zsh], override: { items: append } }\n' }).fires(shell('bash'))).toBe(true);
    expect(load({ 'u.yaml': 'lists:\n  shells: [zsh]\n' }).fires(shell('bash'))).toBe(false);
  });

  it('a user file widens a user_known_* macro by appending (OR), which silences the rule for it', () => {
    const widened = load({ 'u.yaml': 'macros:\n  user_known_shells: { condition: { who: ops }, append: true }\n' });
    expect(widened.fires(shell('bash', 'ops'))).toBe(false);
    expect(widened.fires(shell('bash', 'alice'))).toBe(true);
    const twice = load({ 'u.yaml': 'macros:\n  user_known_shells: { condition: { who: ops }, append: true }\n', 'v.yaml': 'macros:\n  user_known_shells: { condition: { who: alice }, override: { condition: append } }\n' });
    expect(twice.fires(shell('bash', 'ops'))).toBe(false);
    expect(twice.fires(shell('bash', 'alice'))).toBe(false);
    expect(twice.fires(shell('bash', 'eve'))).toBe(true);
  });

  it('appending to a rule ANDs its condition and adds exception values by name; override replaces a key', () => {
    const narrowed = load({ 'u.yaml': 'rules:\n  - id: shell\n    condition: { not: { who: root } }\n    append: true\n' });
    expect(narrowed.fires(shell('bash', 'root'))).toBe(false);
    expect(narrowed.fires(shell('bash'))).toBe(true);
    const excepted = load({
      'u.yaml': 'rules:\n  - id: shell\n    exceptions: [{ name: known, fields: [who, proc.name], comps: [=, in], values: [[ci, [sh, bash]]] }]\n    override: { exceptions: append }\n',
      'v.yaml': 'overrides:\n  - rule: shell\n    exceptions: [{ name: known, values: [[build, [bash]]] }]\n',
    });
    expect(excepted.fires(shell('bash', 'ci'))).toBe(false);
    expect(excepted.fires(shell('bash', 'build'))).toBe(false);
    expect(excepted.fires(shell('sh', 'build'))).toBe(true);
    const retitled = load({ 'u.yaml': 'rules:\n  - id: shell\n    title: Our shell rule\n    severity: low\n    override: { title: replace, severity: replace }\n' });
    expect(retitled.rule).toMatchObject({ title: 'Our shell rule', severity: 'low' });
  });

  it('refuses appends to what does not exist and overrides without a mode, naming the file and key', () => {
    expect(() => load({ 'u.yaml': 'macros:\n  nope: { condition: { who: x }, append: true }\n' })).toThrow(/u\.yaml: macros\.nope: cannot append/);
    expect(() => load({ 'u.yaml': 'rules:\n  - id: other\n    append: true\n    condition: { who: x }\n' })).toThrow(/u\.yaml: other: no earlier rule/);
    expect(() => load({ 'u.yaml': 'rules:\n  - id: shell\n    title: t\n    append: true\n' })).toThrow(/shell\.title: only condition and exceptions can be appended/);
    expect(() => load({ 'u.yaml': 'rules:\n  - id: shell\n    title: t\n    override: { condition: append }\n' })).toThrow(/shell\.title: the override names no mode/);
  });

  it('reads a built-in file\'s prebuilt JSON form while it is as new as the YAML, the YAML once edited after it, and never a user file\'s', () => {
    // The same file with its rule renamed: which form was read shows in the id.
    const json = JSON.stringify({ ...parseYaml(BUILTIN), rules: [{ ...parseYaml(RULE('')).rules[0], id: 'from-json' }] });
    const dir = dirWith({ 'a.yaml': BUILTIN, 'a.yaml.json': json });
    const ids = (options: { builtinDir?: string; userDir?: string }) => loadRuleFiles({ code: 'test', ...options, listRedefinition: 'replace' }).rules.map((r) => r.id);
    const past = new Date(Date.now() - 60_000);
    utimesSync(path.join(dir, 'a.yaml'), past, past);
    expect(ids({ builtinDir: dir })).toEqual(['from-json']);
    expect(ids({ userDir: dir })).toEqual(['shell']);
    // The YAML edited after the build: the stale JSON is not used.
    utimesSync(path.join(dir, 'a.yaml'), new Date(), new Date(Date.now() + 60_000));
    expect(ids({ builtinDir: dir })).toEqual(['shell']);
  });

  it('the build\'s prebuilt forms of the built-in rule files are the YAML, parsed', (ctx) => {
    const built = path.resolve(import.meta.dirname, '../../dist');
    const dirs = ['audit/rules', 'agent/rules'].map((d) => path.join(built, d)).filter((d) => existsSync(d));
    if (!dirs.length) ctx.skip();
    let compared = 0;
    for (const dir of dirs) {
      for (const name of readdirSync(dir).filter((n) => n.endsWith('.yaml'))) {
        const sidecar = path.join(dir, `${name}.json`);
        expect(existsSync(sidecar), sidecar).toBe(true);
        expect(JSON.parse(readFileSync(sidecar, 'utf8'))).toEqual(parseYaml(readFileSync(path.join(dir, name), 'utf8')) ?? null);
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(5);
  });

  it('a user rule with a built-in id replaces it (Falco), two built-ins with one id are an error', () => {
    const replaced = load({ 'u.yaml': RULE('').replace('Shell %proc.name', 'Replaced %proc.name') });
    expect(replaced.rule.title).toBe('Replaced %proc.name started by %who');
    expect(() => loadRuleFiles({ code: 'test', builtinDir: dirWith({ 'a.yaml': BUILTIN, 'b.yaml': RULE('') }), listRedefinition: 'replace' })).toThrow(/duplicate rule id/);
  });

  it('renders the title of the event that fired, and runs samples through one judge', () => {
    const { title, fires } = load();
    expect(title(shell('bash'))).toBe('Shell bash started by alice');
    const verdicts = judgeSamples({ fire: [{ events: [shell('sh')] }], quiet: [{ events: [shell('zsh'), shell('ls')] }] }, (events) => events.map(fires));
    expect(verdicts).toEqual([{ kind: 'fire', index: 0, ok: true }, { kind: 'quiet', index: 0, ok: true }]);
  });
});
