import type { ReactNode } from 'react';
import { ApiError } from './api.js';

export function SeverityBadge({ severity }: { severity: string }) {
  return <span className={`sev sev-${severity}`}>{severity}</span>;
}

export function StatusBadge({ status }: { status: string }) {
  return <span className={`status status-${status}`}>{status}</span>;
}

export function When({ at }: { at: string | null | undefined }) {
  if (!at) return <span className="muted">never</span>;
  const date = new Date(at);
  return <time dateTime={date.toISOString()} title={date.toISOString()}>{date.toLocaleString()}</time>;
}

/** Loading, errors and "not available yet" look the same on every page. */
export function Loadable<T>({ state, empty, children, what }: { state: { data?: T; error?: Error; loading: boolean }; what: string; empty?: (data: T) => boolean; children: (data: T) => ReactNode }) {
  if (state.error instanceof ApiError && state.error.unavailable) {
    return <Empty title={`${what}: not available on this server yet`}>This server does not offer {what.toLowerCase()} yet; the page fills in once that capability is installed.</Empty>;
  }
  if (state.error) return <p role="alert" className="error">Could not load {what.toLowerCase()}: {state.error.message}</p>;
  if (state.loading && state.data === undefined) return <p aria-busy="true" className="muted">Loading {what.toLowerCase()}…</p>;
  if (state.data === undefined) return null;
  if (empty?.(state.data)) return <Empty title={`No ${what.toLowerCase()} yet`} />;
  return <>{children(state.data)}</>;
}

export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="empty" role="note">
      <strong>{title}</strong>
      {children ? <p>{children}</p> : null}
    </div>
  );
}

export function Card({ title, children, id }: { title: string; children: ReactNode; id?: string }) {
  const headingId = `${id ?? title.replace(/\W+/g, '-').toLowerCase()}-heading`;
  return (
    <section className="card" aria-labelledby={headingId}>
      <h2 id={headingId}>{title}</h2>
      {children}
    </section>
  );
}

