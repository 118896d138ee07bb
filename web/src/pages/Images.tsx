import { useMemo, useState, type FormEvent } from 'react';
import { api, query, SEVERITIES, type Page } from '../api.js';
import { Card, Empty, Loadable, SeverityBadge, When } from '../components.js';
import { useLoad } from '../hooks.js';
import { navigate, usePath } from '../router.js';

interface Image {
  id: string; digest: string; registry: string | null; repository: string | null; tags: string[];
  lastPushed: string | null; lastPulled: string | null; lastScanned: string | null;
  counts: Record<string, number>;
}
interface Finding {
  id: string; aliases: string[]; title?: string; package: { name: string; version: string; ecosystem: string }; installedVersion: string;
  fixedVersion?: string; severity: string; status: string; remediation?: string; command?: string;
}
interface ImagesByVuln { image: string; digest: string; repository: string | null; package: string; installedVersion: string; fixedVersion: string | null; severity: string }

/** The page of the advisory database the finding came from (OSV ids resolve on osv.dev). */
const advisoryUrl = (id: string): string => `https://osv.dev/vulnerability/${encodeURIComponent(id)}`;

const RANK: Record<string, number> = Object.fromEntries(SEVERITIES.map((s, i) => [s, i]));
const worstFirst = (a: Finding, b: Finding): number =>
  (RANK[a.severity] ?? SEVERITIES.length) - (RANK[b.severity] ?? SEVERITIES.length) || Number(Boolean(b.fixedVersion)) - Number(Boolean(a.fixedVersion)) || a.id.localeCompare(b.id);

/**
 * Findings of one image, worst first, with what to do about each. The API pages them; every page
 * is read (a large image has thousands), so nothing is cut silently and the count says how many.
 */
function Findings({ digest }: { digest: string }) {
  const findings = useLoad(async () => {
    const items: Finding[] = [];
    let cursor: string | undefined;
    do {
      const page: Page<Finding> = await api<Page<Finding>>(`/images/${encodeURIComponent(digest)}/findings${query({ limit: 500, cursor })}`);
      items.push(...page.items);
      cursor = page.next;
    } while (cursor);
    return { items: items.sort(worstFirst) };
  }, digest);
  const [severity, setSeverity] = useState('');
  const [fix, setFix] = useState('');
  const [pkg, setPkg] = useState('');
  const [shown, setShown] = useState(100);
  return (
    <Card title={`Findings in ${digest.slice(0, 19)}…`} id="findings">
      <div className="filters" role="group" aria-label="Filter findings">
        <label>Severity <select value={severity} onChange={(e) => setSeverity(e.target.value)}><option value="">Any</option>{SEVERITIES.map((s) => <option key={s}>{s}</option>)}</select></label>
        <label>Fix <select value={fix} onChange={(e) => setFix(e.target.value)}><option value="">Any</option><option value="fixed">Fix available</option><option value="unfixed">No fix yet</option></select></label>
        <label>Package <input value={pkg} onChange={(e) => setPkg(e.target.value)} /></label>
      </div>
      <Loadable state={findings} what="Findings" empty={(p) => p.items.length === 0}>
        {(p) => {
          const rows = p.items.filter((f) => (!severity || f.severity === severity) && (!fix || (fix === 'fixed' ? Boolean(f.fixedVersion) : !f.fixedVersion)) && (!pkg || f.package.name.includes(pkg)));
          return (
            <>
              <p className="muted" role="status">{rows.length === p.items.length ? `${p.items.length} findings, worst first` : `${rows.length} of ${p.items.length} findings match, worst first`}</p>
              <table>
                <thead><tr><th scope="col">Vulnerability</th><th scope="col">Severity</th><th scope="col">Package</th><th scope="col">Installed</th><th scope="col">Fixed in</th><th scope="col">What to do</th></tr></thead>
                <tbody>{rows.slice(0, shown).map((f) => {
                  const cve = f.aliases.find((a) => a.startsWith('CVE-'));
                  return (
                    <tr key={`${f.id}-${f.package.name}-${f.installedVersion}`}>
                      <td>
                        <a href={advisoryUrl(f.id)} target="_blank" rel="noreferrer noopener" aria-label={`${f.id} advisory`}>{f.id}</a>
                        {cve && cve !== f.id ? <div>{cve}</div> : null}
                        {f.title ? <div className="muted">{f.title}</div> : null}
                        <div><a href={`/images?vulnerability=${encodeURIComponent(f.id)}`} onClick={(e) => { e.preventDefault(); navigate(`/images?vulnerability=${encodeURIComponent(f.id)}`); }}>other images with {f.id}</a></div>
                      </td>
                      <td><SeverityBadge severity={f.severity} /></td>
                      <td>{f.package.name} <span className="muted">({f.package.ecosystem})</span></td>
                      <td>{f.installedVersion}</td>
                      <td>{f.fixedVersion ?? <span className="muted">no fix yet</span>}</td>
                      <td className="wrap">{f.remediation ? <div>{f.command ? f.remediation.replace(`: ${f.command}`, '') : f.remediation}</div> : null}{f.command ? <code>{f.command}</code> : null}</td>
                    </tr>
                  );
                })}</tbody>
              </table>
              {rows.length > shown ? <button type="button" onClick={() => setShown((n) => n + 100)}>Show 100 more ({rows.length - shown} left)</button> : null}
            </>
          );
        }}
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
