import { useState, type FormEvent } from 'react';
import { api, ApiError, type SessionInfo } from '../api.js';

export function SignInPage({ onSignedIn }: { onSignedIn(session: SessionInfo): void }) {
  const [mode, setMode] = useState<'user' | 'token'>('user');
  const [user, setUser] = useState('');
  const [password, setPassword] = useState('');
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const session = await api<SessionInfo>('/session', { method: 'POST', body: mode === 'user' ? { user, password } : { token } });
      onSignedIn(session);
    } catch (e) {
      setError(e instanceof ApiError ? e.message : String(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <main id="main" className="signin">
      <h1>Sign in to Palisade</h1>
      <form onSubmit={submit} aria-describedby={error ? 'signin-error' : undefined}>
        <fieldset>
          <legend>Sign in with</legend>
          <label><input type="radio" name="mode" value="user" checked={mode === 'user'} onChange={() => setMode('user')} /> User name and password</label>
          <label><input type="radio" name="mode" value="token" checked={mode === 'token'} onChange={() => setMode('token')} /> Admin token</label>
        </fieldset>
        {mode === 'user' ? (
          <>
            <label htmlFor="signin-user">User name</label>
            <input id="signin-user" name="user" autoComplete="username" required value={user} onChange={(e) => setUser(e.target.value)} />
            <label htmlFor="signin-password">Password</label>
            <input id="signin-password" name="password" type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
          </>
        ) : (
          <>
            <label htmlFor="signin-token">Admin token</label>
            <input id="signin-token" name="token" type="password" autoComplete="off" required value={token} onChange={(e) => setToken(e.target.value)} />
          </>
        )}
        {error ? <p id="signin-error" role="alert" className="error">{error}</p> : null}
        <button type="submit" disabled={busy}>{busy ? 'Signing in…' : 'Sign in'}</button>
      </form>
    </main>
  );
}
