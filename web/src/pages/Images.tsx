import { useEffect, useMemo, useState, type FormEvent } from 'react';
import { api, query, SEVERITIES, type Page } from '../api.js';
import { Card, Empty, Loadable, SeverityBadge, When } from '../components.js';
import { useLoad } from '../hooks.js';
import { Link, navigate, usePath } from '../router.js';

interface Image {
  id: string; digest: string; registry: string | null; repository: string | null; tags: string[];
  lastPushed: string | null; lastPulled: string | null; lastScanned: string | null;
  counts: Record<string, number>;
}
interface Vex {
  status: 'not_affected' | 'affected' | 'fixed' | 'under_investigation';
  justification?: string; impactStatement?: string; actionStatement?: string; author: string; statedAt: string; documentId: string;
}
interface Finding {
  id: string; aliases: string[]; title?: string; package: { name: string; version: string; ecosystem: string; purl?: string }; installedVersion: string;
  fixedVersion?: string; severity: string; status: string; remediation?: string; command?: string; vex?: Vex;
}
interface FindingsPage extends Page<Finding> { total: number; suppressed?: number }
interface ImagesByVuln { image: string; digest: string; repository: string | null; package: string; installedVersion: string; fixedVersion: string | null; severity: string }

/** The page of the advisory database the finding came from (OSV ids resolve on osv.dev). */
const advisoryUrl = (id: string): string => `https://osv.dev/vulnerability/${encodeURIComponent(id)}`;

/** A VEX statement that says the image is not exposed: the finding is listed, last, but not counted. */
const suppresses = (vex: Vex | undefined): boolean => vex?.status === 'not_affected' || vex?.status === 'fixed';
const words = (s: string): string => s.replace(/_/g, ' ');

/** Who said what about this vulnerability in this image, and why. */
function VexStatement({ vex }: { vex: Vex }) {
  return (
    <div className="vex" aria-label={`VEX statement: ${words(vex.status)}`}>
      <strong>VEX: {words(vex.status)}</strong>{suppresses(vex) ? <span className="muted"> (suppressed)</span> : null}
      {vex.justification ? <div>Justification: {words(vex.justification)}</div> : null}
      {vex.impactStatement ? <div className="wrap">Impact: {vex.impactStatement}</div> : null}
      {vex.actionStatement ? <div className="wrap">Action: {vex.actionStatement}</div> : null}
      <div className="muted">by {vex.author}, <When at={vex.statedAt} />, document {vex.documentId}</div>
    </div>
  );
}

const FINDINGS_PER_PAGE = 100;

interface FindingFilters { severity: string; fixable: boolean; package: string; q: string; suppressed: string }
const NO_FILTERS: FindingFilters = { severity: '', fixable: false, package: '', q: '', suppressed: '' };

/**
 * Findings of one image as the server pages them: worst first (what a VEX statement suppresses
 * last), filtered by the server, a page at a time, with the count of all that match, so nothing
 * is cut silently however many an image has.
 */
function Findings({ digest }: { digest: string }) {
  const [draft, setDraft] = useState<FindingFilters>(NO_FILTERS);
  const [filters, setFilters] = useState<FindingFilters>(NO_FILTERS);
  const [cursors, setCursors] = useState<string[]>([]);
  useEffect(() => {
    setDraft(NO_FILTERS);
    setFilters(NO_FILTERS);
    setCursors([]);
  }, [digest]);
  const cursor = cursors.at(-1);
  const params = { severity: filters.severity, fixable: filters.fixable ? 'true' : undefined, package: filters.package, q: filters.q, suppressed: filters.suppressed };
  const filtered = JSON.stringify(filters) !== JSON.stringify(NO_FILTERS);
  // The page remembers the filters it was loaded with: while the next page loads, the one shown
  // (kept, so the table does not flash) is described as what it is, not as the new filters.
  const findings = useLoad(
    () => api<FindingsPage>(`/images/${encodeURIComponent(digest)}/findings${query({ ...params, limit: FINDINGS_PER_PAGE, cursor })}`).then((p) => ({ ...p, filtered })),
    JSON.stringify([digest, filters, cursor]),
  );
  const apply = (event: FormEvent) => {
    event.preventDefault();
    setFilters({ ...draft, package: draft.package.trim(), q: draft.q.trim() });
    setCursors([]);
  };
  const clear = () => {
    setDraft(NO_FILTERS);
    setFilters(NO_FILTERS);
    setCursors([]);
  };
  const set = (k: keyof FindingFilters) => (e: { target: { value: string; checked?: boolean; type?: string } }) =>
    setDraft((d) => ({ ...d, [k]: e.target.type === 'checkbox' ? Boolean(e.target.checked) : e.target.value }));
  const first = cursors.length * FINDINGS_PER_PAGE;
  return (
    <Card title={`Findings in ${digest.slice(0, 19)}…`} id="findings">
      <form className="filters" aria-label="Filter findings" onSubmit={apply}>
        <label>Severity at or above <select value={draft.severity} onChange={set('severity')}><option value="">Any</option>{SEVERITIES.map((s) => <option key={s} value={s}>{s}</option>)}</select></label>
        <label className="switch"><input type="checkbox" checked={draft.fixable} onChange={set('fixable')} /> Fix available only</label>
        <label>Package <input value={draft.package} onChange={set('package')} placeholder="openssl" /></label>
        <label>CVE or advisory id <input value={draft.q} onChange={set('q')} placeholder="CVE-2024-…" /></label>
        <label>Suppressed by VEX
          <select value={draft.suppressed} onChange={set('suppressed')}>
            <option value="">Listed last</option><option value="exclude">Hidden</option><option value="only">Only these</option>
          </select>
        </label>
        <button type="submit">Apply</button>
        {filtered ? <button type="button" onClick={clear}>Clear filters</button> : null}
      </form>
      <Loadable state={findings} what="Findings" empty={(p) => p.items.length === 0 && !p.filtered}>
        {(p) => (
          <>
            <p className="muted" role="status">
              {p.items.length === 0 ? 'No findings match these filters'
                : `${p.total} ${p.filtered ? 'matching ' : ''}finding${p.total === 1 ? '' : 's'}, worst first${p.total > p.items.length ? `; showing ${first + 1}–${first + p.items.length}` : ''}`
                  + (p.suppressed && p.suppressed < p.total ? `. ${p.suppressed} suppressed by VEX statements, listed last and not counted` : '')}
            </p>
            {p.items.length ? (
              <table>
                <thead><tr><th scope="col">Vulnerability</th><th scope="col">Severity</th><th scope="col">Package</th><th scope="col">Installed</th><th scope="col">Fixed in</th><th scope="col">What to do</th></tr></thead>
                <tbody>{p.items.map((f) => {
                  const cve = f.aliases.find((a) => a.startsWith('CVE-'));
                  return (
                    <tr key={`${f.id}-${f.package.purl ?? f.package.name}-${f.installedVersion}`} className={suppresses(f.vex) ? 'suppressed' : undefined}>
                      <td>
                        <a href={advisoryUrl(f.id)} target="_blank" rel="noreferrer noopener" aria-label={`${f.id} advisory`}>{f.id}</a>
                        {cve && cve !== f.id ? <div>{cve}</div> : null}
                        {f.title ? <div className="muted">{f.title}</div> : null}
                        <div><Link to={`/images?vulnerability=${encodeURIComponent(f.id)}`}>other images with {f.id}</Link></div>
                      </td>
                      <td><SeverityBadge severity={f.severity} /></td>
                      <td>{f.package.name} <span className="muted">({f.package.ecosystem})</span></td>
                      <td>{f.installedVersion}</td>
                      <td>{f.fixedVersion ?? <span className="muted">no fix yet</span>}</td>
                      <td className="wrap">
                        {f.remediation ? <div>{f.command ? f.remediation.replace(`: ${f.command}`, '') : f.remediation}</div> : null}
                        {f.command ? <code>{f.command}</code> : null}
                        {f.vex ? <VexStatement vex={f.vex} /> : null}
                      </td>
                    </tr>
                  );
                })}</tbody>
              </table>
            ) : null}
            <div className="pager">
              {cursors.length ? <button type="button" onClick={() => setCursors((c) => c.slice(0, -1))}>Previous findings</button> : null}
              {p.next ? <button type="button" onClick={() => setCursors((c) => [...c, p.next!])}>Next findings</button> : null}
            </div>
          </>
        )}
      </Loadable>
    </Card>
  );
}

function ByVulnerability({ id }: { id: string }) {
  const images = useLoad(() => api<Page<ImagesByVuln>>(`/vulnerabilities/${encodeURIComponent(id)}/images`), id);
  return (
    <Card title={`Images affected by ${id}`} id="by-vuln">
      <Loadable state={images} what="Affected images" empty={(p) => p.items.length === 0}>
        {(p) => (
          <table>
            <thead><tr><th scope="col">Image</th><th scope="col">Package</th><th scope="col">Installed</th><th scope="col">Fixed in</th><th scope="col">Severity</th></tr></thead>
            <tbody>{p.items.map((r) => <tr key={`${r.digest}-${r.package}`}><td>{r.repository ?? r.digest.slice(0, 19)}</td><td>{r.package}</td><td>{r.installedVersion}</td><td>{r.fixedVersion ?? '—'}</td><td><SeverityBadge severity={r.severity} /></td></tr>)}</tbody>
          </table>
        )}
      </Loadable>
    </Card>
  );
}

interface ImagesByPackage { image: string; digest: string; repository: string | null; installedVersion: string; ecosystem: string; vulnerabilities: number; critical: number; high: number; fixedVersions: string[] }

function ByPackage({ name }: { name: string }) {
  const images = useLoad(() => api<Page<ImagesByPackage>>(`/packages/${encodeURIComponent(name)}/images`), `pkg-${name}`);
  return (
    <Card title={`Images with a vulnerable ${name}`} id="by-package">
      <Loadable state={images} what="Images with this package" empty={(p) => p.items.length === 0}>
        {(p) => (
          <table>
            <thead><tr><th scope="col">Image</th><th scope="col">Installed</th><th scope="col">Vulnerabilities</th><th scope="col">Critical</th><th scope="col">High</th><th scope="col">Fixed in</th></tr></thead>
            <tbody>{p.items.map((r) => <tr key={`${r.digest}-${r.installedVersion}`}><td>{r.repository ?? r.digest.slice(0, 19)}</td><td>{r.installedVersion} <span className="muted">({r.ecosystem})</span></td><td>{r.vulnerabilities}</td><td>{r.critical}</td><td>{r.high}</td><td>{r.fixedVersions.join(', ') || <span className="muted">no fix</span>}</td></tr>)}</tbody>
          </table>
        )}
      </Loadable>
    </Card>
  );
}

export function ImagesPage() {
  const path = usePath();
  const params = useMemo(() => new URLSearchParams(path.split('?')[1] ?? ''), [path]);
  const registry = params.get('registry') ?? '';
  const digest = params.get('digest');
  const vulnerability = params.get('vulnerability');
  const pkg = params.get('package');
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors.at(-1);
  const images = useLoad(() => api<Page<Image>>(`/images${query({ registry, cursor, limit: 50 })}`), `${registry}-${cursor}`);
  const [vulnInput, setVulnInput] = useState(vulnerability ?? '');
  const [registryInput, setRegistryInput] = useState(registry);
  const [packageInput, setPackageInput] = useState(pkg ?? '');

  const search = (e: FormEvent) => {
    e.preventDefault();
    navigate(`/images${query({ vulnerability: vulnInput.trim(), package: packageInput.trim(), registry: registryInput.trim() })}`);
  };
  return (
    <>
      <h1>Container images</h1>
      <form className="filters" onSubmit={search} aria-label="Find images">
        <label>Registry <input value={registryInput} onChange={(e) => setRegistryInput(e.target.value)} /></label>
        <label>Vulnerability (CVE or advisory id) <input value={vulnInput} onChange={(e) => setVulnInput(e.target.value)} placeholder="CVE-2024-…" /></label>
        <label>Package <input value={packageInput} onChange={(e) => setPackageInput(e.target.value)} placeholder="openssl" /></label>
        <button type="submit">Search</button>
      </form>
      {vulnerability ? <ByVulnerability id={vulnerability} /> : null}
      {pkg ? <ByPackage name={pkg} /> : null}
      {digest ? <Findings digest={digest} /> : null}
      <Card title="Images" id="images">
        <Loadable state={images} what="Images" empty={(p) => p.items.length === 0}>
          {(p) => (
            <>
              <table>
                <thead><tr><th scope="col">Registry / repository</th><th scope="col">Tags</th><th scope="col">Critical</th><th scope="col">High</th><th scope="col">Medium</th><th scope="col">Low</th><th scope="col">Pushed</th><th scope="col">Pulled</th><th scope="col">Scanned</th></tr></thead>
                <tbody>{p.items.map((i) => (
                  <tr key={i.id ?? i.digest}>
                    <td><a href={`/images?digest=${encodeURIComponent(i.digest)}`} onClick={(e) => { e.preventDefault(); navigate(`/images${query({ digest: i.digest, registry })}`); }}>{[i.registry, i.repository].filter(Boolean).join(' / ') || i.digest.slice(0, 19)}</a></td>
                    <td>{i.tags.join(', ') || <span className="muted">untagged</span>}</td>
                    <td>{i.counts.critical}</td><td>{i.counts.high}</td><td>{i.counts.medium}</td><td>{i.counts.low}</td>
                    <td><When at={i.lastPushed} /></td><td><When at={i.lastPulled} /></td><td><When at={i.lastScanned} /></td>
                  </tr>
                ))}</tbody>
              </table>
              <div className="pager">
                {cursors.length ? <button type="button" onClick={() => setCursors((c) => c.slice(0, -1))}>Previous page</button> : null}
                {p.next ? <button type="button" onClick={() => setCursors((c) => [...c, p.next!])}>Next page</button> : null}
              </div>
            </>
          )}
        </Loadable>
      </Card>
      {!digest && !vulnerability && !pkg ? <Empty title="Pick an image to see its findings">Or search by vulnerability or package to see which images have it.</Empty> : null}
    </>
  );
}
