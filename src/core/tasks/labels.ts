/** Class names: the label sets shipped in catalog/labels (imagenet-1k, coco-80) or a user's text file (one name a line). */
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NotFoundError, UsageError } from '../errors.js';

const LABELS_DIR = fileURLToPath(new URL('../../../catalog/labels/', import.meta.url));
export const SHIPPED_LABELS: readonly string[] = ['imagenet-1k', 'coco-80'];

function parse(text: string): string[] {
  return text.split(/\r?\n/).filter((l) => l.trim() !== '' && !l.startsWith('#')).map((l) => l.trim());
}

/** id2label of a transformers config.json beside the model (or up to two directories above it). */
async function id2label(modelPath: string): Promise<string[]> {
  let dir = dirname(modelPath);
  for (let i = 0; i < 3; i++) {
    try {
      const cfg = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as { id2label?: Record<string, string> };
      if (cfg.id2label) {
        const out: string[] = [];
        for (const [k, v] of Object.entries(cfg.id2label)) out[Number(k)] = v;
        return Array.from(out, (v, i) => v ?? `class ${i}`);
      }
    } catch {
      // not here
    }
    dir = dirname(dir);
  }
  throw new NotFoundError(`no config.json with id2label beside ${modelPath}`, 'give --labels');
}

/**
 * `spec`: a shipped set's name (a catalog entry may say "imagenet-1k (…)"), "config.json id2label" (the
 * model's transformers config), or a path to a text file.
 */
export async function loadLabels(spec: string, modelPath?: string): Promise<string[]> {
  if (spec.startsWith('config.json') && modelPath) return id2label(modelPath);
  const shipped = SHIPPED_LABELS.find((n) => spec === n || spec.startsWith(`${n} `));
  const path = shipped ? join(LABELS_DIR, `${shipped}.txt`) : spec;
  try {
    return parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new NotFoundError(`labels ${spec} not found (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`, `give a text file with one class name a line, or one of: ${SHIPPED_LABELS.join(', ')}`);
  }
}

/**
 * Labels against the model's head: the same count, or one fewer (TF-slim heads put "background" at 0).
 * Anything else names the wrong classes (coco-80 on a 1000-class head): a UsageError, not silently
 * wrong names.
 */
export function fitLabels(labels: readonly string[], classes: number, spec: string): string[] {
  if (labels.length === classes) return [...labels];
  if (labels.length + 1 === classes) return ['background', ...labels];
  throw new UsageError(`labels ${spec} name ${labels.length} classes; the model's head has ${classes}`, 'give the labels the model was trained with (--labels: a text file, one name a line, imagenet-1k or coco-80)');
}
