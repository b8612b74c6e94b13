/** Turns anything thrown into one clear line on stderr (or a JSON envelope on stdout) and an exit code. */
import { CommanderError } from 'commander';
import { isAivmmError } from '../core/errors.js';
import { errorEnvelope, toJson } from '../ui/json.js';
import type { CliContext } from './context.js';
import { EXIT_CODES, exitCodeFor } from './exit-codes.js';

export function handleError(err: unknown, ctx: CliContext): number {
  if (err instanceof CommanderError) {
    if (err.exitCode === 0) return 0; // --help, --version
    // commander already wrote its message to stderr
    if (ctx.flags.json) ctx.io.stdout.write(toJson(errorEnvelope('USAGE', EXIT_CODES.USAGE, err.message.replace(/^error: /, ''), 'run `aivmm --help`')));
    return EXIT_CODES.USAGE;
  }
  if (isAivmmError(err)) {
    const exitCode = exitCodeFor(err.code);
    if (ctx.flags.json) ctx.io.stdout.write(toJson(errorEnvelope(err.code, exitCode, err.message, err.hint)));
    ctx.io.stderr.write(`error: ${err.message}\n`);
    if (err.hint) ctx.io.stderr.write(`hint: ${err.hint}\n`);
    if (ctx.flags.verbose && err.stack) ctx.io.stderr.write(`${err.stack}\n`);
    return exitCode;
  }
  const message = err instanceof Error ? err.message : String(err);
  if (ctx.flags.json) ctx.io.stdout.write(toJson(errorEnvelope('INTERNAL', EXIT_CODES.INTERNAL, message, 'this is a bug in aivmm: please report it with the output of `aivmm --version`')));
  ctx.io.stderr.write(`error: internal error: ${message}\n`);
  ctx.io.stderr.write(`${err instanceof Error && err.stack ? err.stack : message}\n`);
  ctx.io.stderr.write('hint: this is a bug in aivmm: please report it with the output of `aivmm --version` and the command you ran\n');
  return EXIT_CODES.INTERNAL;
}
