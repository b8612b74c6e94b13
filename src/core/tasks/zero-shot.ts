/** zero-shot-image-classification (CLIP): both towers' embeddings, cosine × 100, softmax over the labels. */
import type { HostTensor } from '../backends/types.js';
import { UsageError } from '../errors.js';
import { softmax } from './classification.js';
import type { OpenBase, Pipeline } from './pipeline.js';
import { checkDecoded, imageBytesToTensor, imageDims, imageInput, isDecoded, openModel, type ImageInput, type PipelineTiming } from './shared.js';
import { findTokenizer, loadTokenizer } from './text.js';
import type { ZeroShotResult } from './types.js';

export interface ZeroShotOptions {
  /** The candidate labels (default: the plan's). */
  candidates?: readonly string[];
  /** How a label becomes a sentence; {} marks the label (default 'a photo of {}.'). */
  hypothesis?: string;
  name?: string;
}

export type ZeroShotOutput = Omit<ZeroShotResult, 'input'>;

export interface ZeroShotPipeline extends Pipeline<ImageInput, ZeroShotOutput, ZeroShotOptions> {
  readonly task: 'zero-shot-image-classification';
}

/** CLIP's defaults (openai/clip-vit-base-patch32 preprocessor_config.json). */
const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073];
const CLIP_STD = [0.26862954, 0.26130258, 0.27577711];

/** The first float output of rank 2 ([N, D]: image_embeds / text_embeds), L2-normalised rows. */
function embeddingRows(out: Record<string, HostTensor>, prefer: string): Float32Array[] {
  const t = out[prefer] ?? Object.values(out).find((x) => x.type === 'float32' && x.dims.length === 2);
  if (!t) throw new UsageError(`no [N, D] embedding output (${Object.keys(out).join(', ')})`, `export the tower with its ${prefer} output`);
  const d = t.dims[1]!;
  const rows: Float32Array[] = [];
  for (let r = 0; r < t.dims[0]!; r++) {
    const v = (t.data as Float32Array).slice(r * d, (r + 1) * d);
    let n = 0;
    for (const x of v) n += x * x;
    const norm = Math.sqrt(n) || 1;
    rows.push(v.map((x) => x / norm));
  }
  return rows;
}

export function checkCandidates(labels: readonly string[] | undefined): readonly string[] {
  if (!labels || labels.length < 2) throw new UsageError('zero-shot classification needs at least two candidate labels', 'e.g. --labels "a cat,a dog,a car" (or a text file, one a line)');
  return labels;
}

export async function openZeroShot({ session: vision, sessionMs, plan, target, threads }: OpenBase): Promise<ZeroShotPipeline> {
  const textModel = plan.companions.textModel;
  if (!textModel) throw new UsageError('zero-shot classification needs the text tower too', 'give a directory or repo with vision_model*.onnx and text_model*.onnx, or --text-model');
  const tokenizer = await loadTokenizer(await findTokenizer(textModel, plan.companions.tokenizer));
  const text = await openModel(target, textModel, threads);
  const timing: PipelineTiming = { inferenceMs: 0 };
  /** Text embeddings per (hypothesis, labels): the text tower runs once per label set. */
  const textCache = new Map<string, Float32Array[]>();
  const textEmbeddings = async (labels: readonly string[], hypothesis: string): Promise<Float32Array[]> => {
    const key = JSON.stringify([hypothesis, labels]);
    const hit = textCache.get(key);
    if (hit) return hit;
    const sentences = labels.map((l) => hypothesis.replace('{}', l));
    const idsSpec = text.inputs.find((i) => i.name === 'input_ids');
    if (!idsSpec) throw new UsageError(`the text tower takes no input_ids (${text.inputs.map((i) => i.name).join(', ')})`);
    const fixed = typeof idsSpec.shape[1] === 'number' && idsSpec.shape[1] > 0 ? idsSpec.shape[1] : undefined;
    const enc = sentences.map((t) => tokenizer.encode(t).ids);
    const len = fixed ?? Math.max(...enc.map((e) => e.length));
    if (enc.some((e) => e.length > len)) throw new UsageError(`a label is longer than the text tower's ${len} tokens`);
    const ids = new BigInt64Array(enc.length * len).fill(BigInt(tokenizer.padId));
    const mask = new BigInt64Array(enc.length * len);
    enc.forEach((e, r) => e.forEach((v, c) => ((ids[r * len + c] = BigInt(v)), (mask[r * len + c] = 1n))));
    const feeds: Record<string, HostTensor> = { input_ids: { type: 'int64', dims: [enc.length, len], data: ids } };
    if (text.inputs.some((i) => i.name === 'attention_mask')) feeds['attention_mask'] = { type: 'int64', dims: [enc.length, len], data: mask };
    const r0 = performance.now();
    const rows = embeddingRows(await text.run(feeds), 'text_embeds');
    timing.inferenceMs += performance.now() - r0;
    textCache.set(key, rows);
    return rows;
  };
  let input: ReturnType<typeof imageInput>;
  try {
    input = imageInput(vision, 'zero-shot-image-classification');
  } catch (err) {
    await text.dispose();
    throw err;
  }
  const side = plan.size ?? 224;
  const width = input.width || side;
  const height = input.height || side;
  const prep = { width, height, layout: input.layout, mean: plan.preprocess?.mean ?? CLIP_MEAN, std: plan.preprocess?.std ?? CLIP_STD, resizeRatio: 1 };
  return {
    task: 'zero-shot-image-classification',
    sessions: [vision, text],
    sessionMs,
    timing,
    async run(x, o = {}) {
      const labels = checkCandidates(o.candidates ?? plan.candidates);
      const textEmb = await textEmbeddings(labels, o.hypothesis ?? 'a photo of {}.');
      const data = isDecoded(x) ? checkDecoded(x, width, height) : await imageBytesToTensor(x, prep, o.name);
      const v0 = performance.now();
      const out = await vision.run({ [input.spec.name]: { type: 'float32', dims: imageDims(input.layout, 1, width, height), data } });
      timing.inferenceMs += performance.now() - v0;
      const img = embeddingRows(out, 'image_embeds')[0]!;
      if (img.length !== textEmb[0]!.length) throw new UsageError(`the towers disagree: image embeddings have ${img.length} dims, text ${textEmb[0]!.length}`);
      const sims = textEmb.map((t) => t.reduce((acc, v, k) => acc + v * img[k]!, 0));
      const probs = softmax(Float32Array.from(sims, (v) => 100 * v)); // CLIP's learned logit scale, exp(4.6052) = 100
      return { scores: labels.map((label, k) => ({ label, probability: probs[k]!, similarity: sims[k]! })).sort((a, b) => b.probability - a.probability) };
    },
    async dispose() {
      await text.dispose();
      await vision.dispose();
    },
  };
}
