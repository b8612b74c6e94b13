/**
 * aivmm's entry: main(argv, io) returns the exit code and never calls process.exit, so tests run it
 * in-process and bin/aivmm.js lets stdout drain before the process ends. The configuration is read here,
 * once, from io.env (src/core/config/load.ts); commands get it as ctx.config.
 */
import { buildProgram } from './program.js';
import type { CliIO } from './context.js';
import { handleError } from './handle-error.js';
import { loadConfig } from '../core/config/load.js';

export async function main(argv: readonly string[], io: CliIO): Promise<number> {
  const config = loadConfig(io.env);
  const noColor = argv.includes('--no-color') || argv.includes('--json') || config.output.noColor || config.output.json;
  if (noColor) process.env['FORCE_COLOR'] = '0'; // before Ink/chalk load: they read it once
  const { program, context } = buildProgram(io, argv, config);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return context().exitCode ?? 0;
  } catch (err) {
    return handleError(err, context());
  }
}
