export { buildApp, buildAdmissionApp, API_PREFIX, type AppOptions } from './app.js';
export { admissionTls, webhookHostNames, type TlsMaterial } from './tls.js';
export { runServer, runWorker, stopOnSignals, type RunningProcess } from './start.js';
export type { ServerContext } from './context.js';
