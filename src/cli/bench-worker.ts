/**
 * Process entry for one bench pair (spawned by bench-runner.ts with an IPC channel): runs the job given
 * as JSON in argv[2], streams progress over IPC, and ends with { type: 'done', rows } or { type: 'error' }.
 * Ctrl-C (SIGINT reaches the whole process group) or a 'stop' message ends the timed loop early; what was
 * measured is still sent.
 */
import { benchPair } from '../core/bench/run-pair.js';
import type { BenchJob } from '../core/bench/types.js';
import { errorRecord } from '../core/errors.js';
import type { WorkerMessage } from './bench-runner.js';

const controller = new AbortController();
process.on('SIGINT', () => controller.abort());
process.on('SIGTERM', () => controller.abort());
process.on('message', (m: unknown) => {
  if ((m as { type?: string }).type === 'stop') controller.abort();
});

const send = (m: WorkerMessage): Promise<void> => new Promise((resolve) => (process.send ? process.send(m, undefined, {}, () => resolve()) : resolve()));

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2] ?? '') as BenchJob;
  const rows = await benchPair(job, { signal: controller.signal, onEvent: (event) => void send({ type: 'event', event }) });
  await send({ type: 'done', rows });
}

main()
  .catch((err: unknown) => send({ type: 'error', error: errorRecord(err) }))
  .finally(() => process.exit(0)); // native runtimes may hold handles open; the result is already sent
