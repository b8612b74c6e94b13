/**
 * What `run` (and the server) will run, decided before anything loads: the task and where it came from
 * (a flag, the catalog or the embedded model's description, or inferred from the model's outputs once it
 * is open), the companion files (CLIP's text tower, Whisper's decoder), preprocessing and labels.
 */
import { readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { UsageError } from '../errors.js';
import type { CatalogEntry } from '../hub/catalog.js';
import { TASKS, type Preprocess, type TaskName } from './types.js';

export interface TaskPlan {
  /** Undefined when `taskSource` is 'inferred': the pipeline decides from the model's outputs when it opens it. */
  task: TaskName | undefined;
  taskSource: 'flag' | 'catalog' | 'inferred';
  /** The model the task's main session opens (CLIP: the vision tower; Whisper: the encoder). */
  model: string;
  modelName: string;
  companions: { textModel?: string; decoderModel?: string; tokenizer?: string };
  preprocess?: Preprocess;
  /** A shipped label set (imagenet-1k, coco-80) or a text file (classification, detection). */
  labels?: string;
  /** Where `labels` came from: --labels, the catalog, or a default that is dropped when it does not fit the head. */
  labelsSource?: 'flag' | 'catalog' | 'default';
  /** zero-shot-image-classification: the candidate labels (from --labels: a list or a file). */
  candidates?: string[];
  /** Input side for models with dynamic height/width. */
  size?: number;
}

/** The task a model argument names before it is resolved: the flag, else the catalog's, else the embedded model's. */
export function taskFor(a: { task?: TaskName; catalogEntry?: Pick<CatalogEntry, 'task'>; embeddedTask?: string; name: string }): { task: TaskName | undefined; taskSource: TaskPlan['taskSource']; multiFile: boolean } {
  const catalogTask = a.catalogEntry?.task ?? a.embeddedTask;
  if (!a.task && catalogTask && !TASKS.includes(catalogTask as TaskName)) throw new UsageError(`${a.name} is a ${catalogTask} model; aivmm run does not do ${catalogTask} yet`, `built: ${TASKS.join(', ')}`);
  const task = a.task ?? (catalogTask as TaskName | undefined);
  const taskSource = a.task ? 'flag' : task ? 'catalog' : 'inferred';
  // CLIP and Whisper are two ONNX files: the model argument names a directory or repo holding both.
  return { task, taskSource, multiFile: task === 'zero-shot-image-classification' || task === 'automatic-speech-recognition' };
}

/** Candidate labels: a text file (one a line) or a comma-separated list. */
export async function candidateLabels(spec: string): Promise<string[]> {
  const st = await stat(spec).catch(() => undefined);
  const items = st?.isFile() ? (await readFile(spec, 'utf8')).split(/\r?\n/) : spec.split(',');
  return items.map((l) => l.trim()).filter(Boolean);
}

export interface PlanArgs {
  /** The resolved local path of the model (a file). */
  model: string;
  /** Every ONNX file the model argument resolved to (a directory or repo with several). */
  files?: readonly string[];
  modelName: string;
  task?: TaskName;
  catalogEntry?: CatalogEntry;
  /** The embedded model's task, when the name is one (its labels are ImageNet's). */
  embedded?: { task: string };
  flags?: { size?: number; labels?: string; mean?: readonly number[]; std?: readonly number[]; textModel?: string; decoderModel?: string; tokenizer?: string };
}

export async function planTask(a: PlanArgs): Promise<TaskPlan> {
  const f = a.flags ?? {};
  const { task, taskSource } = taskFor({ ...(a.task ? { task: a.task } : {}), ...(a.catalogEntry ? { catalogEntry: a.catalogEntry } : {}), ...(a.embedded ? { embeddedTask: a.embedded.task } : {}), name: a.modelName });
  const pre = (a.catalogEntry?.preprocess ?? {}) as Preprocess;
  const preprocess: Preprocess = { ...pre, ...(f.mean ? { mean: f.mean } : {}), ...(f.std ? { std: f.std } : {}) };
  const files = a.files ?? [a.model];
  const plan: TaskPlan = { task, taskSource, model: a.model, modelName: a.modelName, companions: f.tokenizer ? { tokenizer: f.tokenizer } : {}, preprocess, ...(f.size ? { size: f.size } : {}) };
  if (task === 'zero-shot-image-classification') {
    // CLIP: the model is the vision tower; the text tower comes from --text-model or beside it.
    plan.model = files.find((x) => /vision/i.test(x)) ?? a.model;
    const textModel = f.textModel ? resolve(f.textModel) : files.find((x) => /text/i.test(x));
    if (textModel) plan.companions.textModel = textModel;
    if (f.labels) plan.candidates = await candidateLabels(f.labels);
  } else if (task === 'automatic-speech-recognition') {
    // Whisper: the model is the encoder; the decoder comes from --decoder-model or beside it.
    plan.model = files.find((x) => /encoder/i.test(x)) ?? a.model;
    const decoderModel = f.decoderModel ? resolve(f.decoderModel) : files.find((x) => /decoder_model_merged/i.test(x)) ?? files.find((x) => /decoder/i.test(x));
    if (decoderModel) plan.companions.decoderModel = decoderModel;
  } else if (task !== 'sentence-embeddings' && task !== 'text-generation') {
    const labels = f.labels ?? a.catalogEntry?.labels ?? (a.embedded ? 'imagenet-1k' : undefined);
    if (labels) {
      plan.labels = labels;
      // A default (the embedded models' ImageNet names) that does not fit the head is dropped, not refused.
      plan.labelsSource = f.labels ? 'flag' : a.catalogEntry?.labels ? 'catalog' : 'default';
    }
  }
  return plan;
}
