/** What a command needs from the process, passed in so tests can run main() in-process. */
import { loadConfig, resolveOutput, type AivmmConfig, type OutputMode, type OutputSettings } from '../core/config/load.js';
import { nodeHost, type Host } from '../core/devices/host.js';

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
  /** The configuration, read once from io.env by main() (src/core/config/load.ts). */
  config: AivmmConfig;
  /** json, tty (Ink screens) or plain. */
  mode: OutputMode;
  /** Results as Ink screens (a terminal, not CI, not --json). */
  interactive: boolean;
  /** Spinners and progress on stderr. */
  progress: boolean;
  /** The machine as device discovery sees it (io.env, rooted at config.sysroot); made on first use. */
  host(): Host;
  log(message: string): void;
  /** Set by a command that finished its output but must still fail (a regression, an interrupted run). */
  exitCode?: number;
}

export function makeContext(io: CliIO, flags: GlobalFlags, config: AivmmConfig = loadConfig(io.env)): CliContext {
  const out = resolveOutput(config.output, flags, Boolean(io.stdout.isTTY));
  let host: Host | undefined;
  return {
    io,
    flags,
    config,
    mode: out.mode,
    interactive: out.interactive,
    progress: Boolean(io.stderr.isTTY) && !flags.json && !config.output.ci,
    host: () => (host ??= nodeHost(config.env, config.sysroot)),
    log: (message) => {
      if (flags.verbose) io.stderr.write(`aivmm: ${message}\n`);
    },
  };
}

/** Global flags from argv over the configuration: --json / AIVMM_JSON, --no-color / NO_COLOR. */
export function globalFlags(opts: { json?: boolean; verbose?: boolean; color?: boolean }, output: OutputSettings): GlobalFlags {
  const { json, color } = resolveOutput(output, opts, false);
  return { json, verbose: Boolean(opts.verbose), color };
}
