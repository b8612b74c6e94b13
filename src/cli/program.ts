/**
 * The commander program: global flags, subcommands, help with examples. Command modules are imported
 * only when their command runs, so `--help` loads no native addon and no UI framework.
 */
import { Command, Option } from 'commander';
import { makeContext, globalFlags, type CliContext, type CliIO } from './context.js';
import { aivmmVersion } from './version.js';

const EXAMPLES = `
Examples:
  $ aivmm devices                       list CPU, GPUs and NPUs with the backends that reach each
  $ aivmm devices --probe               verify each (device, backend) pair by running a tiny model
  $ aivmm devices --json | jq '.data.devices[].id'
  $ aivmm bench                         benchmark the embedded default model (MobileNetV2 architecture)
  $ aivmm bench mobilenetv2 --device GPU.1
  $ aivmm pull yolov8n
  $ aivmm run yolov8n --input street.jpg -o boxes.png
  $ aivmm quantize model.onnx --mode static

Exit codes: 0 ok, 1 internal error, 2 usage, 3 config, 4 network, 5 not found, 6 auth,
  7 backend unavailable, 8 inference, 9 integrity, 10 regression, 11 not implemented, 130 cancelled.
Docs: README.md (commands, environment variables, JSON schemas).`;

export interface ProgramResult {
  program: Command;
  /** The context of the command that ran (set when an action starts). */
  context(): CliContext;
}

export function buildProgram(io: CliIO, argv: readonly string[] = []): ProgramResult {
  // Until an action runs, errors (e.g. a bad flag) are reported with the flags as they appear in argv.
  const early = { json: argv.includes('--json'), verbose: argv.includes('--verbose') || argv.includes('-v'), color: !argv.includes('--no-color') };
  let ctx: CliContext = makeContext(io, globalFlags(early, io.env));
  const program = new Command('aivmm');
  program
    .description('Discover, benchmark and run ONNX models on every AI accelerator in this machine.')
    .version(aivmmVersion(), '-V, --version', 'print the aivmm version')
    .option('--json', 'print one versioned JSON document on stdout (errors too)')
    .option('-v, --verbose', 'log details and timings to stderr')
    .option('--no-color', 'no colours (also: NO_COLOR=1)')
    .showHelpAfterError('(run `aivmm --help` for usage)')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .addHelpText('after', EXAMPLES)
    .hook('preAction', (_root, action) => {
      ctx = makeContext(io, globalFlags(action.optsWithGlobals(), io.env));
    });

  program
    .command('devices')
    .description('list devices (CPU, GPU.N, NPU) and which backends reach each')
    .option('--probe', 'verify each (device, backend) pair by running a tiny model; results are cached per host')
    .option('-d, --device <id>', 'only this device: CPU, GPU (= GPU.0), GPU.1, NPU, all', 'all')
    .addOption(new Option('--timeout <seconds>', 'time limit for each probe').default('120'))
    .option('--no-cache', 'neither read nor write the per-host probe cache')
    .addHelpText(
      'after',
      `
Examples:
  $ aivmm devices
  $ aivmm devices --probe --device GPU.0
  $ aivmm devices --json`,
    )
    .action(async (opts: DevicesFlags) => {
      const { devicesCommand } = await import('./commands/devices.js');
      await devicesCommand(ctx, opts);
    });

  const pending: readonly [string, string, string][] = [
    ['pull', 'download a model from the Hugging Face Hub into the shared HF cache', '<model>'],
    ['quantize', 'quantize an ONNX model (FP32 → INT8 static/dynamic, FP16) with a fidelity report', '[model]'],
    ['run', 'run a model with its task pre/post-processing (classification, detection, text, …)', '[model]'],
    ['bench', 'benchmark a model on one or all devices, side by side; gate CI on regressions', '[model]'],
  ];
  for (const [name, description, args] of pending) {
    program
      .command(`${name} ${args}`)
      .description(`${description} (not built yet)`)
      .allowUnknownOption()
      .allowExcessArguments()
      .action(async () => {
        const { notImplemented } = await import('./commands/pending.js');
        notImplemented(name);
      });
  }
  return { program, context: () => ctx };
}

export interface DevicesFlags {
  probe?: boolean;
  device: string;
  timeout: string;
  cache: boolean;
}
