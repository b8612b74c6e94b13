#!/usr/bin/env node
// Thin launcher: run the built CLI and set the exit code without cutting off pending output.
import { main } from '../dist/cli/main.js';

// A reader that goes away (`aivmm devices --json | head`) is not an error worth a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

process.exitCode = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env });
