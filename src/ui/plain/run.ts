/** `aivmm run` as text: per image the top classes or the detections, then timing. */
import type { ClassificationResult, DetectionResult, RunReport } from '../../core/tasks/index.js';
import { formatMs } from '../format/units.js';

export function renderRunPlain(r: RunReport): string {
  const lines: string[] = [];
  const many = r.results.length > 1;
  for (const res of r.results) {
    if (r.task === 'image-classification') {
      const c = res as ClassificationResult;
      if (many) lines.push(`${c.input}:`);
      for (const t of c.top) lines.push(`${many ? '  ' : ''}${(t.probability * 100).toFixed(1).padStart(5)}%  ${t.label ?? `class ${t.index}`}${t.label ? ` (${t.index})` : ''}`);
    } else {
      const d = res as DetectionResult;
      lines.push(`${d.input}: ${d.detections.length} object${d.detections.length === 1 ? '' : 's'} (${d.width}×${d.height})${d.annotated ? ` → ${d.annotated}` : ''}`);
      for (const o of d.detections) lines.push(`  ${(o.score * 100).toFixed(1).padStart(5)}%  ${o.label ?? `class ${o.classId}`}  [${o.box.map((v) => Math.round(v)).join(', ')}]`);
    }
  }
  lines.push(`${r.model.name} · ${r.task}${r.taskSource === 'inferred' ? ' (from the outputs)' : ''} · ${r.device.id} ${r.device.backend} · ${r.inputs} image${r.inputs === 1 ? '' : 's'} · ${formatMs(r.timing.perImageMs)}/image inference (batch ${r.timing.batch}), session ${formatMs(r.timing.sessionMs)}`);
  return `${lines.join('\n')}\n`;
}
