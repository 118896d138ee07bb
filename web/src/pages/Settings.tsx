import { useState, type FormEvent } from 'react';
import { api, SEVERITIES, type Page } from '../api.js';
import { Card, Empty, Loadable, When } from '../components.js';
import { useLoad } from '../hooks.js';
import { useSession } from '../App.js';

interface Plan { kind: string; scope: string; enabled: boolean; since: string }
interface Token { id: string; name: string; scope: string; prefix: string; createdAt: string; lastUsedAt: string | null; revokedAt: string | null }
interface User { id: string; name: string; role: string; createdAt: string; lastSignInAt: string | null }
interface Channel {
  id: string; name: string; kind: string; settings: Record<string, unknown>; minSeverity: string; digestMinutes: number; enabled: boolean;
  lastSuccessAt: string | null; lastError: string | null; lastErrorAt: string | null; deliveries: { pending: number; sent: number; failed: number };
}

function Plans({ admin }: { admin: boolean }) {
  const plans = useLoad(() => api<{ items: Plan[] }>('/plans'), 'plans');
  const clusters = useLoad(() => api<Page<{ name: string }>>('/clusters?limit=500'), 'pc');
  const registries = useLoad(() => api<Page<{ name: string }>>('/registries?limit=500'), 'pr');
  const [message, setMessage] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [newScope, setNewScope] = useState('');
  const scopes = new Map<string, boolean>();
  for (const c of clusters.data?.items ?? []) scopes.set(`cluster:${c.name}`, true);
  for (const r of registries.data?.items ?? []) scopes.set(`registry:${r.name}`, true);
  for (const p of plans.data?.items ?? []) scopes.set(p.scope, p.enabled);
  const toggle = async (scope: string, enabled: boolean) => {
    setError(null);
    try {
      await api(`/plans/${encodeURIComponent(scope)}`, { method: 'PUT', body: { enabled } });
      setMessage(`${scope === '' ? '' : scope}: plan turned ${enabled ? 'on' : 'off'}.`);
      plans.reload();
    } catch (e) {
      setError((e as Error).message);
    }
  };
  return (
    <Card title="Plans">
      <p className="muted">Turning a plan off stops scanning or detection for that cluster or registry (ingest is refused with the reason); inventory and usage metering continue.</p>
      <Loadable state={plans} what="Plans">
        {() => scopes.size ? (
          <table>
            <thead><tr><th scope="col">Scope</th><th scope="col">Plan</th><th scope="col">Protection</th></tr></thead>
            <tbody>{[...scopes].sort().map(([scope, enabled]) => (
              <tr key={scope}>
                <td>{scope}</td>
                <td>{scope.startsWith('cluster:') ? 'Kubernetes' : 'Registries'}</td>
                <td>
                  <label className="switch">
                    <input type="checkbox" role="switch" checked={enabled} disabled={!admin} onChange={(e) => toggle(scope, e.target.checked)} aria-label={`Protection for ${scope}`} />
                    {enabled ? 'On' : 'Off'}
                  </label>
                </td>
              </tr>
            ))}</tbody>
          </table>
        ) : <Empty title="No clusters or registries yet">Connect a cluster or registry, or add a scope below.</Empty>}
      </Loadable>
      {admin ? (
        <form className="inline" onSubmit={(e) => { e.preventDefault(); if (newScope) void toggle(newScope.trim(), true); setNewScope(''); }}>
          <label htmlFor="plan-scope">Scope (cluster:NAME or registry:NAME)</label>
          <input id="plan-scope" value={newScope} onChange={(e) => setNewScope(e.target.value)} pattern="(cluster|registry):[a-z0-9][a-z0-9._\-]*" />
          <button type="submit">Add plan</button>
        </form>
      ) : null}
      {message ? <p role="status">{message}</p> : null}
      {error ? <p role="alert" className="error">{error}</p> : null}
    </Card>
  );
}

function Tokens() {
  const tokens = useLoad(() => api<{ items: Token[] }>('/tokens'), 'tokens');
  const [scope, setScope] = useState('');
  const [name, setName] = useState('');
  const [secret, setSecret] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const create = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      const token = await api<Token & { secret: string }>('/tokens', { method: 'POST', body: { scope, ...(name ? { name } : {}) } });
      setSecret(token.secret);
      tokens.reload();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  const revoke = async (id: string) => {
    await api(`/tokens/${encodeURIComponent(id)}`, { method: 'DELETE' }).catch((err: Error) => setError(err.message));
    tokens.reload();
  };
  return (
    <Card title="Tokens">
      <Loadable state={tokens} what="Tokens" empty={(p) => p.items.length === 0}>
        {(p) => (
          <table>
            <thead><tr><th scope="col">Name</th><th scope="col">Scope</th><th scope="col">Prefix</th><th scope="col">Last used</th><th scope="col">State</th></tr></thead>
            <tbody>{p.items.map((t) => (
              <tr key={t.id}><td>{t.name}</td><td>{t.scope}</td><td><code>{t.prefix}…</code></td><td><When at={t.lastUsedAt} /></td>
                <td>{t.revokedAt ? <>revoked <When at={t.revokedAt} /></> : <button type="button" onClick={() => revoke(t.id)} aria-label={`Revoke token ${t.name}`}>Revoke</button>}</td></tr>
            ))}</tbody>
          </table>
        )}
      </Loadable>
      <form className="inline" onSubmit={create} aria-label="Create a token">
        <label>Scope <input required value={scope} onChange={(e) => setScope(e.target.value)} placeholder="cluster:prod" /></label>
        <label>Name <input value={name} onChange={(e) => setName(e.target.value)} /></label>
        <button type="submit">Create token</button>
      </form>
      {secret ? <p role="status">New token (shown once): <code>{secret}</code></p> : null}
      {error ? <p role="alert" className="error">{error}</p> : null}
    </Card>
  );
}

function Users() {
  const users = useLoad(() => api<{ items: User[] }>('/users'), 'users');
  const [form, setForm] = useState({ name: '', role: 'reader', password: '' });
  const [error, setError] = useState<string | null>(null);
  const create = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      await api('/users', { method: 'POST', body: form });
      setForm({ name: '', role: 'reader', password: '' });
      users.reload();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  const remove = async (id: string) => {
    await api(`/users/${encodeURIComponent(id)}`, { method: 'DELETE' }).catch((err: Error) => setError(err.message));
    users.reload();
  };
  return (
    <Card title="Users">
      <Loadable state={users} what="Users" empty={(p) => p.items.length === 0}>
        {(p) => (
          <table>
            <thead><tr><th scope="col">Name</th><th scope="col">Role</th><th scope="col">Last sign-in</th><th scope="col"><span className="sr-only">Actions</span></th></tr></thead>
            <tbody>{p.items.map((u) => <tr key={u.id}><td>{u.name}</td><td>{u.role}</td><td><When at={u.lastSignInAt} /></td><td><button type="button" onClick={() => remove(u.id)} aria-label={`Remove user ${u.name}`}>Remove</button></td></tr>)}</tbody>
          </table>
        )}
      </Loadable>
      <form className="inline" onSubmit={create} aria-label="Add a user">
        <label>User name <input required value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} autoComplete="off" /></label>
        <label>Role <select value={form.role} onChange={(e) => setForm({ ...form, role: e.target.value })}><option value="reader">reader</option><option value="admin">admin</option></select></label>
        <label>Password (12+ characters) <input type="password" required minLength={12} value={form.password} onChange={(e) => setForm({ ...form, password: e.target.value })} autoComplete="new-password" /></label>
        <button type="submit">Add user</button>
      </form>
      {error ? <p role="alert" className="error">{error}</p> : null}
    </Card>
  );
}

const EMPTY_CHANNEL = { name: '', kind: 'webhook', url: '', secret: '', host: '', port: '587', from: '', to: '', user: '', password: '', minSeverity: 'high', digestMinutes: '0' };

function Channels() {
  const channels = useLoad(() => api<{ items: Channel[] }>('/notifications/channels'), 'channels');
  const [form, setForm] = useState(EMPTY_CHANNEL);
  const [error, setError] = useState<string | null>(null);
  const [result, setResult] = useState<string | null>(null);
  const field = (key: keyof typeof EMPTY_CHANNEL) => ({ value: form[key], onChange: (e: { target: { value: string } }) => setForm({ ...form, [key]: e.target.value }) });
  const create = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    const settings = form.kind === 'email'
      ? { host: form.host, port: Number(form.port), from: form.from, to: form.to, ...(form.user ? { user: form.user, password: form.password } : {}) }
      : form.kind === 'webhook' ? { url: form.url, secret: form.secret } : { url: form.url };
    try {
      await api('/notifications/channels', { method: 'POST', body: { name: form.name, kind: form.kind, settings, minSeverity: form.minSeverity, digestMinutes: Number(form.digestMinutes) } });
      setForm(EMPTY_CHANNEL);
      channels.reload();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  const test = async (c: Channel) => {
    const r = await api<{ ok: boolean; error?: string }>(`/notifications/channels/${c.id}/test`, { method: 'POST' }).catch((err: Error) => ({ ok: false, error: err.message }));
    setResult(r.ok ? `Test message sent to ${c.name}.` : `Test to ${c.name} failed: ${r.error}`);
    channels.reload();
  };
  const remove = async (c: Channel) => {
    await api(`/notifications/channels/${c.id}`, { method: 'DELETE' }).catch((err: Error) => setError(err.message));
    channels.reload();
  };
  const setEnabled = async (c: Channel, enabled: boolean) => {
    await api(`/notifications/channels/${c.id}`, { method: 'PATCH', body: { enabled } }).catch((err: Error) => setError(err.message));
    channels.reload();
  };
  return (
    <Card title="Notification channels">
      <Loadable state={channels} what="Notification channels" empty={(p) => p.items.length === 0}>
        {(p) => (
          <table>
            <thead><tr><th scope="col">Name</th><th scope="col">Kind</th><th scope="col">Minimum severity</th><th scope="col">Digest</th><th scope="col">Deliveries</th><th scope="col">Last error</th><th scope="col">Enabled</th><th scope="col"><span className="sr-only">Actions</span></th></tr></thead>
            <tbody>{p.items.map((c) => (
              <tr key={c.id}>
                <td>{c.name}</td><td>{c.kind}</td><td>{c.minSeverity}</td><td>{c.digestMinutes ? `every ${c.digestMinutes} min` : 'immediate'}</td>
                <td>{c.deliveries.sent} sent, {c.deliveries.pending} pending, <span className={c.deliveries.failed ? 'error' : undefined}>{c.deliveries.failed} failed</span></td>
                <td>{c.lastError ? <span className="error">{c.lastError} (<When at={c.lastErrorAt} />)</span> : <span className="muted">none</span>}</td>
                <td><input type="checkbox" role="switch" checked={c.enabled} onChange={(e) => setEnabled(c, e.target.checked)} aria-label={`Channel ${c.name} enabled`} /></td>
                <td><button type="button" onClick={() => test(c)} aria-label={`Send a test to ${c.name}`}>Send test</button> <button type="button" onClick={() => remove(c)} aria-label={`Delete channel ${c.name}`}>Delete</button></td>
              </tr>
            ))}</tbody>
          </table>
        )}
      </Loadable>
      {result ? <p role="status">{result}</p> : null}
      <form className="stack" onSubmit={create} aria-label="Add a notification channel">
        <label>Name <input required {...field('name')} /></label>
        <label>Kind
          <select {...field('kind')}><option value="webhook">Generic webhook (HMAC-signed)</option><option value="slack">Slack incoming webhook</option><option value="teams">Teams incoming webhook</option><option value="email">Email (SMTP)</option></select>
        </label>
        {form.kind !== 'email' ? <label>Webhook URL <input type="url" required {...field('url')} /></label> : null}
        {form.kind === 'webhook' ? <label>Signing secret (16+ characters) <input type="password" required minLength={16} {...field('secret')} /></label> : null}
        {form.kind === 'email' ? (
          <>
            <label>SMTP host <input required {...field('host')} /></label>
            <label>SMTP port <input type="number" min={1} max={65535} required {...field('port')} /></label>
            <label>SMTP user (optional) <input {...field('user')} autoComplete="off" /></label>
            <label>SMTP password <input type="password" {...field('password')} autoComplete="new-password" /></label>
            <label>From address <input required {...field('from')} /></label>
            <label>To addresses (comma-separated) <input required {...field('to')} /></label>
          </>
        ) : null}
        <label>Minimum severity <select {...field('minSeverity')}>{SEVERITIES.map((s) => <option key={s} value={s}>{s}</option>)}</select></label>
        <label>Digest interval in minutes (0 sends each alert at once) <input type="number" min={0} max={1440} {...field('digestMinutes')} /></label>
        <button type="submit">Add channel</button>
      </form>
      {error ? <p role="alert" className="error">{error}</p> : null}
    </Card>
  );
}

const REGISTRY_KINDS = ['distribution', 'harbor', 'acr', 'dockerhub', 'generic'];

function Registries() {
  const [form, setForm] = useState({ name: '', url: '', kind: 'distribution', username: '', password: '', poll: false });
  const [connection, setConnection] = useState<{ token: string; webhookUrl: string; snippet: string } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const connect = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      const body = { name: form.name, url: form.url, kind: form.kind, poll: form.poll, ...(form.username ? { username: form.username, password: form.password } : {}) };
      setConnection(await api<{ token: string; webhookUrl: string; snippet: string }>('/registries', { method: 'POST', body }));
      setForm({ ...form, name: '', url: '', username: '', password: '' });
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return (
    <Card title="Connect a registry">
      <form className="inline" onSubmit={connect} aria-label="Connect a registry">
        <label>Name <input required value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} /></label>
        <label>URL <input type="url" required value={form.url} onChange={(e) => setForm({ ...form, url: e.target.value })} placeholder="https://registry.example.com" /></label>
        <label>Kind <select value={form.kind} onChange={(e) => setForm({ ...form, kind: e.target.value })}>{REGISTRY_KINDS.map((k) => <option key={k}>{k}</option>)}</select></label>
        <label>User (optional) <input value={form.username} onChange={(e) => setForm({ ...form, username: e.target.value })} autoComplete="off" /></label>
        <label>Password <input type="password" value={form.password} onChange={(e) => setForm({ ...form, password: e.target.value })} autoComplete="new-password" /></label>
        <label className="switch"><input type="checkbox" checked={form.poll} onChange={(e) => setForm({ ...form, poll: e.target.checked })} /> Poll for new images</label>
        <button type="submit">Connect registry</button>
      </form>
      {error ? <p role="alert" className="error">{error}</p> : null}
      {connection ? (
        <div role="status">
          <p>Connected. Its webhook URL is <code>{connection.webhookUrl}</code>; the token is shown once: <code>{connection.token}</code></p>
          <pre tabIndex={0} aria-label="Registry webhook configuration">{connection.snippet}</pre>
        </div>
      ) : null}
    </Card>
  );
}

function Connect() {
  const origin = location.origin;
  return (
    <Card title="Connect a cluster">
      <ol>
        <li>Create an ingest token for the cluster above (scope <code>cluster:NAME</code>).</li>
        <li>Point the API server's audit webhook at <code>{origin}/ingest/audit</code> with <code>Authorization: Bearer TOKEN</code> (or run <code>palisade cluster connect</code> to generate the webhook, audit policy and DaemonSet configuration).</li>
        <li>Register the admission webhook at <code>{origin}/admission/validate</code> and deploy the node agent DaemonSet reporting to <code>{origin}/ingest/agent</code>.</li>
        <li>Registries: configure their webhook to <code>{origin}/ingest/registry/NAME</code> with a <code>registry:NAME</code> token.</li>
      </ol>
    </Card>
  );
}

export function SettingsPage() {
  const session = useSession();
  const admin = session?.role === 'admin';
  return (
    <>
      <h1>Environment settings</h1>
      <Plans admin={admin} />
      {admin ? (
        <>
          <Channels />
          <Registries />
          <Tokens />
          <Users />
          <Connect />
        </>
      ) : <p className="muted">Readers see plans; channels, tokens and users are for admins.</p>}
    </>
  );
}
