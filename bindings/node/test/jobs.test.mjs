/*
 * jobs.test.mjs - the job queue and the scheduler with JavaScript handlers
 * (napi_threadsafe_function): results, retries, dead jobs, dedupe, closing
 * with handlers running or never settling, argument checks, teardown, and
 * which libuv the library's uv_* calls bind to inside node.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { cm, pkgDir, freshStore, tempDir } from './helpers.mjs';

const sys = { system: true };
const hasJobs = typeof cm.Store.prototype.createScheduler === 'function';

/** A promise and its resolve function. */
function deferred() {
  let resolve;
  const promise = new Promise((r) => { resolve = r; });
  return { promise, resolve };
}

/** Poll jobs.get until the job reaches one of `states` (bounded: 200 tries). */
async function waitState(store, id, states) {
  for (let i = 0; i < 200; i++) {
    const j = await store.jobs.get({ job_id: id }, sys);
    if (states.includes(j.state))
      return j;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`job ${id} never reached ${states}`);
}

test('handlers run jobs; results, retries and dead jobs are recorded', { skip: !hasJobs }, async (t) => {
  const store = await freshStore(t);
  await store.defineJob('mail.send', { maxAttempts: 2, backoff: 'fixed', backoffMs: 1 });
  await store.defineJob('mail.bounce', { maxAttempts: 2, backoff: 'fixed', backoffMs: 1 });
  const sched = store.createScheduler({ threads: 2, pollMs: 10 });
  assert.equal(sched.state, 'new');
  const seen = [];
  sched.register('mail.send', async (job) => {
    seen.push({ id: job.id, kind: job.kind, queue: job.queue, attempt: job.attempt,
      max: job.maxAttempts, payload: job.payload, lost: job.lost() });
    if (job.payload.flaky && job.attempt === 1)
      throw new Error('try again');
    return { delivered: job.payload.to };
  });
  sched.register('mail.bounce', () => { throw new Error('always fails'); });
  sched.start();
  assert.equal(sched.state, 'started');

  const ok = await store.enqueue('mail.send', { to: 'ada' });
  const flaky = await store.enqueue('mail.send', { to: 'bob', flaky: true });
  const dead = await store.enqueue('mail.bounce', { to: 'eve' });
  sched.notify();
  const j1 = await waitState(store, ok, ['completed']);
  assert.deepEqual(j1.result, { delivered: 'ada' });
  const j2 = await waitState(store, flaky, ['completed']);
  assert.equal(j2.attempts, 2);
  assert.deepEqual(j2.result, { delivered: 'bob' });
  const j3 = await waitState(store, dead, ['dead']);
  assert.equal(j3.attempts, 2);

  const first = seen.find((s) => s.id === ok);
  assert.deepEqual(first, { id: ok, kind: 'mail.send', queue: 'default', attempt: 1, max: 2,
    payload: { to: 'ada' }, lost: null });
  /* The scheduler counts a job just after committing its final state, so
   * the counters may trail what jobs.get already shows (bounded wait). */
  let stats = sched.stats();
  for (let i = 0; i < 200 && stats.completed + stats.dead < 3; i++) {
    await new Promise((r) => setTimeout(r, 25));
    stats = sched.stats();
  }
  assert.equal(stats.completed, 2);
  assert.equal(stats.dead, 1);
  await sched.close();
  assert.equal(sched.state, 'closed');
  assert.throws(() => sched.stats(), { code: 'CM_EMISUSE' });
  const q = await store.jobStats();
  assert.equal(q.queues.default.running, 0);
});

test('enqueue options: dedupe keys and cancellation', { skip: !hasJobs }, async (t) => {
  const store = await freshStore(t);
  await store.defineJob('digest', {});
  const id = await store.enqueue('digest', { week: 1 }, { dedupeKey: 'week-1', delayMs: 3600000 });
  const err = await store.enqueue('digest', { week: 1 }, { dedupeKey: 'week-1' }).catch((e) => e);
  assert.equal(err.code, 'CM_EEXISTS');
  assert.equal(err.jobId, id);
  const j = await store.jobs.get({ job_id: id }, sys);
  assert.equal(j.state, 'delayed');
  await store.cancelJob(id);
  assert.equal((await store.jobs.get({ job_id: id }, sys)).state, 'cancelled');
  await assert.rejects(store.enqueue('no.such.kind', {}), { code: 'CM_EINVAL', field: 'kind' });
  await assert.rejects(store.cancelJob(987654), { code: 'CM_ENOTFOUND' });
});

test('store.close() closes a running scheduler first, even with a handler that never settles',
  { skip: !hasJobs }, async (t) => {
    const store = await freshStore(t);
    await store.defineJob('stuck', { maxAttempts: 1 });
    const sched = store.createScheduler({ threads: 1, pollMs: 10, drainMs: 50 });
    const started = deferred();
    sched.register('stuck', () => {
      started.resolve();
      return new Promise(() => {}); /* never settles */
    });
    sched.start();
    await store.enqueue('stuck', {});
    sched.notify();
    await started.promise;
    await store.close();
    assert.equal(sched.state, 'closed');
    assert.equal(store.closed, true);
    await sched.close(); /* already closed: resolves */
    assert.throws(() => store.createScheduler(), { code: 'CM_EMISUSE' });
  });

test('a scheduler that never started closes at once; GC of an idle one is safe',
  { skip: !hasJobs }, async (t) => {
    const store = await freshStore(t);
    const s1 = store.createScheduler();
    s1.register('x.y', () => 1);
    await s1.close();
    assert.equal(s1.state, 'closed');
    store.createScheduler(); /* dropped: its finalizer frees it */
    assert.equal(store.pending, 1, 'an open scheduler holds the store');
  });

test('scheduler argument checks', { skip: !hasJobs }, async (t) => {
  const store = await freshStore(t);
  const sched = store.createScheduler();
  assert.throws(() => sched.register('k', 'not a function'), { name: 'TypeError', message: /handler/ });
  assert.throws(() => sched.register(5, () => 1), { name: 'TypeError', message: /kind/ });
  assert.throws(() => store.createScheduler({ threads: 0 }), { name: 'RangeError', message: /options\.threads/ });
  assert.throws(() => store.createScheduler({ thread: 2 }), { name: 'TypeError', message: /unknown key 'thread'/ });
  assert.throws(() => store.createScheduler({ platformJobs: 'yes' }), { name: 'TypeError', message: /platformJobs/ });
  assert.throws(() => new cm.Scheduler(), { name: 'TypeError', message: /createScheduler/ });
  assert.throws(() => store.enqueue(1), { name: 'TypeError', message: /kind/ });
  assert.throws(() => store.enqueue('k', () => 1), { name: 'TypeError', message: /payload/ });
  assert.throws(() => store.enqueue('k', {}, { delayMs: -1 }), { name: 'RangeError', message: /options\.delayMs/ });
  assert.throws(() => store.defineJob('k', { backoff: 'linear' }), { name: 'RangeError', message: /options\.backoff/ });
  assert.throws(() => store.cancelJob('1'), { name: 'TypeError', message: /id/ });
  sched.register('k', () => 1);
  sched.start();
  assert.throws(() => sched.register('k2', () => 1), { code: 'CM_EMISUSE' });
  assert.throws(() => sched.start(), { code: 'CM_EMISUSE' });
  await sched.close();
});

const childPrelude = `
const cm = require(process.env.CM_NODE_PACKAGE_DIR + '/index.js');
const { mkdtempSync } = require('node:fs');
const { join } = require('node:path');
const dir = mkdtempSync(join(require('node:os').tmpdir(), 'cm-jobs-'));
`;

test('process.exit() with a handler waiting does not crash or hang', { skip: !hasJobs }, () => {
  const r = spawnSync(process.execPath, ['-e', `${childPrelude}
    (async () => {
      const s = await cm.open('sqlite://' + join(dir, 'j.db'));
      await s.defineJob('wait', {});
      const sched = s.createScheduler({ threads: 2, pollMs: 10 });
      sched.register('wait', () => { console.log('handler'); setTimeout(() => process.exit(0), 20); return new Promise(() => {}); });
      sched.start();
      await s.enqueue('wait', {});
      sched.notify();
    })();`], { env: { ...process.env, CM_NODE_PACKAGE_DIR: pkgDir }, encoding: 'utf8', timeout: 60000 });
  assert.equal(r.signal, null, r.stderr);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /handler/);
});

test("inside node, the library's uv_* calls bind to node's own libuv", { skip: !hasJobs }, (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(join(pkgDir, 'index.js'))})`],
    { env: { ...process.env, LD_DEBUG: 'bindings', LD_BIND_NOW: '1', LD_DEBUG_OUTPUT: join(dir, 'ld') },
      encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const log = readdirSync(dir).map((f) => readFileSync(join(dir, f), 'utf8')).join('\n');
  const lines = log.split('\n').filter((l) => /libcommunity\.so\.0 .*symbol `uv_/.test(l));
  if (!lines.length) {
    t.skip('libcommunity does not call libuv in this build');
    return;
  }
  /* "binding file <lib> [0] to <target> [0]: normal symbol `uv_mutex_lock'" */
  const targets = [...new Set(lines.map((l) => / to (\S+) \[/.exec(l)?.[1]))];
  const dyn = spawnSync('readelf', ['--dyn-syms', '-W', process.execPath],
    { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (/\buv_version\b/.test(dyn.stdout ?? '')) {
    /* node exports its bundled libuv: the library must use it, not a second copy. */
    assert.deepEqual(targets.map((p) => realpathSync(p)), [realpathSync(process.execPath)],
      `uv_* bound to ${targets.join(', ')}`);
  } else {
    /* node linked against the shared libuv: both use that one library. */
    assert.equal(targets.length, 1);
    assert.match(targets[0], /libuv\.so/);
  }
  t.diagnostic(`${lines.length} uv_* bindings, all to ${targets[0]}`);
});
