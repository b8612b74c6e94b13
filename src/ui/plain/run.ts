/** `aivmm run` as text: per image the top classes or the detections, then timing. */
import type { ClassificationResult, DetectionResult, EmbeddingResult, GenerationResult, RunReport, TranscriptResult, ZeroShotResult } from '../../core/tasks/index.js';
import { formatMs } from '../format/units.js';

export function renderRunPlain(r: RunReport): string {
  const lines: string[] = [];
  const many = r.results.length > 1;
  for (const res of r.results) {
    if (r.task === 'automatic-speech-recognition') {
      const t = res as TranscriptResult;
      lines.push(`${many ? `${t.input} ` : ''}[${t.language}, ${t.seconds} s] ${t.text}`);
    } else if (r.task === 'zero-shot-image-classification') {
      const z = res as ZeroShotResult;
      if (many) lines.push(`${z.input}:`);
      for (const sc of z.scores) lines.push(`${many ? '  ' : ''}${(sc.probability * 100).toFixed(1).padStart(5)}%  ${sc.label}  (cosine ${sc.similarity.toFixed(3)})`);
    } else if (r.task === 'text-generation') {
      // The text itself was streamed to stdout as it was generated.
      const g = res as GenerationResult;
      lines.push('', `(${g.tokens} tokens, ${g.finish === 'stop' ? 'end of answer' : g.finish === 'length' ? 'max tokens reached' : 'interrupted'}; prompt ${g.promptTokens} tokens in ${formatMs(g.prefillMs)}, then ${formatMs(g.decodeMsPerToken)}/token, ${g.tokensPerSec} tokens/s)`);
    } else if (r.task === 'sentence-embeddings') {
      const e = res as EmbeddingResult;
      const head = e.embedding.slice(0, 4).map((v) => v.toFixed(4)).join(', ');
      lines.push(`${JSON.stringify(e.input.length > 60 ? `${e.input.slice(0, 57)}...` : e.input)}: ${e.embedding.length} dims, ${e.tokens} tokens [${head}, …]`);
    } else if (r.task === 'image-classification') {
      const c = res as ClassificationResult;
      if (many) lines.push(`${c.input}:`);
      for (const t of c.top) lines.push(`${many ? '  ' : ''}${(t.probability * 100).toFixed(1).padStart(5)}%  ${t.label ?? `class ${t.index}`}${t.label ? ` (${t.index})` : ''}`);
    } else {
      const d = res as DetectionResult;
      lines.push(`${d.input}: ${d.detections.length} object${d.detections.length === 1 ? '' : 's'} (${d.width}×${d.height})${d.annotated ? ` → ${d.annotated}` : ''}`);
      for (const o of d.detections) lines.push(`  ${(o.score * 100).toFixed(1).padStart(5)}%  ${o.label ?? `class ${o.classId}`}  [${o.box.map((v) => Math.round(v)).join(', ')}]`);
    }
  }
  if (r.similarity) {
    lines.push('cosine similarity:');
    r.similarity.forEach((row, i) => lines.push(`  ${String(i + 1).padStart(2)}: ${row.map((v) => v.toFixed(3).padStart(6)).join(' ')}`));
  }
  const unit = r.task === 'sentence-embeddings' || r.task === 'text-generation' ? 'text' : r.task === 'automatic-speech-recognition' ? 'recording' : 'image';
  lines.push(`${r.model.name} · ${r.task}${r.taskSource === 'inferred' ? ' (from the model)' : ''} · ${r.device.id} ${r.device.backend} · ${r.inputs} ${unit}${r.inputs === 1 ? '' : 's'} · ${formatMs(r.timing.perImageMs)}/${unit} inference (batch ${r.timing.batch}), session ${formatMs(r.timing.sessionMs)}`);
  return `${lines.join('\n')}\n`;
}
