export { startJobQueue, runOnce, jobSchemaVersion, type JobDefinition, type AnyJobDefinition, type JobQueue, type JobQueueOptions } from './queue.js';
export { surviveLostJobAcknowledgements, isLostDatabaseConnection } from './lost-acknowledgements.js';
