#!/usr/bin/env node
// Thin launcher: run the built CLI and set the exit code without cutting off pending output.
import { main } from '../dist/cli/main.js';

// onnxruntime's Linux build starts Microsoft's 1DS telemetry client in every process that opens a session:
// it leaves an empty mat-debug-<pid>.log and a .ses file in the temp directory (and tries to upload events).
// Off unless the user chose otherwise; worker processes inherit it.
process.env.ORT_DISABLE_TELEMETRY ??= '1';

// A reader that goes away (`aivmm devices --json | head`) is not an error worth a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

process.exitCode = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env });
