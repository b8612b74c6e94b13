/** `aivmm quantize` without a terminal: the report as aligned text lines. */
import type { QuantizeReport } from '../../core/quantize/index.js';
import { quantizeLines, quantizeTitle } from '../quantize-view.js';

export function renderQuantizePlain(r: QuantizeReport): string {
  const lines = quantizeLines(r);
  const width = Math.max(...lines.map((l) => l.label.length)) + 2;
  const out = [quantizeTitle(r), ...lines.map((l) => `${`${l.label}:`.padEnd(width)}${l.value}`)];
  for (const w of r.warnings) out.push(`warning: ${w}`);
  return `${out.join('\n')}\n`;
}
