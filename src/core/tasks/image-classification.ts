/** image-classification: resize the shorter side, centre-crop, normalise; softmax, top-k with labels. */
import { topK } from './classification.js';
import { describeSpec, type SpecDescription } from './preprocess.js';
import { fitLabels, loadLabels } from './labels.js';
import type { OpenBase, Pipeline } from './pipeline.js';
import { checkDecoded, imageDims, imageInput, isDecoded, planImageSpec, preprocessBytes, type ImageInput, type PipelineTiming } from './shared.js';
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
  /** What every encoded image goes through before the model (run --json `preprocessing`). */
  readonly preprocessing: SpecDescription;
  /** What the user should know about the results (e.g. labels assumed from the head's size). */
  readonly notices: readonly string[];
  /** Several images in one inference (one at a time when the model's batch is fixed). */
  runBatch(inputs: readonly ImageInput[], options?: ClassificationOptions & { names?: readonly string[] }, signal?: AbortSignal): Promise<ClassificationOutput[]>;
}

export async function openClassification({ session, sessionMs, plan }: OpenBase): Promise<ClassificationPipeline> {
  const input = imageInput(session, 'image-classification');
  const pre = plan.preprocess ?? {};
  const side = plan.size ?? pre.crop ?? 224;
  const width = input.width || side;
  const height = input.height || side;
  // The head's class count, when the model fixes it: labels must fit it; a bare 1000/1001-class head gets ImageNet's.
  const headDim = session.outputs[0]?.shape.at(-1);
  const head = typeof headDim === 'number' && headDim > 0 ? headDim : undefined;
  const notices: string[] = [];
  let labels = plan.labels ? await loadLabels(plan.labels, plan.model) : undefined;
  const fit = (l: readonly string[], classes: number): string[] | undefined => {
    try {
      return fitLabels(l, classes, plan.labels ?? '');
    } catch (err) {
      if (plan.labelsSource === 'default') return undefined;
      throw err;
    }
  };
  if (labels && head !== undefined) labels = fit(labels, head);
  else if (!labels && (head === 1000 || head === 1001)) {
    labels = fitLabels(await loadLabels('imagenet-1k'), head, 'imagenet-1k');
    notices.push(`labels: ImageNet-1k, assumed from the model's ${head}-class head (give --labels if it was trained on other classes)`);
  }
  const spec = await planImageSpec(plan, 'image-classification', input.layout, width, height);
  const timing: PipelineTiming = { inferenceMs: 0 };
  const plane = 3 * width * height;
  const runGroup = async (group: readonly ImageInput[], o: ClassificationOptions & { names?: readonly string[] }): Promise<ClassificationOutput[]> => {
    const data = new Float32Array(plane * group.length);
    for (const [k, x] of group.entries()) data.set(isDecoded(x) ? checkDecoded(x, width, height) : (await preprocessBytes(x, spec, o.names?.[k] ?? o.name)).data, k * plane);
    const r0 = performance.now();
    const out = await session.run({ [input.spec.name]: { type: 'float32', dims: imageDims(input.layout, group.length, width, height), data } });
    timing.inferenceMs += performance.now() - r0;
    const logits = out[session.outputs[0]!.name]!;
    const classes = logits.dims[logits.dims.length - 1] ?? 1;
    if (labels && head === undefined && labels.length !== classes) labels = fit(labels, classes);
    const values = logits.data as Float32Array;
    return group.map((_, k) => ({ top: topK(values.subarray(k * classes, (k + 1) * classes), o.topK ?? 5, labels) }));
  };
  const pipeline: ClassificationPipeline = {
    task: 'image-classification',
    sessions: [session],
    sessionMs,
    timing,
    dynamicBatch: input.dynamicBatch,
    preprocessing: describeSpec(spec),
    notices,
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
