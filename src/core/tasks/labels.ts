/** Class names: the label sets shipped in catalog/labels (imagenet-1k, coco-80) or a user's text file (one name a line). */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NotFoundError } from '../errors.js';

const LABELS_DIR = fileURLToPath(new URL('../../../catalog/labels/', import.meta.url));
export const SHIPPED_LABELS: readonly string[] = ['imagenet-1k', 'coco-80'];

function parse(text: string): string[] {
  return text.split(/\r?\n/).filter((l) => l.trim() !== '' && !l.startsWith('#')).map((l) => l.trim());
}

/** `spec`: a shipped set's name (a catalog entry may say "imagenet-1k (…)"), or a path to a text file. */
export async function loadLabels(spec: string): Promise<string[]> {
  const shipped = SHIPPED_LABELS.find((n) => spec === n || spec.startsWith(`${n} `));
  const path = shipped ? join(LABELS_DIR, `${shipped}.txt`) : spec;
  try {
    return parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new NotFoundError(`labels ${spec} not found (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`, `give a text file with one class name a line, or one of: ${SHIPPED_LABELS.join(', ')}`);
  }
}
