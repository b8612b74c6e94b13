/** `aivmm run`: resolve the model (embedded, file, alias, Hub id) and its task settings, run, render. */
import { access, mkdir, stat } from 'node:fs/promises';
import { constants } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { ConfigError, NotFoundError, UsageError, errorMessage } from '../../core/errors.js';
import { expandImageInputs } from '../../core/tasks/index.js';
import { checkAllocation } from '../../core/memory-budget.js';
import type { DevicesReport } from '../../core/devices/types.js';
import { findAlias } from '../../core/hub/catalog.js';
import { EMBEDDED_MODELS } from '../../core/models/embedded.js';
import { TASKS, type RunReport, type TaskName } from '../../core/tasks/types.js';
import { planTask, taskFor } from '../../core/tasks/plan.js';
import { SCHEMAS, okEnvelope, toJson } from '../../ui/json.js';
import type { CliContext } from '../context.js';
import { resolveModelArg } from '../model-arg.js';
import { EXIT_CODES } from '../exit-codes.js';
import { resolveOrtTarget } from '../ort-target.js';
import type { RunFlags } from '../program.js';
import { startSpinner } from '../spinner.js';
import { backendId, fraction, integer, numberIn, numberList, oneOf, positiveInt } from '../flags.js';
import { onInterrupt } from '../interrupt.js';

export async function runCommand(ctx: CliContext, modelArg: string | undefined, opts: RunFlags): Promise<void> {
  if (opts.server ?? ctx.io.env['AIVMM_SERVER']) return (await import('./run-remote.js')).runRemote(ctx, modelArg, opts, (opts.server ?? ctx.io.env['AIVMM_SERVER'])!);
  if (opts.input.length === 0 && !opts.interactive) throw new UsageError('no --input given', 'aivmm run <model> --input image.jpg (a file or a directory; repeatable), or --interactive for a chat');
  if (opts.interactive && (opts.input.length > 0 || ctx.flags.json)) throw new UsageError('--interactive reads the conversation from the terminal', 'leave out --input and --json');
  if (opts.task === 'speech-to-text') opts.task = 'automatic-speech-recognition';
  if (opts.task !== undefined && !TASKS.includes(opts.task as TaskName)) throw new UsageError(`unsupported --task '${opts.task}'`, `tasks: ${TASKS.join(', ')} (speech-to-text: automatic-speech-recognition)`);
  const topK = opts.topK === undefined ? undefined : positiveInt('--top-k', opts.topK);
  const maxTokens = positiveInt('--max-tokens', opts.maxTokens);
  const temperature = numberIn('--temperature', opts.temperature, 0, 10, 'give 0 (greedy) to 10');
  const topP = opts.topP === undefined ? undefined : fraction('--top-p', opts.topP);
  const seed = integer('--seed', opts.seed);
  const batch = positiveInt('--batch', opts.batch);
  const confidence = fraction('--conf', opts.conf);
  const iou = fraction('--iou', opts.iou);
  const size = opts.size === undefined ? undefined : positiveInt('--size', opts.size);
  const mean = numberList('--mean', opts.mean, 3);
  const std = numberList('--std', opts.std, 3);
  const env = ctx.io.env;
  const { cacheDir } = ctx.config.paths;
  const name = modelArg ?? 'mobilenetv2-seeded';
  // Task, preprocessing, labels and companion files: core/tasks/plan.ts decides (flags, else the catalog, else the embedded model).
  const entry = findAlias(name);
  const embedded = EMBEDDED_MODELS[name];
  const flagTask = opts.task as TaskName | undefined;
  const { task, multiFile } = taskFor({ ...(flagTask ? { task: flagTask } : {}), ...(entry ? { catalogEntry: entry } : {}), ...(embedded ? { embeddedTask: embedded.task } : {}), name });
  // Everything local is checked before a catalog model is downloaded: the inputs, the destination, the device.
  const output = opts.output === undefined ? undefined : await checkOutput(opts.output, opts.input, task);
  if (task !== undefined && IMAGE_TASKS.has(task)) {
    const files = await expandImageInputs(opts.input);
    // A batch holds at most the images there are; --size × --size float32 RGB each.
    if (size !== undefined) checkAllocation(`a batch of ${Math.min(batch, files.length)} ${size}×${size} images`, Math.min(batch, files.length) * 3 * 4 * size * size, 'give a smaller --size or --batch');
    if (output?.dir) refuseCollisions(files, output.path);
  } else if (task === undefined && output?.dir) {
    // The task is inferred once the model is open; where the inputs are images, their annotated copies must not collide.
    const files = await expandImageInputs(opts.input).catch(() => undefined);
    if (files) refuseCollisions(files, output.path);
  } else if (task === 'automatic-speech-recognition') {
    for (const i of opts.input) if (!(await stat(i).catch(() => undefined))) throw new NotFoundError(`input ${i} not found`);
  }
  const auto = opts.device.trim().toLowerCase() === 'auto';
  if (!auto && (opts.require !== undefined || opts.prefer !== 'latency')) throw new UsageError('--prefer and --require go with --device auto');
  const backendArg = opts.backend === undefined ? undefined : backendId('--backend', opts.backend);
  const early = auto ? undefined : await resolveOrtTarget(ctx, 'run', opts.device, backendArg, cacheDir, undefined, ['onnxruntime', 'openvino']);
  const model = await resolveModelArg(ctx, modelArg, cacheDir, { multi: multiFile });
  const plan = await planTask({
    model: model.path,
    ...(model.files ? { files: model.files } : {}),
    modelName: model.name,
    ...(flagTask ? { task: flagTask } : {}),
    ...(entry ? { catalogEntry: entry } : {}),
    ...(embedded ? { embedded: { task: embedded.task } } : {}),
    flags: { ...(size ? { size } : {}), ...(opts.labels ? { labels: opts.labels } : {}), ...(mean ? { mean } : {}), ...(std ? { std } : {}), ...(opts.textModel ? { textModel: opts.textModel } : {}), ...(opts.decoderModel ? { decoderModel: opts.decoderModel } : {}), ...(opts.tokenizer ? { tokenizer: opts.tokenizer } : {}) },
  });
  const visionModel = plan.model;
  if (entry?.warning) ctx.io.stderr.write(`warning: ${entry.alias}: ${entry.warning}\n`);
  let deviceFlag = opts.device;
  let backendFlag = backendArg;
  let discovered: DevicesReport | undefined;
  if (auto) {
    // The pair measured fastest for this model here (probing the ones not measured yet), among onnxruntime's.
    const prefer = oneOf('--prefer', opts.prefer, ['latency', 'throughput'] as const);
    const [{ chooseAuto }, { parseRequire }, { sha256File }, { listDevices }, { processBenchRunner }] = await Promise.all([
      import('../auto-choice.js'),
      import('../../core/bench/auto.js'),
      import('../../core/bench/index.js'),
      import('../../core/devices/index.js'),
      import('../../runtime/bench-runner.js'),
    ]);
    const devices = await listDevices({ host: ctx.host(), cacheDir });
    const choice = await chooseAuto(ctx, {
      model: { name: model.name, path: visionModel, embedded: model.embedded },
      devices,
      cacheDir,
      modelSha: await sha256File(visionModel),
      requirements: parseRequire(opts.require),
      prefer,
      backends: backendArg ? [backendArg] : ['ort-cpu', 'ort-webgpu', 'ort-cuda', 'ort-tensorrt'],
      runner: processBenchRunner(env, ctx.log),
      signal: new AbortController().signal,
    });
    deviceFlag = choice.device;
    backendFlag = choice.backend;
    discovered = devices;
  }
  const { device, backend, target } = early ?? (await resolveOrtTarget(ctx, 'run', deviceFlag, backendFlag, cacheDir, discovered, ['onnxruntime', 'openvino']));
  const generation = { maxTokens, sampling: { temperature, seed, ...(topK ? { topK } : {}), ...(topP !== undefined ? { topP } : {}) }, ...(opts.system ? { system: opts.system } : {}), chatTemplate: opts.chatTemplate !== false };
  if (opts.interactive) {
    if (task && task !== 'text-generation') throw new UsageError(`--interactive is a chat: ${name} is a ${task} model`);
    await interactiveChat(ctx, {
      plan: { ...plan, task: 'text-generation' },
      target,
      device: { id: device.id, name: device.name, backend },
      batch,
      options: { 'text-generation': generation },
    });
    return;
  }
  // Streamed tokens share stdout with nothing else: no spinner for text generation.
  const spinner = await startSpinner({ ...ctx, progress: ctx.progress && task !== 'text-generation' }, `running ${model.name}`);
  const interrupt = onInterrupt({ second: '\naivmm: stopping after the inference in hand (Ctrl-C again to quit at once)\n', write: (t) => void ctx.io.stderr.write(t) });
  let report: RunReport;
  try {
    const { runTask } = await import('../../core/tasks/index.js');
    report = await runTask({
      plan,
      inputs: opts.input,
      target,
      device: { id: device.id, name: device.name, backend },
      ...(output ? { output: output.path } : {}),
      batch,
      options: {
        'image-classification': { topK: topK ?? 5 },
        'object-detection': { confidence, iou },
        'zero-shot-image-classification': { hypothesis: opts.hypothesis },
        'sentence-embeddings': { truncate: Boolean(opts.truncate) },
        'text-generation': generation,
        'automatic-speech-recognition': { ...(opts.language ? { language: opts.language } : {}), translate: Boolean(opts.translate), maxTokens: Math.min(maxTokens, 440) },
      },
      // Tokens stream to stdout as they come (not with --json: one document only).
      ...(ctx.flags.json ? {} : { onText: (delta: string) => void ctx.io.stdout.write(delta) }),
      onProgress: (done, total) => spinner.text(`${model.name}: ${done}/${total}`),
      signal: interrupt.signal,
    });
  } finally {
    spinner.stop();
    interrupt.dispose();
  }
  // The embedded models have seeded weights: their classes are ImageNet's names on noise.
  if (embedded) report.notices = [...(report.notices ?? []), `${name} has seeded (random) weights: a demo of the pipeline; its labels mean nothing`];
  if (ctx.flags.json) ctx.io.stdout.write(toJson(okEnvelope(SCHEMAS.run, report)));
  else {
    const { renderRunPlain } = await import('../../ui/plain/run.js');
    ctx.io.stdout.write(renderRunPlain(report));
    for (const n of report.notices ?? []) ctx.io.stderr.write(`note: ${n}\n`);
  }
  if (report.interrupted) {
    ctx.io.stderr.write('aivmm: interrupted: the results above cover the images done before Ctrl-C\n');
    ctx.exitCode = EXIT_CODES.CANCELLED;
  }
}

const IMAGE_TASKS: ReadonlySet<TaskName> = new Set(['image-classification', 'object-detection', 'zero-shot-image-classification']);

/**
 * `-o`: a PNG file in an existing, writable directory, or (several inputs, a directory input, an
 * existing directory) a directory, made now. Checked before anything is downloaded or run: a bad
 * destination is one line and exit 3, not an error from the image encoder after all the work.
 */
async function checkOutput(arg: string, inputs: readonly string[], task: TaskName | undefined): Promise<{ path: string; dir: boolean }> {
  const path = resolve(arg);
  const st = await stat(path).catch(() => undefined);
  const dir = st?.isDirectory() || inputs.length > 1 || (await Promise.all(inputs.map((i) => stat(i).then((s) => s.isDirectory(), () => false)))).some(Boolean);
  if (task !== undefined && task !== 'object-detection') throw new UsageError(`-o writes annotated images: object-detection only (${task} prints its results)`);
  if (dir) {
    if (st && !st.isDirectory()) throw new ConfigError(`-o ${arg}: not a directory, and the inputs need one (an annotated PNG per image)`, 'give a directory (made when missing)');
    try {
      await mkdir(path, { recursive: true });
      await access(path, constants.W_OK);
    } catch (err) {
      throw new ConfigError(`-o ${arg}: cannot write there: ${errorMessage(err)}`, 'give a directory you can write (made when missing)');
    }
    return { path, dir: true };
  }
  if (!/\.png$/i.test(path)) throw new UsageError(`-o ${arg}: annotated images are PNG`, 'give a .png file (or a directory for several inputs)');
  const parent = dirname(path);
  const pst = await stat(parent).catch(() => undefined);
  if (!pst?.isDirectory()) throw new ConfigError(`-o ${arg}: directory ${parent} does not exist`, 'create it first, or give a file in an existing directory');
  try {
    await access(parent, constants.W_OK);
    if (st) await access(path, constants.W_OK);
  } catch (err) {
    throw new ConfigError(`-o ${arg}: cannot write there: ${errorMessage(err)}`, 'give a file in a directory you can write');
  }
  return { path, dir: false };
}

/** Two inputs whose annotated copies would share a name in the -o directory (a/x.jpg, b/x.png): refused, not overwritten. */
function refuseCollisions(files: readonly string[], outDir: string): void {
  const seen = new Map<string, string>();
  for (const f of files) {
    const out = join(outDir, `${basename(f, extname(f))}.png`);
    const other = seen.get(out);
    if (other !== undefined && resolve(other) !== resolve(f)) throw new UsageError(`-o ${outDir}: inputs ${other} and ${f} would both be written to ${out}`, 'rename one, or run them with different -o directories');
    seen.set(out, f);
  }
}

/** A chat on the terminal (or piped lines): each line is a user turn, the reply streams back. Ends on EOF, /exit or Ctrl-C. */
async function interactiveChat(ctx: CliContext, options: Omit<import('../../core/tasks/index.js').RunOptions, 'inputs'>): Promise<void> {
  const { createInterface } = await import('node:readline');
  const { chatLoop } = await import('../../core/tasks/index.js');
  const tty = Boolean(process.stdin.isTTY);
  const rl = createInterface({ input: process.stdin, terminal: false });
  const lines = rl[Symbol.asyncIterator]();
  const interrupt = onInterrupt();
  if (tty) ctx.io.stderr.write(`chatting with ${options.plan.modelName} (${options.device.id} ${options.device.backend}); /exit or Ctrl-D to end\n`);
  try {
    await chatLoop(
      { ...options, signal: interrupt.signal },
      async () => {
        if (tty) ctx.io.stderr.write('> ');
        const next = await lines.next();
        if (next.done || next.value.trim() === '/exit') return undefined;
        return next.value;
      },
      (delta) => void ctx.io.stdout.write(delta),
      (r) => {
        ctx.io.stdout.write('\n');
        ctx.io.stderr.write(`(${r.tokens} tokens, ${r.tokensPerSec} tokens/s${r.finish === 'length' ? ', max tokens reached' : ''})\n`);
      },
    );
  } finally {
    interrupt.dispose();
    rl.close();
  }
}
