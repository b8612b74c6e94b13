/**
 * A CLIP-shaped pair generated here: a vision tower (pixel_values [N,3,32,32] → image_embeds [N,4]) and a
 * text tower (input_ids → mean of a random embedding table: text_embeds [N,4]) over the tiny decoder's
 * word-level tokenizer. Written as a model folder (vision_model.onnx, text_model.onnx, tokenizer.json).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GraphBuilder } from '../../src/core/onnx/builder.js';
import { encodeModel } from '../../src/core/onnx/writer.js';
import { DECODER_TOKENIZER, DECODER_VOCAB } from './tiny-decoder.js';

export const CLIP_EMBED = 4;

export function tinyClipVision(): Uint8Array {
  const b = new GraphBuilder(21);
  const x = b.input({ name: 'pixel_values', dataType: 'float32', shape: ['N', 3, 32, 32] });
  const flat = b.op('Flatten', [b.op('GlobalAveragePool', [x])], [{ name: 'axis', type: 'int', value: 1 }]);
  b.gemm(flat, 3, CLIP_EMBED, 'image_embeds');
  b.output({ name: 'image_embeds', dataType: 'float32', shape: ['N', CLIP_EMBED] });
  return encodeModel({ graph: b.graph('vision') });
}

export function tinyClipText(): Uint8Array {
  const b = new GraphBuilder(22);
  const ids = b.input({ name: 'input_ids', dataType: 'int64', shape: ['N', 'S'] });
  const g = b.op('Gather', [b.constant('tok', [DECODER_VOCAB.length, CLIP_EMBED], b.normal(DECODER_VOCAB.length * CLIP_EMBED, 1)), ids]);
  b.op('ReduceMean', [g], [{ name: 'axes', type: 'ints', value: [1] }, { name: 'keepdims', type: 'int', value: 0 }], 'text_embeds');
  b.output({ name: 'text_embeds', dataType: 'float32', shape: ['N', CLIP_EMBED] });
  return encodeModel({ graph: b.graph('text') });
}

/** Writes the pair and its tokenizer into `dir`. */
export function writeTinyClip(dir: string): void {
  writeFileSync(join(dir, 'vision_model.onnx'), tinyClipVision());
  writeFileSync(join(dir, 'text_model.onnx'), tinyClipText());
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(DECODER_TOKENIZER));
}
