#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { isPalisadeError } from '../core/index.js';
import { register as registerAgent } from './agent.js';
import { register as registerAlerts } from './alerts.js';
import { register as registerAudit } from './audit.js';
import { register as registerCluster } from './cluster.js';
import { register as registerCost } from './cost.js';
import { register as registerDb } from './db.js';
import { register as registerImages } from './images.js';
import { register as registerPolicy } from './policy.js';
import { register as registerRegistry } from './registry.js';
import { register as registerScan } from './scan.js';
import { register as registerServer } from './server.js';
import { register as registerToken } from './token.js';

/** `palisade`: one binary for the server, workers, the agent and the offline tools. */
const program = new Command('palisade')
  .description('Threat protection for Kubernetes clusters and container registries')
  .version('0.1.0')
  .option('--config <file>', 'palisade.yaml to read (PALISADE_CONFIG)')
  .showSuggestionAfterError()
  .exitOverride();

registerServer(program);
registerToken(program);
registerScan(program);
registerDb(program);
registerRegistry(program);
registerAudit(program);
registerCluster(program);
registerPolicy(program);
registerCost(program);
registerAlerts(program);
registerImages(program);
registerAgent(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // Commander already printed its message (unknown option, missing argument, --help).
    process.exit(error.exitCode);
  }
  if (isPalisadeError(error)) {
    console.error(`palisade: ${error.toLine()}`);
    // A CI gate that cannot judge (empty or stale advisory database) is told apart from a failed command.
    if (error.code.startsWith('scan.advisory_db.')) process.exit(2);
  } else {
    console.error(`palisade: ${(error as Error).message ?? String(error)}`);
  }
  process.exit(1);
}
