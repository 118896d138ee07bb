/** The one image for server, worker and agent: multi-stage on node:20, non-root, read-only-root ready. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');

interface Instruction { op: string; args: string }

/** Dockerfile instructions with continuation lines joined and comments dropped. */
function parseDockerfile(text: string): Instruction[] {
  const joined = text.split('\n').filter((l) => !/^\s*#/.test(l)).join('\n').replace(/\\\n/g, ' ');
  return joined.split('\n').map((l) => l.trim()).filter(Boolean).map((l) => {
    const [op = '', ...rest] = l.split(/\s+/);
    return { op: op.toUpperCase(), args: rest.join(' ') };
  });
}

describe('Dockerfile', () => {
  const instructions = parseDockerfile(readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8'));
  const stages = instructions.reduce<Instruction[][]>((acc, i) => (i.op === 'FROM' ? [...acc, [i]] : (acc.at(-1)?.push(i), acc)), []);
  const final = stages.at(-1)!;

  it('builds in one stage and runs from another, both on the same maintained Node LTS (22 or 24)', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const stage of stages) expect(stage[0]!.args).toMatch(/^node:(22|24)[-.\w]*(\s+AS\s+\w+)?$/i);
    expect(new Set(stages.map((s) => s[0]!.args.split(/\s+/)[0])).size, 'one base image for both stages').toBe(1);
    expect(final.some((i) => i.op === 'COPY' && i.args.includes('--from='))).toBe(true);
    expect(final.some((i) => i.op === 'RUN' && /npm (ci|install)/.test(i.args)), 'no dev install in the runtime stage').toBe(false);
  });

  it('runs as a numeric non-root user, with the CLI as entrypoint', () => {
    const users = final.filter((i) => i.op === 'USER');
    expect(users.length).toBeGreaterThan(0);
    const [uid, gid] = users.at(-1)!.args.split(':');
    expect(uid).toMatch(/^\d+$/);
    expect(Number(uid)).toBeGreaterThan(0);
    if (gid !== undefined) expect(Number(gid)).toBeGreaterThan(0);
    const entrypoint = JSON.parse(final.find((i) => i.op === 'ENTRYPOINT')!.args) as string[];
    expect(entrypoint).toEqual(['node', 'dist/bin/palisade.js']);
    // The manifests run the same uid (runAsUser), so files the image prepares belong to it.
    const server = parseAllDocuments(readFileSync(path.join(ROOT, 'deploy/kustomize/base/server.yaml'), 'utf8'))[0]!.toJS() as
      { spec: { template: { spec: { securityContext: { runAsUser: number } } } } };
    expect(server.spec.template.spec.securityContext.runAsUser).toBe(Number(uid));
  });

  it('ships what the server reads at run time: the built CLI with its data, and the dashboard', () => {
    const copied = final.filter((i) => i.op === 'COPY' && i.args.includes('--from=build')).map((i) => i.args.split(/\s+/).slice(-2));
    // src/server/routes/web.ts serves web/dist beside dist/; without it the image has no dashboard.
    expect(copied).toContainEqual(['/src/dist', './dist']);
    expect(copied).toContainEqual(['/src/web/dist', './web/dist']);
  });

  it('writes only under the data directory the manifests mount writable', () => {
    const env = final.filter((i) => i.op === 'ENV').map((i) => i.args).join(' ');
    const dataDir = /PALISADE_DATA_DIR=(\S+)/.exec(env)?.[1];
    const config = parseYaml(readFileSync(path.join(ROOT, 'deploy/kustomize/base/config.yaml'), 'utf8').split('\n---\n')[0]!) as { data: Record<string, string> };
    expect(dataDir).toBe(config.data.PALISADE_DATA_DIR);
    expect(final.some((i) => i.op === 'VOLUME' && i.args.includes(dataDir!))).toBe(true);
  });

  it('.dockerignore keeps the repository, dependencies and secrets out of the build context', () => {
    const ignored = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim());
    for (const entry of ['.git', 'node_modules', 'dist', '.env']) expect(ignored).toContain(entry);
  });
});
