/** Priorities, per-level policies, per-client fair share and deadline dropping, on a manual clock. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RequestScheduler, clientFrom, priorityFrom, type SchedulerPolicy } from '../../src/core/serve/scheduler.js';

const policy = (over: Partial<SchedulerPolicy> = {}): SchedulerPolicy => ({ levels: 3, defaultLevel: 2, fallback: { maxQueue: 100, timeoutAction: 'reject' }, ...over });

function clocked(p: SchedulerPolicy): { s: RequestScheduler<string>; advance(ms: number): void } {
  let now = 0;
  return { s: new RequestScheduler<string>(p, () => now), advance: (ms) => (now += ms) };
}

const drain = (s: RequestScheduler<string>): string[] => {
  const out: string[] = [];
  for (let e = s.next().entry; e; e = s.next().entry) out.push(e.item);
  return out;
};

test('priority from the header or the request parameter; bad values are a 400', () => {
  const p = policy();
  assert.equal(priorityFrom({}, undefined, p), 2);
  assert.equal(priorityFrom({ 'aivmm-priority': '1' }, undefined, p), 1);
  assert.equal(priorityFrom({}, { priority: 3 }, p), 3);
  assert.equal(priorityFrom({ 'aivmm-priority': '1' }, { priority: 3 }, p), 1, 'the header wins');
  assert.equal(priorityFrom({}, { priority: 0 }, p), 2, '0 = the default, as in Triton');
  assert.throws(() => priorityFrom({ 'aivmm-priority': 'urgent' }, undefined, p), (e: Error & { status?: number }) => e.status === 400 && /invalid priority 'urgent'/.test(e.message));
  assert.throws(() => priorityFrom({}, { priority: 4 }, p), (e: Error & { hint?: string }) => /1 \(highest\) to 3/.test(e.hint ?? ''));
});

test('client id: the aivmm-client header, else a hash of the API key, else the address', () => {
  assert.equal(clientFrom({ 'aivmm-client': 'batch-job' }), 'client:batch-job');
  const k1 = clientFrom({ authorization: 'Bearer secret-1' });
  assert.match(k1, /^key:[0-9a-f]{12}$/);
  assert.notEqual(k1, clientFrom({ authorization: 'Bearer secret-2' }));
  assert.ok(!k1.includes('secret'), 'the key itself never becomes an id');
  assert.equal(clientFrom({}, '10.0.0.7'), 'addr:10.0.0.7');
});

test('levels are served strictly in order; FIFO within a client', () => {
  const { s } = clocked(policy());
  s.push('low-1', { priority: 3 });
  s.push('mid-1');
  s.push('high-1', { priority: 1 });
  s.push('low-2', { priority: 3 });
  s.push('high-2', { priority: 1 });
  assert.deepEqual(drain(s), ['high-1', 'high-2', 'mid-1', 'low-1', 'low-2']);
});

test('fair share: a flooding client does not starve another one at its level', () => {
  const { s } = clocked(policy());
  for (let i = 0; i < 50; i++) s.push(`flood-${i}`, { client: 'A' });
  s.push('b-0', { client: 'B' });
  s.push('b-1', { client: 'B' });
  const order = drain(s);
  assert.deepEqual(order.slice(0, 4), ['flood-0', 'b-0', 'flood-1', 'b-1'], 'clients take turns');
  assert.equal(order.length, 52);
  assert.equal(s.stats().perClient['B']?.dispatched, 2);
});

test('a full level refuses (503) — unless the newcomer holds less than the largest holder, who gives up its newest place', () => {
  const { s } = clocked(policy({ fallback: { maxQueue: 4, timeoutAction: 'reject' } }));
  for (let i = 0; i < 4; i++) s.push(`a-${i}`, { client: 'A' });
  assert.throws(() => s.push('a-4', { client: 'A' }), (e: Error & { status?: number }) => e.status === 503 && /queue is full/.test(e.message));
  const r = s.push('b-0', { client: 'B' });
  assert.equal(r.evicted?.entry.item, 'a-3');
  assert.match(r.evicted?.error.message ?? '', /fair share/);
  assert.equal(s.push('b-1', { client: 'B' }).evicted?.entry.item, 'a-2');
  // Now A holds 2, B holds 2: neither may take the other's place.
  assert.throws(() => s.push('b-2', { client: 'B' }), /queue is full/);
  assert.deepEqual(drain(s).sort(), ['a-0', 'a-1', 'b-0', 'b-1']);
  assert.equal(s.stats().perLevel[2]?.rejected, 4); // a-4 and b-2 refused, a-3 and a-2 evicted
  // Other levels have their own room.
  assert.doesNotThrow(() => s.push('high', { priority: 1, client: 'A' }));
});

test('level timeout with reject drops before compute (504); with delay the request is demoted behind everything', () => {
  const { s, advance } = clocked(policy({ perLevel: { 3: { timeoutMs: 100, timeoutAction: 'delay' }, 2: { timeoutMs: 50, timeoutAction: 'reject' } } }));
  s.push('mid-stale');
  s.push('low-delayed', { priority: 3 });
  advance(120);
  s.push('low-fresh', { priority: 3 });
  s.push('mid-fresh');
  const first = s.next();
  assert.deepEqual(first.dropped.map((d) => [d.entry.item, (d.error as Error & { status?: number }).status]), [['mid-stale', 504]]);
  assert.match(first.dropped[0]?.error.message ?? '', /past priority 2's timeout \(50 ms\)/);
  assert.equal(first.entry?.item, 'mid-fresh');
  assert.deepEqual(drain(s), ['low-fresh', 'low-delayed'], 'the delayed one runs only when nothing else waits');
  const st = s.stats().perLevel;
  assert.deepEqual([st[2]?.timedOut, st[3]?.delayed], [1, 1]);
});

test('a request past its own deadline is dropped before it is handed out, even when delayed', () => {
  const { s, advance } = clocked(policy({ perLevel: { 3: { timeoutMs: 10, timeoutAction: 'delay' } } }));
  s.push('soon', { deadline: 30 });
  s.push('later', { deadline: 1000 });
  s.push('low', { priority: 3, deadline: 60 });
  advance(40);
  const r = s.next();
  assert.deepEqual(r.dropped.map((d) => d.entry.item), ['soon']);
  assert.match(r.dropped[0]?.error.message ?? '', /passed its deadline after 40 ms/);
  assert.equal(r.entry?.item, 'later');
  advance(30); // 'low' was demoted at 40 ms and its deadline (60) has now passed too
  const r2 = s.next();
  assert.deepEqual([r2.entry, r2.dropped.map((d) => d.entry.item)], [undefined, ['low']]);
  assert.equal(s.size, 0);
});

test('remove: a client that went away takes its entry out', () => {
  const { s } = clocked(policy());
  const { entry } = s.push('gone', { client: 'A' });
  s.push('stays', { client: 'B' });
  assert.equal(s.remove(entry), true);
  assert.equal(s.remove(entry), false);
  assert.deepEqual(drain(s), ['stays']);
});

test('wouldRefuse() agrees with push() (full level, fair-share places) and counts nothing; refuse() counts', () => {
  const { s } = clocked(policy({ perLevel: { 2: { maxQueue: 3 } } }));
  s.push('a1', { priority: 2, client: 'a' });
  s.push('a2', { priority: 2, client: 'a' });
  assert.equal(s.wouldRefuse(2, 'b'), false, 'room left');
  s.push('b1', { priority: 2, client: 'b' });
  // full: a holds 2, b holds 1 → b would take nothing (2 > 1 + 1 is false), a new client c would take a's newest
  assert.equal(s.wouldRefuse(2, 'a'), true);
  assert.equal(s.wouldRefuse(2, 'b'), true);
  assert.equal(s.wouldRefuse(2, 'c'), false, 'c holds 0, a holds 2: fair share evicts');
  assert.equal(s.wouldRefuse(1, 'a'), false, 'another level admits');
  assert.equal(s.wouldRefuse(undefined, 'a'), true, 'no priority: the default level (2)');
  assert.equal(s.wouldRefuse(7, 'a'), false, 'an invalid level is left to push() (its 400)');
  assert.equal(s.stats().perLevel[2]!.rejected, 0, 'asking counts nothing');
  assert.throws(() => s.push('a3', { priority: 2, client: 'a' }), /priority 2 queue is full \(3 waiting\)/);
  assert.doesNotThrow(() => s.push('c1', { priority: 2, client: 'c' }));
  const err = s.refuse(2);
  assert.match(err.message, /priority 2 queue is full \(3 waiting\)/);
  assert.equal((err as Error & { status?: number }).status, 503);
  assert.equal(s.stats().perLevel[2]!.rejected, 3, 'push refusal, the eviction, refuse()');
});

test('aheadOf(n): what a new request of level n waits behind (levels 1..n, not the delayed)', () => {
  const { s, advance } = clocked(policy({ perLevel: { 3: { timeoutMs: 10, timeoutAction: 'delay' } } }));
  s.push('h', { priority: 1 });
  s.push('m1', { priority: 2 });
  s.push('m2', { priority: 2 });
  s.push('l', { priority: 3 });
  assert.deepEqual([s.aheadOf(1), s.aheadOf(2), s.aheadOf(3)], [1, 3, 4]);
  advance(20);
  s.expire(); // l is demoted behind everything
  assert.deepEqual([s.aheadOf(3), s.size], [3, 4]);
});
