/**
 * One Ctrl-C helper for every long command (src/cli/interrupt.ts, #14/#15): pull, bench and quantize no
 * longer install their own SIGINT handlers that call process.exit; the second Ctrl-C still ends the
 * process at once, by letting go and re-raising the signal (status 130 in a shell).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { onInterrupt } from '../../src/cli/interrupt.js';
import { BIN } from '../helpers/run-cli.js';

const commands = fileURLToPath(new URL('../../src/cli/commands/', import.meta.url));
const dir = mkdtempSync(join(os.tmpdir(), 'aivmm-interrupt-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('reraise: the second signal lets go, then sends the signal again (the default action ends the process)', () => {
  const raised: string[] = [];
  const source = Object.assign(new EventEmitter(), { raise: (s: NodeJS.Signals) => raised.push(`${s}:${source.listenerCount(s)}`) });
  const i = onInterrupt({ source, reraise: true });
  source.emit('SIGINT');
  assert.ok(i.signal.aborted);
  assert.deepEqual(raised, []);
  source.emit('SIGINT');
  assert.ok(i.forced.aborted);
  assert.deepEqual(raised, ['SIGINT:0'], 're-raised once, after the listener was removed');
  const quiet = onInterrupt({ source });
  source.emit('SIGINT');
  source.emit('SIGINT');
  assert.ok(quiet.forced.aborted);
  assert.deepEqual(raised, ['SIGINT:0'], 'without reraise: nothing sent');
});

test('no command module handles signals itself or calls process.exit (the server helper\'s serve/ps aside)', () => {
  for (const f of readdirSync(commands).filter((f) => f.endsWith('.ts') && !['serve.ts', 'ps.ts'].includes(f))) {
    const src = readFileSync(join(commands, f), 'utf8');
    assert.ok(!/process\.(on|once)\(\s*'SIG/.test(src), `${f} installs its own signal handler`);
    assert.ok(!/process\.exit\(/.test(src), `${f} calls process.exit`);
  }
});

test('the real CLI: bench stops at the first Ctrl-C and ends at once at the second (SIGINT, 130 in a shell)', { timeout: 120_000 }, async () => {
  const child = spawn(process.execPath, [BIN, 'bench', 'tiny-convnet', '-d', 'CPU', '--duration', '120s', '--warmup', '0'], {
    env: { ...process.env, AIVMM_CACHE_DIR: join(dir, 'cache'), CI: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  child.stdout.resume();
  const closed = new Promise<[number | null, NodeJS.Signals | null]>((r) => child.on('close', (c, s) => r([c, s])));
  await new Promise((r) => setTimeout(r, 4000));
  child.kill('SIGINT');
  await new Promise((r) => setTimeout(r, 30));
  child.kill('SIGINT');
  const t0 = Date.now();
  const [code, signal] = await closed;
  assert.ok(signal === 'SIGINT' || code === 130, `ended by the second Ctrl-C: code ${String(code)} signal ${String(signal)}\n${stderr}`);
  assert.ok(Date.now() - t0 < 20_000, 'at once, not after the 120 s measurement');
  assert.match(stderr, /Ctrl-C again to quit at once/);
});
