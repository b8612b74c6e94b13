/**
 * Process entry for one device probe (spawned by probe-runner.ts): runs the job given as JSON in argv[2]
 * and prints the outcome as one marked JSON line on stdout. Native runtimes may print to stdout/stderr
 * themselves; the marker separates our line from theirs.
 */
import { runProbe, type ProbeJob } from '../core/devices/probe-run.js';
import { errorMessage } from '../core/errors.js';

export const PROBE_MARKER = '@@aivmm-probe ';

const arg = process.argv[2];
if (arg) {
  let job: ProbeJob | undefined;
  try {
    job = JSON.parse(arg) as ProbeJob;
  } catch (err) {
    process.stdout.write(`\n${PROBE_MARKER}${JSON.stringify({ ok: false, error: `bad probe job: ${errorMessage(err)}` })}\n`);
  }
  if (job) {
    runProbe(job).then(
      (o) => process.stdout.write(`\n${PROBE_MARKER}${JSON.stringify(o)}\n`),
      (err: unknown) => process.stdout.write(`\n${PROBE_MARKER}${JSON.stringify({ ok: false, error: errorMessage(err) })}\n`),
    );
  }
}
