#!/usr/bin/env node
// Thin launcher: run the built CLI and set the exit code without cutting off pending output.
import { main } from '../dist/cli/main.js';

process.exitCode = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env });
