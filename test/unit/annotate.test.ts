/** The pure box drawing on RGBA pixels that `run -o` and the server's annotated PNG share. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { colorOf, drawDetections, textSize } from '../../src/core/tasks/annotate.js';

function grey(width: number, height: number): { data: Uint8Array; width: number; height: number } {
  return { data: new Uint8Array(width * height * 4).fill(100), width, height };
}
const px = (img: { data: Uint8Array; width: number }, x: number, y: number): number[] => [...img.data.subarray((y * img.width + x) * 4, (y * img.width + x) * 4 + 4)];

test('drawDetections: the border in the class colour inside the box, a label tab above it, nothing else touched', () => {
  const img = grey(200, 100);
  drawDetections(img, [{ box: [50, 40, 150, 90], classId: 1, text: 'dog 80%' }]);
  const c = [...colorOf(1), 255];
  assert.deepEqual(px(img, 50, 60), c);
  assert.deepEqual(px(img, 51, 60), c, 'stroke 2');
  assert.deepEqual(px(img, 52, 60), [100, 100, 100, 100], 'inside the border: untouched');
  assert.deepEqual(px(img, 149, 60), c);
  assert.deepEqual(px(img, 100, 89), c);
  assert.deepEqual(px(img, 100, 90), [100, 100, 100, 100], 'x2/y2 are exclusive');
  assert.deepEqual(px(img, 49, 60), [100, 100, 100, 100]);
  const tab = textSize('dog 80%', 1);
  assert.deepEqual(px(img, 50, 40 - tab.height - 2), c, 'the tab starts above the box');
  const changed = (x0: number, y0: number, x1: number, y1: number): number => {
    let n = 0;
    for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) if (px(img, x, y)[3] !== 100) n++;
    return n;
  };
  assert.ok(changed(50, 40 - tab.height - 2, 50 + tab.width + 2, 40) > 0);
  assert.equal(changed(0, 0, 200, 30), 0, 'above the tab: untouched');
  assert.equal(changed(0, 0, 48, 100), 0, 'left of the box: untouched');
  assert.equal(changed(152, 0, 200, 100), 0, 'right of the box: untouched');
  // Text pixels differ from the tab colour (class 1 is green: dark text).
  let text = 0;
  for (let y = 40 - tab.height - 1; y < 39; y++) for (let x = 51; x < 51 + tab.width; x++) if (px(img, x, y)[0] === 0) text++;
  assert.ok(text > 10, `${text} text pixels`);
});

test('drawDetections: boxes past the edges are clipped, a box at the top gets its tab inside, no boxes: no change', () => {
  const img = grey(40, 30);
  const before = img.data.slice();
  drawDetections(img, []);
  assert.deepEqual(img.data, before);
  drawDetections(img, [{ box: [-10, -5, 60.4, 50], classId: 13, text: 'x' }]);
  assert.deepEqual(px(img, 0, 15), [...colorOf(1), 255], 'class 13 wraps to colour 1');
  assert.deepEqual(px(img, 39, 15), [...colorOf(1), 255]);
  assert.throws(() => drawDetections({ data: new Uint8Array(10), width: 4, height: 4 }, []), RangeError);
});
