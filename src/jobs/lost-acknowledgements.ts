/**
 * pg-boss 10 acknowledges a finished job (`complete` or `fail`) without awaiting it: when
 * PostgreSQL is unreachable at that moment (a restart), the rejected promise is unhandled and
 * Node ends the process, taking every other job loop with it (seen in the fault test: the last
 * worker died and scans stopped). The lost acknowledgement itself is harmless: the job stays
 * active, expires and runs again, and its effect is keyed (`runOnce`). So such rejections are
 * logged and survived; any other unhandled rejection still ends the process, as Node would.
 */
const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', '57P01', '57P02', '57P03', '08000', '08003', '08006']);

export function isLostDatabaseConnection(reason: unknown): boolean {
  if (!(reason instanceof Error)) return false;
  const code = (reason as { code?: unknown }).code;
  return (typeof code === 'string' && CONNECTION_CODES.has(code))
    || /Connection terminated|connection timeout|timeout exceeded when trying to connect|Query read timeout/i.test(reason.message);
}

let installed = false;

export function surviveLostJobAcknowledgements(log: (reason: unknown) => void): void {
  if (installed) return;
  installed = true;
  process.on('unhandledRejection', (reason) => {
    if (isLostDatabaseConnection(reason)) {
      log(reason);
      return;
    }
    // Not ours to survive: end as Node does by default for an unhandled rejection.
    setImmediate(() => { throw reason; });
  });
}
