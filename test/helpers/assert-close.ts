import assert from 'node:assert/strict';

/** Element-wise |a - b| <= atol + rtol * |b|, with the worst offender in the message. */
export function assertClose(a: ArrayLike<number>, b: ArrayLike<number>, { atol = 1e-5, rtol = 1e-4 } = {}): number {
  assert.equal(a.length, b.length, 'length');
  let worst = 0;
  let at = -1;
  for (let i = 0; i < a.length; i++) {
    const diff = Math.abs(Number(a[i]) - Number(b[i]));
    if (!(diff <= atol + rtol * Math.abs(Number(b[i])))) assert.fail(`element ${i}: ${a[i]} vs ${b[i]} (|diff| ${diff})`);
    if (diff > worst) [worst, at] = [diff, i];
  }
  return at < 0 ? 0 : worst;
}
