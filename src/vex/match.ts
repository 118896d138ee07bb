/**
 * Which VEX statement speaks for a finding, by the rules OpenVEX's reference implementation
 * (openvex/go-vex, pkg/vex: Statement.Matches, Product.Matches, Component.Matches, PurlMatches,
 * SortStatements) applies:
 * - the vulnerability matches by the statement's name, @id or any alias against the finding's id
 *   or any of its aliases;
 * - a product matches by an identifier equal to the image's (digest, hash, reference), or by purl:
 *   a purl without a version matches every version, and every qualifier it names must be present
 *   with the same value (repository_url, tag, arch, os for `pkg:oci`); a product may also be the
 *   vulnerable package itself (its purl matched against the finding's package purl);
 * - when the product lists subcomponents, the finding's package must match one of them;
 * - of the statements that match one finding, the latest in time wins (its own timestamp, else
 *   its document's), so a later `affected` re-enables what an earlier `not_affected` suppressed.
 */
import type { Finding } from '../core/index.js';
import type { VexComponent, VexStatement, VexStatus } from './document.js';

export interface PackageUrl {
  type: string;
  namespace: string;
  name: string;
  version: string;
  qualifiers: Map<string, string>;
}

const decode = (s: string) => {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
};

/** Parses a purl (https://github.com/package-url/purl-spec); undefined when it is not one. */
function parsePurl(purl: string): PackageUrl | undefined {
  if (!purl.startsWith('pkg:')) return undefined;
  let rest = purl.slice(4).replace(/^\/+/, '');
  const hash = rest.indexOf('#');
  if (hash >= 0) rest = rest.slice(0, hash);
  const qualifiers = new Map<string, string>();
  const question = rest.indexOf('?');
  if (question >= 0) {
    for (const pair of rest.slice(question + 1).split('&')) {
      const eq = pair.indexOf('=');
      if (eq <= 0) continue;
      const value = decode(pair.slice(eq + 1));
      if (value) qualifiers.set(pair.slice(0, eq).toLowerCase(), value);
    }
    rest = rest.slice(0, question);
  }
  // The version follows the last `@` after the last `/` (an npm scope's `@` sits before a `/`).
  const slash = rest.lastIndexOf('/');
  const at = rest.lastIndexOf('@');
  let version = '';
  if (at > slash) {
    version = decode(rest.slice(at + 1));
    rest = rest.slice(0, at);
  }
  const segments = rest.split('/').filter(Boolean).map(decode);
  if (segments.length < 2) return undefined;
  const type = segments.shift()!.toLowerCase();
  const name = segments.pop()!;
  return { type, namespace: segments.join('/'), name, version, qualifiers };
}

/** go-vex PurlMatches: `general` (from the statement) matches the more specific `specific` (from the finding or image). */
function purlMatches(general: PackageUrl, specific: PackageUrl): boolean {
  if (general.type !== specific.type || general.namespace !== specific.namespace || general.name !== specific.name) return false;
  if (general.version && general.version !== specific.version) return false;
  for (const [key, value] of general.qualifiers) if (specific.qualifiers.get(key) !== value) return false;
  return true;
}

/** What a stored or scanned image is known by: the identities a statement's product may name. */
export interface ImageIdentity {
  /** Manifest digest (and the config digest, the image ID), `sha256:…`. */
  digests: string[];
  /** `host/path` of each repository holding it, e.g. `ghcr.io/acme/app`, `docker.io/library/alpine`. */
  repositories: string[];
  tags: string[];
  /** `os/arch[/variant]` when known. */
  platform?: string;
}

/** Docker's normalisation: `alpine` is `docker.io/library/alpine`; Docker Hub's API hosts are docker.io. */
export function normalizeRepository(reference: string): string {
  let name = reference.replace(/^[a-z]+:\/\//i, '').replace(/\/+$/, '');
  const first = name.split('/')[0]!;
  const hasHost = name.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  if (!hasHost) name = `docker.io/${name.includes('/') ? name : `library/${name}`}`;
  const [host, ...path] = name.split('/');
  const normalizedHost = ['index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com'].includes(host!.toLowerCase()) ? 'docker.io' : host!.toLowerCase();
  const fullPath = normalizedHost === 'docker.io' && path.length === 1 ? ['library', ...path] : path;
  return [normalizedHost, ...fullPath].join('/');
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;
const lastSegment = (repository: string) => repository.slice(repository.lastIndexOf('/') + 1);

function ociPurlMatchesImage(purl: PackageUrl, image: ImageIdentity): boolean {
  if (purl.namespace) return false;
  if (purl.version && !image.digests.includes(purl.version.toLowerCase())) return false;
  // The purl's name is the repository's last segment; a local scan may not know its repository.
  if (image.repositories.length && !image.repositories.some((r) => lastSegment(r) === purl.name.toLowerCase())) return false;
  if (!image.repositories.length && !purl.version) return false;
  for (const [key, value] of purl.qualifiers) {
    if (key === 'repository_url') {
      if (!image.repositories.includes(normalizeRepository(value))) return false;
    } else if (key === 'tag') {
      if (!image.tags.includes(value)) return false;
    } else if (key === 'arch' || key === 'os') {
      const [os, arch] = (image.platform ?? '').split('/');
      if ((key === 'os' ? os : arch) !== value) return false;
    } else {
      // A qualifier the image cannot be checked against: the product is more specific than what we know.
      return false;
    }
  }
  return true;
}

/** A product identifier that names the image: a `pkg:oci` purl, a digest, a sha-256 hash, or an image reference. */
function identifierMatchesImage(identifier: string, image: ImageIdentity): boolean {
  if (identifier.startsWith('pkg:')) {
    const purl = parsePurl(identifier);
    return purl?.type === 'oci' ? ociPurlMatchesImage(purl, image) : false;
  }
  const id = identifier.trim();
  if (DIGEST.test(id)) return image.digests.includes(id);
  if (/^[0-9a-f]{64}$/.test(id)) return image.digests.includes(`sha256:${id}`);
  // An image reference: [host/]path[:tag][@sha256:…]
  const at = id.indexOf('@');
  const digest = at >= 0 ? id.slice(at + 1) : undefined;
  let path = at >= 0 ? id.slice(0, at) : id;
  if (digest !== undefined && !DIGEST.test(digest)) return false;
  let tag: string | undefined;
  const colon = path.lastIndexOf(':');
  if (colon > path.lastIndexOf('/')) {
    tag = path.slice(colon + 1);
    path = path.slice(0, colon);
  }
  // IRIs (https://…, urn:…) name documents or vulnerabilities, not images.
  if (!path || /\s/.test(path) || id.includes('://') || /^(urn|https?|file|mailto):/i.test(id)) return false;
  if (digest && !image.digests.includes(digest)) return false;
  if (!image.repositories.includes(normalizeRepository(path))) {
    // Without a known repository (a local scan), a digest-pinned reference is decided by the digest.
    if (!(digest && image.repositories.length === 0)) return false;
  }
  if (tag && !digest && !image.tags.includes(tag)) return false;
  return true;
}

function componentMatchesPackage(component: VexComponent, packagePurl: PackageUrl | undefined, rawPurl: string): boolean {
  return component.identifiers.some((id) => {
    if (id === rawPurl) return true;
    const general = parsePurl(id);
    return !!general && !!packagePurl && general.type !== 'oci' && purlMatches(general, packagePurl);
  });
}

/** Whether a statement speaks for this finding of this image (vulnerability and product; status aside). */
function statementApplies(statement: VexStatement, finding: Pick<Finding, 'id' | 'aliases'> & { package: { purl: string } }, image: ImageIdentity): boolean {
  const ids = new Set([finding.id, ...finding.aliases]);
  if (!statement.vulnerability.some((v) => ids.has(v))) return false;
  // A statement without a product is incomplete (spec, "Data Inheritance") and applies to nothing;
  // only lenient (scan --vex) documents get this far with one.
  const packagePurl = parsePurl(finding.package.purl);
  return statement.products.some((product) => {
    if (product.identifiers.some((id) => identifierMatchesImage(id, image))) {
      return product.subcomponents.length === 0 || product.subcomponents.some((c) => componentMatchesPackage(c, packagePurl, finding.package.purl));
    }
    // The product is the vulnerable package itself.
    return componentMatchesPackage(product, packagePurl, finding.package.purl);
  });
}

/** A statement with the document it came from; `order` breaks ties in time (later upload, later position wins). */
export interface AttributedStatement {
  statement: VexStatement;
  documentId: string;
  author: string;
  order: number;
}

/** The statement a finding carries (contract of #21: `vex` on each finding of the findings API). */
export interface VexAssessment {
  status: VexStatus;
  justification?: string;
  impactStatement?: string;
  actionStatement?: string;
  author: string;
  statedAt: string;
  documentId: string;
}

/** not_affected and fixed take a finding out of counts, score and alerts. */
export const isSuppressing = (status: VexStatus | undefined): boolean => status === 'not_affected' || status === 'fixed';

const timeOf = (s: AttributedStatement) => {
  const t = s.statement.timestamp ? Date.parse(s.statement.timestamp) : Number.NaN;
  return Number.isNaN(t) ? Number.NEGATIVE_INFINITY : t;
};

/** The latest applicable statement for a finding (spec: later statements supersede earlier ones), or undefined. */
export function effectiveStatement(statements: readonly AttributedStatement[], finding: Pick<Finding, 'id' | 'aliases'> & { package: { purl: string } }, image: ImageIdentity): AttributedStatement | undefined {
  let best: AttributedStatement | undefined;
  for (const candidate of statements) {
    if (!statementApplies(candidate.statement, finding, image)) continue;
    if (!best || timeOf(candidate) > timeOf(best) || (timeOf(candidate) === timeOf(best) && candidate.order > best.order)) best = candidate;
  }
  return best;
}

export function assessmentOf(s: AttributedStatement): VexAssessment {
  const { statement } = s;
  return {
    status: statement.status,
    ...(statement.justification ? { justification: statement.justification } : {}),
    ...(statement.impactStatement ? { impactStatement: statement.impactStatement } : {}),
    ...(statement.actionStatement ? { actionStatement: statement.actionStatement } : {}),
    author: s.author,
    statedAt: Number.isFinite(timeOf(s)) ? new Date(timeOf(s)).toISOString() : '',
    documentId: s.documentId,
  };
}
