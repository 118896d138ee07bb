export { buildApp, API_PREFIX, type AppOptions } from './app.js';
export { runServer, runWorker, stopOnSignals, type RunningProcess } from './start.js';
export type { ServerContext } from './context.js';
