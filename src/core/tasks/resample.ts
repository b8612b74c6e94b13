/**
 * Resampling of 8-bit RGB images, written to give the same bytes as the two references vision models
 * are evaluated with:
 * - Pillow's `Image.resize` (libImaging/Resample.c, Pillow 9–11): a separable convolution whose kernel
 *   support grows with the downscale factor (so downscaling is antialiased), coefficients normalised
 *   per output pixel and held in 22-bit fixed point, a horizontal pass into an 8-bit image, then a
 *   vertical pass. torchvision's `Resize` on PIL images and transformers' (slow) image processors call
 *   exactly this. Nearest is Pillow's affine scale (ImagingScaleAffine, Geometry.c).
 * - OpenCV's `cv2.resize(..., INTER_LINEAR)` (imgproc/resize.cpp, 4.x), which ultralytics' letterbox
 *   uses: half-pixel centres, no antialiasing, 11-bit weights, the vertical pass as OpenCV's SIMD path
 *   computes it (each term `((S >> 4) * b) >> 16`, then `(sum + 2) >> 2`).
 * Both work on interleaved RGB (3 bytes a pixel) and can produce only a window of the output (the part
 * a centre crop keeps) with the same values as the full resize.
 */

export type PilFilter = 'nearest' | 'box' | 'bilinear' | 'hamming' | 'bicubic' | 'lanczos';

const PRECISION_BITS = 32 - 8 - 2;
const HALF = 1 << (PRECISION_BITS - 1);
const ONE = 1 << PRECISION_BITS;

function sinc(x: number): number {
  if (x === 0) return 1;
  const px = x * Math.PI;
  return Math.sin(px) / px;
}

/** The kernels and their support, as Resample.c defines them. */
const FILTERS: Record<Exclude<PilFilter, 'nearest'>, { support: number; f: (x: number) => number }> = {
  box: { support: 0.5, f: (x) => (x > -0.5 && x <= 0.5 ? 1 : 0) },
  bilinear: {
    support: 1,
    f: (x) => {
      const a = Math.abs(x);
      return a < 1 ? 1 - a : 0;
    },
  },
  hamming: {
    support: 1,
    f: (x) => {
      const a = Math.abs(x);
      if (a === 0) return 1;
      if (a >= 1) return 0;
      const px = a * Math.PI;
      return (Math.sin(px) / px) * (0.54 + 0.46 * Math.cos(px));
    },
  },
  bicubic: {
    support: 2,
    f: (x) => {
      const a = -0.5;
      const t = Math.abs(x);
      if (t < 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
      if (t < 2) return (((t - 5) * t + 8) * t - 4) * a;
      return 0;
    },
  },
  lanczos: { support: 3, f: (x) => (x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0) },
};

interface Coeffs {
  ksize: number;
  bounds: Int32Array; // [xmin, count] per output position
  weights: Int32Array; // ksize per output position, fixed point
}

/** precompute_coeffs + normalize_coeffs_8bpc for output positions [from, to). */
function coefficients(inSize: number, outSize: number, filter: (typeof FILTERS)[keyof typeof FILTERS], from: number, to: number): Coeffs {
  const scale = inSize / outSize;
  const filterscale = scale < 1 ? 1 : scale;
  const support = filter.support * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const n = to - from;
  const bounds = new Int32Array(n * 2);
  const weights = new Int32Array(n * ksize);
  const k = new Float64Array(ksize);
  const ss = 1 / filterscale;
  for (let i = 0; i < n; i++) {
    const xx = from + i;
    const center = (xx + 0.5) * scale;
    let ww = 0;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    for (let x = 0; x < xmax; x++) {
      const w = filter.f((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    for (let x = 0; x < xmax; x++) {
      const w = ww !== 0 ? k[x]! / ww : k[x]!;
      weights[i * ksize + x] = w < 0 ? Math.trunc(-0.5 + w * ONE) : Math.trunc(0.5 + w * ONE);
    }
    bounds[i * 2] = xmin;
    bounds[i * 2 + 1] = xmax;
  }
  return { ksize, bounds, weights };
}

function clip8(v: number): number {
  const x = v >> PRECISION_BITS;
  return x < 0 ? 0 : x > 255 ? 255 : x;
}

/** An output window: columns [x0, x1), rows [y0, y1) of the full resized image. */
export interface Window {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/**
 * Pillow's resize of an RGB image (sw×sh, 3 bytes a pixel) to dw×dh, returning only `win` (default: all)
 * as a (x1-x0)×(y1-y0) RGB image.
 */
export function resizePil(src: Uint8Array, sw: number, sh: number, dw: number, dh: number, filter: PilFilter, win: Window = { x0: 0, y0: 0, x1: dw, y1: dh }): Uint8Array {
  const ow = win.x1 - win.x0;
  const oh = win.y1 - win.y0;
  if (filter === 'nearest') return nearestPil(src, sw, sh, dw, dh, win);
  const f = FILTERS[filter];
  const needH = dw !== sw;
  const needV = dh !== sh;
  const cv = needV ? coefficients(sh, dh, f, win.y0, win.y1) : undefined;
  // Source rows the vertical pass reads.
  const yFirst = cv ? cv.bounds[0]! : win.y0;
  const yLast = cv ? cv.bounds[(oh - 1) * 2]! + cv.bounds[(oh - 1) * 2 + 1]! : win.y1;
  let rows: Uint8Array; // (yLast - yFirst) rows of ow pixels
  if (needH) {
    const ch = coefficients(sw, dw, f, win.x0, win.x1);
    rows = new Uint8Array((yLast - yFirst) * ow * 3);
    const { ksize, bounds, weights } = ch;
    for (let y = yFirst; y < yLast; y++) {
      const inRow = y * sw * 3;
      const outRow = (y - yFirst) * ow * 3;
      for (let xx = 0; xx < ow; xx++) {
        const xmin = bounds[xx * 2]!;
        const xmax = bounds[xx * 2 + 1]!;
        const kb = xx * ksize;
        let s0 = HALF;
        let s1 = HALF;
        let s2 = HALF;
        let p = inRow + xmin * 3;
        for (let x = 0; x < xmax; x++, p += 3) {
          const w = weights[kb + x]!;
          s0 += src[p]! * w;
          s1 += src[p + 1]! * w;
          s2 += src[p + 2]! * w;
        }
        const o = outRow + xx * 3;
        rows[o] = clip8(s0);
        rows[o + 1] = clip8(s1);
        rows[o + 2] = clip8(s2);
      }
    }
  } else {
    rows = new Uint8Array((yLast - yFirst) * ow * 3);
    for (let y = yFirst; y < yLast; y++) rows.set(src.subarray((y * sw + win.x0) * 3, (y * sw + win.x1) * 3), (y - yFirst) * ow * 3);
  }
  if (!cv) return rows;
  const out = new Uint8Array(ow * oh * 3);
  const { ksize, bounds, weights } = cv;
  const stride = ow * 3;
  for (let yy = 0; yy < oh; yy++) {
    const ymin = bounds[yy * 2]! - yFirst;
    const ymax = bounds[yy * 2 + 1]!;
    const kb = yy * ksize;
    const outRow = yy * stride;
    for (let i = 0; i < stride; i++) {
      let s = HALF;
      let p = ymin * stride + i;
      for (let y = 0; y < ymax; y++, p += stride) s += rows[p]! * weights[kb + y]!;
      out[outRow + i] = clip8(s);
    }
  }
  return out;
}

/** ImagingScaleAffine with NEAREST, as Image.resize(..., NEAREST) runs it. */
function nearestPil(src: Uint8Array, sw: number, sh: number, dw: number, dh: number, win: Window): Uint8Array {
  const ow = win.x1 - win.x0;
  const oh = win.y1 - win.y0;
  const coord = (v: number): number => (v < 0 ? -1 : Math.trunc(v));
  const ax = sw / dw;
  const ay = sh / dh;
  const xin = new Int32Array(dw);
  let xo = ax * 0.5;
  for (let x = 0; x < dw; x++, xo += ax) xin[x] = Math.min(sw - 1, Math.max(0, coord(xo)));
  const out = new Uint8Array(ow * oh * 3);
  let yo = ay * 0.5;
  for (let y = 0; y < win.y0; y++) yo += ay;
  for (let y = 0; y < oh; y++, yo += ay) {
    const sy = Math.min(sh - 1, Math.max(0, coord(yo)));
    for (let x = 0; x < ow; x++) {
      const s = (sy * sw + xin[x + win.x0]!) * 3;
      const o = (y * ow + x) * 3;
      out[o] = src[s]!;
      out[o + 1] = src[s + 1]!;
      out[o + 2] = src[s + 2]!;
    }
  }
  return out;
}

/** Round half to even, as cvRound / lrint and Python's round() do. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return (r - x === 0.5 && r % 2 !== 0 ? r - 1 : r) + 0; // + 0: no -0
}

/** cv2.resize(INTER_LINEAR) of an RGB image (and its 2× INTER_AREA shortcut). */
export function resizeCv2Linear(src: Uint8Array, sw: number, sh: number, dw: number, dh: number): Uint8Array {
  const cn = 3;
  const scaleX = 1 / (dw / sw);
  const scaleY = 1 / (dh / sh);
  const out = new Uint8Array(dw * dh * cn);
  if (scaleX === 2 && scaleY === 2) {
    // OpenCV switches INTER_LINEAR to INTER_AREA for an exact halving: the mean of each 2×2 block.
    for (let y = 0; y < dh; y++)
      for (let x = 0; x < dw; x++)
        for (let c = 0; c < cn; c++) {
          const a = ((2 * y) * sw + 2 * x) * cn + c;
          const b = a + sw * cn;
          out[(y * dw + x) * cn + c] = (src[a]! + src[a + cn]! + src[b]! + src[b + cn]! + 2) >> 2;
        }
    return out;
  }
  // Columns outside the image are clamped with their weight moved onto the edge; rows are not (OpenCV
  // clamps the row index instead and keeps both weights, which rounds differently in the vertical pass).
  const tables = (dsize: number, ssize: number, scale: number, clamp: boolean): { ofs: Int32Array; a0: Int32Array; a1: Int32Array } => {
    const ofs = new Int32Array(dsize);
    const a0 = new Int32Array(dsize);
    const a1 = new Int32Array(dsize);
    for (let d = 0; d < dsize; d++) {
      let fx = Math.fround((d + 0.5) * scale - 0.5);
      let sx = Math.floor(fx);
      fx = Math.fround(fx - sx);
      if (clamp && sx < 0) {
        fx = 0;
        sx = 0;
      }
      if (clamp && sx >= ssize - 1) {
        fx = 0;
        sx = ssize - 1;
      }
      ofs[d] = sx;
      a0[d] = roundHalfEven(Math.fround(Math.fround(1 - fx) * 2048));
      a1[d] = roundHalfEven(Math.fround(fx * 2048));
    }
    return { ofs, a0, a1 };
  };
  const tx = tables(dw, sw, scaleX, true);
  const ty = tables(dh, sh, scaleY, false);
  const row = (y: number): number => (y < 0 ? 0 : y >= sh ? sh - 1 : y);
  // Horizontal pass for every source row the vertical pass reads, into 32-bit sums (weights sum to 2048).
  const rowCache = new Map<number, Int32Array>();
  const hrow = (sy: number): Int32Array => {
    let r = rowCache.get(sy);
    if (r) return r;
    r = new Int32Array(dw * cn);
    const base = sy * sw * cn;
    for (let d = 0; d < dw; d++) {
      const s = tx.ofs[d]!;
      const s1 = Math.min(s + 1, sw - 1);
      for (let c = 0; c < cn; c++) r[d * cn + c] = src[base + s * cn + c]! * tx.a0[d]! + src[base + s1 * cn + c]! * tx.a1[d]!;
    }
    rowCache.set(sy, r);
    return r;
  };
  const n = dw * cn;
  for (let y = 0; y < dh; y++) {
    const s = ty.ofs[y]!;
    const r0 = hrow(row(s));
    const r1 = hrow(row(s + 1));
    const b0 = ty.a0[y]!;
    const b1 = ty.a1[y]!;
    for (let i = 0; i < n; i++) {
      const v = (((((r0[i]! >> 4) * b0) >> 16) + (((r1[i]! >> 4) * b1) >> 16) + 2) >> 2);
      out[y * n + i] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
    if (y > 1 && row(ty.ofs[y - 2]!) < row(s)) rowCache.delete(row(ty.ofs[y - 2]!));
  }
  return out;
}
