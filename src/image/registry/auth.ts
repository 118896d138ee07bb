import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { DOCKER_HUB } from '../reference.js';

export interface RegistryCredentials {
  username: string;
  password: string;
  /**
   * Token realm hosts besides the registry's own to which these credentials may be sent
   * (`auth.example.com`, `auth.example.com:5001` or a URL): a registry whose token service lives
   * elsewhere. A realm on any other host is refused (see origin.ts).
   */
  tokenRealms?: string[];
}

export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** Parses `WWW-Authenticate: Bearer realm="…",service="…",scope="…"` (RFC 7235 auth-params; quoted strings may hold commas). */
export function parseChallenges(header: string | null): Challenge[] {
  if (!header) return [];
  const challenges: Challenge[] = [];
  let current: Challenge | undefined;
  let rest = header;
  while (rest.length) {
    const param = /^\s*([\w-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*,?/.exec(rest);
    if (param && current) {
      current.params[param[1]!.toLowerCase()] = param[2] !== undefined ? param[2].replace(/\\(.)/g, '$1') : (param[3] ?? '');
      rest = rest.slice(param[0].length);
      continue;
    }
    const scheme = /^\s*,?\s*([A-Za-z][\w-]*)(\s+|$)/.exec(rest);
    if (!scheme) break;
    current = { scheme: scheme[1]!.toLowerCase(), params: {} };
    challenges.push(current);
    rest = rest.slice(scheme[0].length);
  }
  return challenges;
}

/** The keys `docker login` writes for a registry (Docker Hub's is its v1 index URL). */
function configKeys(registry: string): string[] {
  if (registry === DOCKER_HUB) return ['https://index.docker.io/v1/', 'index.docker.io', 'docker.io', 'registry-1.docker.io'];
  return [registry, `https://${registry}`, `http://${registry}`, `https://${registry}/v1/`, `https://${registry}/v2/`];
}

/**
 * Credentials from ~/.docker/config.json (or $DOCKER_CONFIG/config.json): `auths.HOST.auth`
 * (base64 user:password) or `username`/`password`. Credential helpers are not run:
 * Palisade never executes programs named by a config file.
 */
export async function dockerConfigCredentials(registry: string, configPath?: string): Promise<RegistryCredentials | undefined> {
  const file = configPath ?? path.join(process.env.DOCKER_CONFIG ?? path.join(homedir(), '.docker'), 'config.json');
  let doc: { auths?: Record<string, { auth?: string; username?: string; password?: string }> };
  try {
    doc = JSON.parse(await readFile(file, 'utf8')) as typeof doc;
  } catch {
    return undefined;
  }
  const auths = doc.auths ?? {};
  for (const key of configKeys(registry)) {
    const entry = auths[key];
    if (!entry) continue;
    if (entry.username && entry.password) return { username: entry.username, password: entry.password };
    if (entry.auth) {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon > 0) return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    }
  }
  return undefined;
}

export function basicAuthorization(credentials: RegistryCredentials): string {
  return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
}
