// Queue mode (docs/distributed.md): the coordinator's scheduler is used by sweep.ts; these are for `bam worker` and `bam queue`.
export { QueueError, parseQueueUrl, checkReachable, QUEUE_NAME, QUEUE_PREFIX, type QueueTarget } from './connection.ts';
export { runQueueWorker, type QueueWorkerOptions, type QueueWorkerSummary } from './worker.ts';
export { readQueueStatus, formatQueueStatus, formatCounts, type QueueStatus, type QueueCounts, type RunningJob } from './status.ts';
