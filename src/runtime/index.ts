/** The worker runtime's public surface, for the CLI and the server (docs/architecture-runtime.md). */
export { Lane, type JobOptions, type LaneExit, type LaneOptions } from './lane.js';
export { jobKinds, registerJob, type JobContext, type JobHandler } from './jobs.js';
export type { ErrorRecord, HostInit, LaneStats, LoadResult, Reply, Request, RunResult } from './protocol.js';
export { threadPoolOpener } from './session-pool.js';
