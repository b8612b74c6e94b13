/**
 * Process entry for one device probe (spawned by probe-runner.ts): runs the job given as JSON in argv[2]
 * and prints the outcome as one marked JSON line on stdout. Native runtimes may print to stdout/stderr
 * themselves; the marker separates our line from theirs.
 */
import { PROBE_MARKER, runProbe, type ProbeJob, type ProbeOutcome } from '../core/devices/probe-run.js';
import { errorMessage } from '../core/errors.js';

const emit = (o: ProbeOutcome): void => void process.stdout.write(`\n${PROBE_MARKER}${JSON.stringify(o)}\n`);

const arg = process.argv[2];
if (arg) {
  let job: ProbeJob | undefined;
  try {
    job = JSON.parse(arg) as ProbeJob;
  } catch (err) {
    emit({ ok: false, error: `bad probe job: ${errorMessage(err)}` });
  }
  if (job) runProbe(job).then(emit, (err: unknown) => emit({ ok: false, error: errorMessage(err) }));
}
