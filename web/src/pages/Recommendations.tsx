import { useState } from 'react';
import { api, SEVERITIES, type Page } from '../api.js';
import { Card, Loadable, SeverityBadge, When } from '../components.js';
import { useLoad } from '../hooks.js';

interface Resource { kind: string; id: string; name: string; cluster?: string; namespace?: string }
interface Recommendation {
  policy: string; scope: string; title: string; severity: string; remediation: string; control?: string;
  healthy: Resource[]; unhealthy: Resource[]; notApplicable: Resource[]; evaluatedAt?: string;
  exemptions?: { resource?: string; reason: string; expires?: string }[];
}

function Resources({ title, items }: { title: string; items: Resource[] }) {
  return (
    <details>
      <summary>{title} ({items.length})</summary>
      {items.length ? <ul>{items.slice(0, 200).map((r) => <li key={r.id}>{r.kind} {[r.cluster, r.namespace, r.name].filter(Boolean).join(' / ')}</li>)}</ul> : <p className="muted">None.</p>}
    </details>
  );
}

export function RecommendationsPage() {
  const list = useLoad(() => api<Page<Recommendation> | { items: Recommendation[] }>('/recommendations'), 'recs');
  const [severity, setSeverity] = useState('');
  const [onlyUnhealthy, setOnlyUnhealthy] = useState(true);
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
        <label><input type="checkbox" checked={onlyUnhealthy} onChange={(e) => setOnlyUnhealthy(e.target.checked)} /> Only with unhealthy resources</label>
      </div>
      <Loadable state={list} what="Recommendations" empty={(p) => p.items.length === 0}>
        {(p) => {
          const items = p.items
            .filter((r) => (!severity || r.severity === severity) && (!onlyUnhealthy || r.unhealthy.length > 0))
            .sort((a, b) => SEVERITIES.indexOf(a.severity as never) - SEVERITIES.indexOf(b.severity as never) || b.unhealthy.length - a.unhealthy.length);
          if (!items.length) return <p className="muted">No recommendation matches these filters.</p>;
          return items.map((r) => (
            <Card key={`${r.policy}-${r.scope}`} id={`rec-${r.policy}-${r.scope}`} title={r.title}>
              <p><SeverityBadge severity={r.severity} /> <span className="muted">{r.policy} · {r.scope}{r.control ? ` · control ${r.control}` : ''}{r.evaluatedAt ? ' · evaluated ' : ''}</span>{r.evaluatedAt ? <When at={r.evaluatedAt} /> : null}</p>
              <p className="pre">{r.remediation}</p>
              <Resources title="Unhealthy" items={r.unhealthy} />
              <Resources title="Healthy" items={r.healthy} />
              <Resources title="Not applicable" items={r.notApplicable} />
              {r.exemptions?.length ? <ul aria-label="Exemptions">{r.exemptions.map((e, i) => <li key={i}>Exempt{e.resource ? ` ${e.resource}` : ''}: {e.reason}{e.expires ? <> until <When at={e.expires} /></> : null}</li>)}</ul> : null}
            </Card>
          ));
        }}
      </Loadable>
    </>
  );
}
