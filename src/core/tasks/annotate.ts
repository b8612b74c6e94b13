/**
 * Detection boxes drawn on RGBA pixels: a border per box in its class's colour and a label tab (text in a
 * 3×5 bitmap font, scaled with the image) above it. Pure: no decoding, no encoding, no files — `aivmm run
 * -o` (image.ts, writes a PNG) and the server's `/v1/tasks/{model}?annotate=true` (returns one) decode
 * and encode around this same function, so the picture matches the JSON boxes either way.
 */

export interface RgbaImage {
  /** Interleaved RGBA, row-major, width × height × 4 bytes; drawn on in place. */
  data: Uint8Array;
  width: number;
  height: number;
}

export interface LabelledBox {
  /** x1, y1, x2, y2 in the image's pixels (as the detection pipeline reports them). */
  box: readonly number[];
  classId: number;
  text: string;
}

/** Twelve distinct colours (Sasha Trubetskoy's list), by class id modulo 12. */
export const PALETTE: readonly (readonly [number, number, number])[] = [
  [0xe6, 0x19, 0x4b], [0x3c, 0xb4, 0x4b], [0x43, 0x63, 0xd8], [0xf5, 0x82, 0x31], [0x91, 0x1e, 0xb4], [0x42, 0xd4, 0xf4],
  [0xf0, 0x32, 0xe6], [0xbf, 0xef, 0x45], [0xfa, 0xbe, 0xd4], [0x46, 0x99, 0x90], [0xdc, 0xbe, 0xff], [0x9a, 0x63, 0x24],
];

export function colorOf(classId: number): readonly [number, number, number] {
  return PALETTE[((classId % PALETTE.length) + PALETTE.length) % PALETTE.length]!;
}

// 3×5 glyphs, rows top to bottom; lower case is drawn as upper case, anything else as '?'.
const GLYPHS: Record<string, string> = {
  '0': '111101101101111', '1': '010110010010111', '2': '111001111100111', '3': '111001111001111', '4': '101101111001001',
  '5': '111100111001111', '6': '111100111101111', '7': '111001001001001', '8': '111101111101111', '9': '111101111001111',
  A: '010101111101101', B: '110101110101110', C: '011100100100011', D: '110101101101110', E: '111100110100111',
  F: '111100110100100', G: '011100101101011', H: '101101111101101', I: '111010010010111', J: '001001001101010',
  K: '101101110101101', L: '100100100100111', M: '101111111101101', N: '110101101101101', O: '010101101101010',
  P: '110101110100100', Q: '010101101110011', R: '110101110101101', S: '011100010001110', T: '111010010010010',
  U: '101101101101111', V: '101101101101010', W: '101101111111101', X: '101101010101101', Y: '101101010010010',
  Z: '111001010100111', '%': '101001010100101', '.': '000000000000010', ',': '000000000010100', '-': '000000111000000',
  _: '000000000000111', ':': '000010000010000', '/': '001001010100100', '(': '010100100100010', ')': '010001001001010',
  '#': '101111101111101', '+': '000010111010000', '=': '000111000111000', "'": '010010000000000', ' ': '000000000000000',
  '?': '111001010000010',
};

function fill(img: RgbaImage, x0: number, y0: number, x1: number, y1: number, rgb: readonly [number, number, number]): void {
  const xa = Math.max(0, Math.floor(x0));
  const ya = Math.max(0, Math.floor(y0));
  const xb = Math.min(img.width, Math.ceil(x1));
  const yb = Math.min(img.height, Math.ceil(y1));
  for (let y = ya; y < yb; y++) {
    for (let x = xa; x < xb; x++) {
      const i = (y * img.width + x) * 4;
      img.data[i] = rgb[0];
      img.data[i + 1] = rgb[1];
      img.data[i + 2] = rgb[2];
      img.data[i + 3] = 255;
    }
  }
}

/** Width and height in pixels of `text` at `scale` (each glyph 3 wide plus 1 of spacing, 5 tall). */
export function textSize(text: string, scale: number): { width: number; height: number } {
  return { width: Math.max(0, text.length * 4 - 1) * scale, height: 5 * scale };
}

function drawText(img: RgbaImage, text: string, x: number, y: number, scale: number, rgb: readonly [number, number, number]): void {
  let cx = x;
  for (const ch of text) {
    const g = GLYPHS[ch] ?? GLYPHS[ch.toUpperCase()] ?? GLYPHS['?']!;
    for (let r = 0; r < 5; r++) for (let c = 0; c < 3; c++) if (g[r * 3 + c] === '1') fill(img, cx + c * scale, y + r * scale, cx + (c + 1) * scale, y + (r + 1) * scale, rgb);
    cx += 4 * scale;
  }
}

/**
 * Draws each box's border (inside the box, `stroke` pixels: about 1/200 of the shorter image side, at
 * least 2) and a filled label tab with its text, above the box when there is room, else inside its top.
 * Boxes are clipped to the image (the border drawn on the edge they cross); an empty list leaves the
 * pixels as they were.
 */
export function drawDetections(img: RgbaImage, boxes: readonly LabelledBox[]): void {
  if (img.data.length !== img.width * img.height * 4) throw new RangeError(`RGBA data of ${img.data.length} bytes for ${img.width}×${img.height}`);
  const side = Math.min(img.width, img.height);
  const stroke = Math.max(2, Math.round(side / 200));
  const scale = Math.max(1, Math.round(side / 160));
  for (const { box, classId, text } of boxes) {
    // Clipped to the image first, so a box past an edge keeps its border on that edge.
    const [x1, y1, x2, y2] = [Math.max(0, Math.round(box[0] ?? 0)), Math.max(0, Math.round(box[1] ?? 0)), Math.min(img.width, Math.round(box[2] ?? 0)), Math.min(img.height, Math.round(box[3] ?? 0))];
    if (!(x2 > x1 && y2 > y1)) continue;
    const rgb = colorOf(classId);
    const t = Math.min(stroke, Math.ceil((x2 - x1) / 2), Math.ceil((y2 - y1) / 2));
    fill(img, x1, y1, x2, y1 + t, rgb);
    fill(img, x1, y2 - t, x2, y2, rgb);
    fill(img, x1, y1, x1 + t, y2, rgb);
    fill(img, x2 - t, y1, x2, y2, rgb);
    if (!text) continue;
    const size = textSize(text, scale);
    const pad = scale;
    const tabH = size.height + 2 * pad;
    const top = y1 - tabH >= 0 ? y1 - tabH : y1;
    const left = Math.max(0, Math.min(x1, img.width - size.width - 2 * pad));
    fill(img, left, top, left + size.width + 2 * pad, top + tabH, rgb);
    // Dark text on light colours, white on dark (relative luminance, Rec. 709 weights).
    const lum = 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2];
    drawText(img, text, left + pad, top + pad, scale, lum > 140 ? [0, 0, 0] : [255, 255, 255]);
  }
}

/** The label `run` prints and draws for a detection: "cat 90%", or "class 3 90%" without labels. */
export function detectionText(d: { label?: string; classId: number; score: number }): string {
  return `${d.label ?? `class ${d.classId}`} ${(d.score * 100).toFixed(0)}%`;
}
