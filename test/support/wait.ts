/**
 * Polls `probe` until it answers something other than undefined, for end-to-end tests that wait
 * on work the server does in the background (a scan after a push, a statement applied). Fails
 * naming what it waited for once `timeoutMs` has passed.
 */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 120_000, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
