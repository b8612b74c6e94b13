/** Job kinds for the runtime tests, registered in the host through LaneOptions.jobModules. */
import { registerJob } from '../../src/runtime/jobs.js';

registerJob('echo', async (payload, ctx) => {
  ctx.emit('echoing');
  return payload;
});
registerJob('env', async (payload) => process.env[String(payload)]);
