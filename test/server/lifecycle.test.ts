/**
 * Model repository and lifecycle over HTTP with real sessions: versions and the latest-N policy, the
 * repository API (index, load, unload), concurrent loads, hot reload while a client sends requests,
 * a failed reload keeping the old version, keep_alive, and repository escapes.
 */
import assert from 'node:assert/strict';
import { mkdir, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { postJson, seeded, startTestServer, tmp, TINY, MLP, writeVersion } from './helpers.js';

const tinyReq = { inputs: [{ name: 'input', shape: [1, 3, 32, 32], datatype: 'FP32', data: Array.from(seeded(3072)) }] };

test('repository: latest-N policy, index, load/unload, concurrent loads load once', async () => {
  const { dir, cleanup } = await tmp();
  try {
    await writeVersion(dir, 'tiny', 1, TINY);
    await writeVersion(dir, 'tiny', 2, TINY);
    await writeVersion(dir, 'mlp', 1, MLP);
    await mkdir(join(dir, 'tiny', '0')); // ignored: Triton skips versions starting with 0
    await mkdir(join(dir, 'tiny', 'latest')); // ignored: not numeric
    const t = await startTestServer({ repository: dir, defaults: { policy: { latest: 1 } } });
    try {
      let idx = await (await fetch(`${t.url}/v2/repository/index`)).json();
      assert.deepEqual(idx, [
        { name: 'mlp', version: '1', state: 'READY' },
        { name: 'tiny', version: '2', state: 'READY' },
      ]);
      let r = await postJson(`${t.url}/v2/models/tiny/infer`, tinyReq);
      assert.equal(r.json.model_version, '2');
      assert.equal((await postJson(`${t.url}/v2/models/tiny/versions/1/infer`, tinyReq)).status, 404);

      r = await postJson(`${t.url}/v2/repository/models/tiny/unload`, {});
      assert.equal(r.status, 200);
      assert.equal((await fetch(`${t.url}/v2/models/tiny/ready`)).status, 503);
      r = await postJson(`${t.url}/v2/models/tiny/infer`, tinyReq);
      assert.equal(r.status, 503);
      assert.match(r.json.error, /not loaded/);
      idx = await (await postJson(`${t.url}/v2/repository/index`, { ready: true })).json;
      assert.deepEqual(idx, [{ name: 'mlp', version: '1', state: 'READY' }]);

      const before = t.executor.loads;
      const loads = await Promise.all([1, 2, 3, 4].map(() => postJson(`${t.url}/v2/repository/models/tiny/load`, {})));
      assert.deepEqual(loads.map((l) => l.status), [200, 200, 200, 200]);
      assert.equal(t.executor.loads - before, 1, 'four concurrent loads of one model load it once');
      assert.equal((await postJson(`${t.url}/v2/models/tiny/infer`, tinyReq)).status, 200);

      // a model added to the repository appears in the index and loads through the API
      await writeVersion(dir, 'late', 1, MLP);
      idx = (await (await fetch(`${t.url}/v2/repository/index`)).json()) as { name: string; state: string }[];
      assert.ok((idx as { name: string }[]).some((e) => e.name === 'late'));
      assert.equal((await postJson(`${t.url}/v2/repository/models/late/load`, {})).status, 200);
      assert.equal((await fetch(`${t.url}/v2/models/late/ready`)).status, 200);
      assert.equal((await postJson(`${t.url}/v2/repository/models/ghost/load`, {})).status, 404);
      assert.equal((await postJson(`${t.url}/v2/repository/models/..%2F..%2Fetc/load`, {})).status, 400);
    } finally {
      await t.close();
    }
  } finally {
    await cleanup();
  }
});

test('repository: a symlink leading outside the repository is not served', async () => {
  const { dir, cleanup } = await tmp();
  const outside = await tmp();
  try {
    await writeVersion(outside.dir, 'secret', 1, MLP);
    await writeVersion(dir, 'ok', 1, MLP);
    await symlink(join(outside.dir, 'secret'), join(dir, 'secret'));
    await mkdir(join(dir, 'ok2', '1'), { recursive: true });
    await symlink(join(outside.dir, 'secret', '1', 'model.onnx'), join(dir, 'ok2', '1', 'model.onnx'));
    const t = await startTestServer({ repository: dir });
    try {
      const idx = (await (await fetch(`${t.url}/v2/repository/index`)).json()) as { name: string }[];
      assert.deepEqual(idx.map((e) => e.name), ['ok']);
    } finally {
      await t.close();
    }
  } finally {
    await cleanup();
    await outside.cleanup();
  }
});

test('hot reload while a client sends requests: new version, changed file, broken file — no failed request', async () => {
  const { dir, cleanup } = await tmp();
  try {
    await writeVersion(dir, 'tiny', 1, TINY);
    const t = await startTestServer({ repository: dir, server: { pollMs: 50 } });
    let stop = false;
    let client: Promise<void> = Promise.resolve();
    try {
      const versions = new Set<string>();
      const failures: string[] = [];
      let sent = 0;
      client = (async () => {
        while (!stop) {
          const r = await postJson(`${t.url}/v2/models/tiny/infer`, tinyReq);
          sent++;
          if (r.status !== 200) failures.push(`${r.status} ${JSON.stringify(r.json)}`);
          else versions.add(r.json.model_version);
        }
      })();
      const until = async (cond: () => boolean | Promise<boolean>, what: string): Promise<void> => {
        const t0 = Date.now();
        while (!(await cond())) {
          if (Date.now() - t0 > 15_000) throw new Error(`timed out waiting for ${what}`);
          await new Promise((r) => setTimeout(r, 30));
        }
      };
      await until(() => sent > 3, 'first requests');
      // 1) a new version appears: it loads beside version 1, traffic switches, version 1 unloads (latest 1)
      await writeVersion(dir, 'tiny', 2, TINY);
      await until(() => versions.has('2'), 'version 2 serving');
      await until(async () => JSON.stringify(await (await fetch(`${t.url}/v2/repository/index`)).json()).includes('"version":"1","state":"UNAVAILABLE"'), 'version 1 unloaded');
      // 2) the file of version 2 changes in place: reloaded beside itself
      const loads = t.executor.loads;
      const p = join(dir, 'tiny', '2', 'model.onnx');
      await writeFile(p, TINY);
      const later = new Date(Date.now() + 5000);
      await utimes(p, later, later);
      await until(() => t.executor.loads > loads, 'reload of version 2');
      const s0 = sent;
      await until(() => sent > s0 + 3, 'requests after the reload');
      // 3) a broken version 3: its load fails, version 2 keeps serving, the index says why
      await writeVersion(dir, 'tiny', 3, new Uint8Array([1, 2, 3, 4]));
      await until(async () => JSON.stringify(await (await fetch(`${t.url}/v2/repository/index`)).json()).includes('load failed'), 'the failure in the index');
      const s1 = sent;
      await until(() => sent > s1 + 3, 'requests after the failed load');
      stop = true;
      await client;
      assert.deepEqual(failures, []);
      assert.ok(versions.has('1') && versions.has('2'));
      assert.ok(!versions.has('3'));
      const idx = (await (await fetch(`${t.url}/v2/repository/index`)).json()) as { version: string; state: string; reason?: string }[];
      assert.equal(idx.find((e) => e.version === '3')?.state, 'UNAVAILABLE');
      assert.equal(idx.find((e) => e.version === '2')?.state, 'READY');
    } finally {
      stop = true;
      await client.catch(() => undefined);
      await t.close();
    }
  } finally {
    await cleanup();
  }
});

test('keep_alive: an idle model unloads, and the next request loads it again', async () => {
  const { dir, cleanup } = await tmp();
  try {
    await writeVersion(dir, 'mlp', 1, MLP);
    const t = await startTestServer({ repository: dir, defaults: { keepAliveMs: 150 } });
    try {
      const req = { inputs: [{ name: 'x', shape: [1, 16], datatype: 'FP32', data: Array.from(seeded(16)) }] };
      assert.equal((await postJson(`${t.url}/v2/models/mlp/infer`, req)).status, 200);
      const t0 = Date.now();
      while (t.registry.isReady('mlp') && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 50));
      const idx = (await (await fetch(`${t.url}/v2/repository/index`)).json()) as { state: string; reason?: string }[];
      assert.equal(idx[0]?.state, 'UNAVAILABLE');
      assert.match(idx[0]?.reason ?? '', /keep_alive/);
      const r = await postJson(`${t.url}/v2/models/mlp/infer`, req);
      assert.equal(r.status, 200);
      assert.ok(t.registry.isReady('mlp'));
    } finally {
      await t.close();
    }
  } finally {
    await cleanup();
  }
});
