/**
 * aivmm's entry: main(argv, io) returns the exit code and never calls process.exit, so tests run it
 * in-process and bin/aivmm.js lets stdout drain before the process ends.
 */
import { buildProgram } from './program.js';
import type { CliIO } from './context.js';
import { handleError } from './handle-error.js';

export async function main(argv: readonly string[], io: CliIO): Promise<number> {
  const noColor = argv.includes('--no-color') || (io.env['NO_COLOR'] ?? '') !== '' || argv.includes('--json');
  if (noColor) process.env['FORCE_COLOR'] = '0'; // before Ink/chalk load: they read it once
  const { program, context } = buildProgram(io, argv);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return context().exitCode ?? 0;
  } catch (err) {
    return handleError(err, context());
  }
}
