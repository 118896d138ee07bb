import type { Command } from 'commander';
import { runServer, runWorker, stopOnSignals } from '../server/index.js';
import { configFor, withStoreFlags } from './shared.js';

export function register(program: Command): void {
  withStoreFlags(program.command('server'))
    .description('run the security center (API, dashboard, ingest; jobs too on the embedded database)')
    .option('--host <address>', 'listen address (PALISADE_HOST)')
    .option('--port <port>', 'listen port (PALISADE_PORT)')
    .option('--log-level <level>', 'log level (PALISADE_LOG_LEVEL)')
    .action(async (_options, command: Command) => {
      const running = await runServer(configFor(command));
      stopOnSignals(running, (error) => process.exit(error ? 1 : 0));
    });

  withStoreFlags(program.command('worker'))
    .description('run job handlers without HTTP (needs PostgreSQL), to scale workers apart from the API')
    .option('--log-level <level>', 'log level (PALISADE_LOG_LEVEL)')
    .action(async (_options, command: Command) => {
      const running = await runWorker(configFor(command));
      stopOnSignals(running, (error) => process.exit(error ? 1 : 0));
    });
}
