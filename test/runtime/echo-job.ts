/** Job kinds for the runtime tests, registered in the host through LaneOptions.jobModules. */
import { registerJob } from '../../src/runtime/jobs.js';

registerJob('echo', async (payload, ctx) => {
  ctx.emit('echoing');
  return payload;
});
registerJob('env', async (payload) => process.env[String(payload)]);
/** Dies as a native fault would: a line on stderr, then SIGSEGV. */
registerJob('segfault', async () => {
  process.stderr.write('fatal: simulated driver fault\n', () => process.kill(process.pid, 'SIGSEGV'));
  return new Promise(() => undefined);
});
