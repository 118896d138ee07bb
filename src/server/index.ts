import type * as App from './app.js';

// The app's module loads every route and the capabilities behind them (seconds on a loaded
// machine): `palisade server` starts loading it while the database opens, so it is not loaded
// statically here.
export { API_PREFIX } from './api-prefix.js';
export async function buildApp(...args: Parameters<typeof App.buildApp>): ReturnType<typeof App.buildApp> {
  return (await import('./app.js')).buildApp(...args);
}
export async function buildAdmissionApp(...args: Parameters<typeof App.buildAdmissionApp>): ReturnType<typeof App.buildAdmissionApp> {
  return (await import('./app.js')).buildAdmissionApp(...args);
}
export type { AppOptions } from './app.js';
export { admissionTls, webhookHostNames, type TlsMaterial } from './tls.js';
export { runServer, runWorker, stopOnSignals, type RunningProcess } from './start.js';
export type { ServerContext } from './context.js';
