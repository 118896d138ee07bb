export { startJobQueue, runOnce, jobSchemaVersion, type JobDefinition, type JobQueue, type JobQueueOptions } from './queue.js';
