/** Run by test/hub/download.test.ts under `ulimit -f`: a download whose writes fail with EFBIG. Prints what it got. */
import { downloadFile } from '../../src/core/hub/download.js';
import { FakeHub, bytes, sha256 } from './hub-server.js';
const blob = bytes(3 * 1024 * 1024, 5);
const hub = new FakeHub();
hub.addRepo('org/big', { commits: { ['a'.repeat(40)]: { 'model.onnx': blob } }, refs: { main: 'a'.repeat(40) } });
await hub.start();
const retries: string[] = [];
try {
  await downloadFile({ url: `${hub.cdnUrl}/blob/${sha256(blob)}`, headers: {}, size: blob.length, etag: sha256(blob), dest: process.argv[2] ?? '/tmp/efbig.bin', connections: 1, chunkBytes: 1 << 20, timeoutMs: 5000, maxFailures: 3, backoffMs: 1, sleep: async () => undefined, writeBytes: 256 * 1024, onRetry: (w) => retries.push(w) });
  console.log(JSON.stringify({ code: null }));
} catch (err) {
  console.log(JSON.stringify({ code: (err as { code?: string }).code, retries: retries.length }));
}
await hub.stop();
