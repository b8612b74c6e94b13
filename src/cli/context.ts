/** What a command needs from the process, passed in so tests can run main() in-process. */
export interface OutStream {
  write(chunk: string): boolean;
  isTTY?: boolean;
  columns?: number;
}

export interface CliIO {
  stdout: OutStream;
  stderr: OutStream;
  env: Readonly<Record<string, string | undefined>>;
}

export interface GlobalFlags {
  json: boolean;
  verbose: boolean;
  color: boolean;
}

export interface CliContext {
  io: CliIO;
  flags: GlobalFlags;
  /** Results as Ink screens (a terminal, not CI, not --json). */
  interactive: boolean;
  /** Spinners and progress on stderr. */
  progress: boolean;
  log(message: string): void;
  /** Set by a command that finished its output but must still fail (a regression, an interrupted run). */
  exitCode?: number;
}

export function makeContext(io: CliIO, flags: GlobalFlags): CliContext {
  const ci = Boolean(io.env['CI']) && io.env['CI'] !== 'false' && io.env['CI'] !== '0';
  return {
    io,
    flags,
    interactive: Boolean(io.stdout.isTTY) && !flags.json && !ci,
    progress: Boolean(io.stderr.isTTY) && !flags.json && !ci,
    log: (message) => {
      if (flags.verbose) io.stderr.write(`aivmm: ${message}\n`);
    },
  };
}

/** Global flags from argv and the environment: --json / AIVMM_JSON, --no-color / NO_COLOR. */
export function globalFlags(opts: { json?: boolean; verbose?: boolean; color?: boolean }, env: CliIO['env']): GlobalFlags {
  const json = Boolean(opts.json) || env['AIVMM_JSON'] === '1';
  const noColorEnv = env['NO_COLOR'] !== undefined && env['NO_COLOR'] !== '';
  return { json, verbose: Boolean(opts.verbose), color: opts.color !== false && !noColorEnv && !json };
}
