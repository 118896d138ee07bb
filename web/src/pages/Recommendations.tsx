import { useId, useState, type FormEvent } from 'react';
import { api, compareSeverity, SEVERITIES, type Page } from '../api.js';
import { useSession } from '../App.js';
import { Card, Loadable, SeverityBadge, When } from '../components.js';
import { useLoad } from '../hooks.js';

interface Resource { kind: string; id: string; name: string; cluster?: string; namespace?: string }
interface Exemption { id: string; policy: string; scope: string; resource?: string; reason: string; expiresAt: string; createdBy: string; createdAt: string }
interface Recommendation {
  policy: string; scope: string; title: string; severity: string; remediation: string; control?: string;
  healthy: Resource[]; unhealthy: Resource[]; notApplicable: Resource[]; exempt?: Resource[]; evaluatedAt?: string;
  exemptions?: Exemption[];
}

const describe = (r: Resource) => `${r.kind} ${[r.cluster, r.namespace, r.name].filter(Boolean).join(' / ')}`;

function Resources({ title, items }: { title: string; items: Resource[] }) {
  return (
    <details>
      <summary>{title} ({items.length})</summary>
      {items.length ? <ul>{items.slice(0, 200).map((r) => <li key={r.id}>{describe(r)}</li>)}</ul> : <p className="muted">None.</p>}
    </details>
  );
}

/** The day after `days` days, as a date input wants it (local time). */
function dateIn(days: number): string {
  const d = new Date(Date.now() + days * 86_400_000);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

/** An admin exempts one unhealthy resource, or the whole scope, with a reason and an expiry. */
function ExemptForm({ rec, onDone }: { rec: Recommendation; onDone: (message: string) => void }) {
  const id = useId();
  const [resource, setResource] = useState(rec.unhealthy[0]?.id ?? '');
  const [reason, setReason] = useState('');
  const [expires, setExpires] = useState(dateIn(30));
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(null);
    // The end of the chosen day, local time.
    const expiresAt = new Date(`${expires}T23:59:59`);
    if (Number.isNaN(expiresAt.getTime())) return setError('Choose the day the exemption ends.');
    setBusy(true);
    try {
      await api('/recommendations/exemptions', {
        method: 'POST',
        body: { policy: rec.policy, scope: rec.scope, ...(resource ? { resource } : {}), reason, expiresAt: expiresAt.toISOString() },
      });
      setReason('');
      onDone(`Exempted ${resource ? rec.unhealthy.find((r) => r.id === resource)?.name ?? resource : `all of ${rec.scope}`} from “${rec.title}” until ${expiresAt.toLocaleDateString()}.`);
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="exempt" onSubmit={submit} aria-label={`Exempt from ${rec.title} (${rec.scope})`}>
      <label htmlFor={`${id}-resource`}>Resource to exempt</label>
      <select id={`${id}-resource`} value={resource} onChange={(e) => setResource(e.target.value)}>
        {rec.unhealthy.map((r) => <option key={r.id} value={r.id}>{describe(r)}</option>)}
        <option value="">Every resource in {rec.scope}</option>
      </select>
      <label htmlFor={`${id}-reason`}>Reason for the exemption</label>
      <input id={`${id}-reason`} required maxLength={1000} value={reason} onChange={(e) => setReason(e.target.value)} />
      <label htmlFor={`${id}-expires`}>Exempt until</label>
      <input id={`${id}-expires`} type="date" required min={dateIn(0)} value={expires} onChange={(e) => setExpires(e.target.value)} />
      <button type="submit" disabled={busy}>Exempt</button>
      {error ? <p role="alert" className="error">{error}</p> : null}
    </form>
  );
}

function Exemptions({ rec, admin, onRemoved }: { rec: Recommendation; admin: boolean; onRemoved: (message: string) => void }) {
  const [error, setError] = useState<string | null>(null);
  if (!rec.exemptions?.length) return null;
  const remove = async (e: Exemption) => {
    setError(null);
    try {
      await api(`/recommendations/exemptions/${encodeURIComponent(e.id)}`, { method: 'DELETE' });
      onRemoved(`Exemption removed: ${e.resource ?? `all of ${e.scope}`} counts again.`);
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <>
      <h3>Exemptions in force</h3>
      <ul aria-label={`Exemptions from ${rec.title}`}>
        {rec.exemptions.map((e) => (
          <li key={e.id}>
            {e.resource ? rec.exempt?.find((r) => r.id === e.resource)?.name ?? e.resource : `Every resource in ${e.scope}`}: {e.reason}. Until <When at={e.expiresAt} />, by {e.createdBy} on <When at={e.createdAt} />.
            {admin ? <> <button type="button" onClick={() => remove(e)} aria-label={`Remove exemption of ${e.resource ?? e.scope}`}>Remove</button></> : null}
          </li>
        ))}
      </ul>
      {error ? <p role="alert" className="error">{error}</p> : null}
    </>
  );
}

export function RecommendationsPage() {
  const session = useSession();
  const admin = session?.role === 'admin';
  const list = useLoad(() => api<Page<Recommendation> | { items: Recommendation[] }>('/recommendations'), 'recs');
  const [severity, setSeverity] = useState('');
  const [onlyUnhealthy, setOnlyUnhealthy] = useState(true);
  const [message, setMessage] = useState<string | null>(null);
  const done = (text: string) => {
    setMessage(text);
    list.reload();
  };
  return (
    <>
      <h1>Recommendations</h1>
      <div className="filters" role="group" aria-label="Filter recommendations">
        <label>Severity
          <select value={severity} onChange={(e) => setSeverity(e.target.value)}>
            <option value="">Any</option>
            {SEVERITIES.map((s) => <option key={s} value={s}>{s}</option>)}
          </select>
        </label>
        <label><input type="checkbox" checked={onlyUnhealthy} onChange={(e) => setOnlyUnhealthy(e.target.checked)} /> Only with unhealthy or exempt resources</label>
      </div>
      {message ? <p role="status">{message}</p> : null}
      <Loadable state={list} what="Recommendations" empty={(p) => p.items.length === 0}>
        {(p) => {
          const items = p.items
            .filter((r) => (!severity || r.severity === severity) && (!onlyUnhealthy || r.unhealthy.length > 0 || (r.exempt?.length ?? 0) > 0))
            .sort((a, b) => compareSeverity(b.severity, a.severity) || b.unhealthy.length - a.unhealthy.length);
          if (!items.length) return <p className="muted">No recommendation matches these filters.</p>;
          return items.map((r) => (
            <Card key={`${r.policy}-${r.scope}`} id={`rec-${r.policy}-${r.scope}`} title={r.title}>
              <p><SeverityBadge severity={r.severity} /> <span className="muted">{r.policy} · {r.scope}{r.control ? ` · control ${r.control}` : ''}{r.evaluatedAt ? ' · evaluated ' : ''}</span>{r.evaluatedAt ? <When at={r.evaluatedAt} /> : null}</p>
              <p className="pre">{r.remediation}</p>
              <Resources title="Unhealthy" items={r.unhealthy} />
              <Resources title="Healthy" items={r.healthy} />
              <Resources title="Not applicable" items={r.notApplicable} />
              <Resources title="Exempt" items={r.exempt ?? []} />
              <Exemptions rec={r} admin={admin} onRemoved={done} />
              {admin && r.unhealthy.length ? <ExemptForm rec={r} onDone={done} /> : null}
            </Card>
          ));
        }}
      </Loadable>
    </>
  );
}
