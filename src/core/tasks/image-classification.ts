/** image-classification: resize the shorter side, centre-crop, normalise; softmax, top-k with labels. */
import { topK } from './classification.js';
import { IMAGENET_MEAN, IMAGENET_STD } from './image.js';
import { loadLabels } from './labels.js';
import type { OpenBase, Pipeline } from './pipeline.js';
import { checkDecoded, imageBytesToTensor, imageDims, imageInput, isDecoded, type ImageInput, type PipelineTiming } from './shared.js';
import type { ClassificationResult } from './types.js';

export interface ClassificationOptions {
  /** Classes returned per image (default 5). */
  topK?: number;
  /** What to call the input in messages. */
  name?: string;
}

export type ClassificationOutput = Omit<ClassificationResult, 'input'>;

export interface ClassificationPipeline extends Pipeline<ImageInput, ClassificationOutput, ClassificationOptions> {
  readonly task: 'image-classification';
  /** The model takes several images per inference (its batch dimension is symbolic). */
  readonly dynamicBatch: boolean;
  /** Several images in one inference (one at a time when the model's batch is fixed). */
  runBatch(inputs: readonly ImageInput[], options?: ClassificationOptions & { names?: readonly string[] }, signal?: AbortSignal): Promise<ClassificationOutput[]>;
}

export async function openClassification({ session, sessionMs, plan }: OpenBase): Promise<ClassificationPipeline> {
  const input = imageInput(session, 'image-classification');
  const pre = plan.preprocess ?? {};
  const side = plan.size ?? pre.crop ?? 224;
  const width = input.width || side;
  const height = input.height || side;
  const labels = plan.labels ? await loadLabels(plan.labels, plan.model) : undefined;
  const prep = { width, height, layout: input.layout, mean: pre.mean ?? IMAGENET_MEAN, std: pre.std ?? IMAGENET_STD, resizeRatio: pre.resize && pre.crop ? pre.resize / pre.crop : 256 / 224 };
  const timing: PipelineTiming = { inferenceMs: 0 };
  const plane = 3 * width * height;
  const runGroup = async (group: readonly ImageInput[], o: ClassificationOptions & { names?: readonly string[] }): Promise<ClassificationOutput[]> => {
    const data = new Float32Array(plane * group.length);
    for (const [k, x] of group.entries()) data.set(isDecoded(x) ? checkDecoded(x, width, height) : await imageBytesToTensor(x, prep, o.names?.[k] ?? o.name), k * plane);
    const r0 = performance.now();
    const out = await session.run({ [input.spec.name]: { type: 'float32', dims: imageDims(input.layout, group.length, width, height), data } });
    timing.inferenceMs += performance.now() - r0;
    const logits = out[session.outputs[0]!.name]!;
    const classes = logits.dims[logits.dims.length - 1] ?? 1;
    const values = logits.data as Float32Array;
    return group.map((_, k) => ({ top: topK(values.subarray(k * classes, (k + 1) * classes), o.topK ?? 5, labels) }));
  };
  const pipeline: ClassificationPipeline = {
    task: 'image-classification',
    sessions: [session],
    sessionMs,
    timing,
    dynamicBatch: input.dynamicBatch,
    async run(x, o = {}) {
      return (await runGroup([x], o))[0]!;
    },
    async runBatch(xs, o = {}, signal) {
      const out: ClassificationOutput[] = [];
      const step = input.dynamicBatch ? Math.max(1, xs.length) : 1;
      for (let i = 0; i < xs.length && !signal?.aborted; i += step) out.push(...(await runGroup(xs.slice(i, i + step), { ...o, ...(o.names ? { names: o.names.slice(i, i + step) } : {}) })));
      return out;
    },
    dispose: () => session.dispose(),
  };
  return pipeline;
}
