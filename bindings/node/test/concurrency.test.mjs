/*
 * concurrency.test.mjs - many concurrent calls on the libuv thread pool,
 * closing with calls in flight, garbage collection and process exit with
 * calls pending (in child processes), and use from a worker thread.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { cm, pkgDir, freshStore, email, tempDir } from './helpers.mjs';

test('200 concurrent exec calls all complete with the right results', async (t) => {
  const store = await freshStore(t);
  const writes = Array.from({ length: 100 }, (_, i) =>
    store.members.signup({ email: email(`c${i}-`), name: `Concurrent ${i}` }));
  const reads = Array.from({ length: 100 }, () => store.members.list({ limit: 5 }));
  assert.equal(store.pending, 200);
  const results = await Promise.all([...writes, ...reads]);
  const ids = results.slice(0, 100).map((r) => r.member.id);
  assert.equal(new Set(ids).size, 100, 'every signup got its own id');
  results.slice(100).forEach((r) => assert.ok(Array.isArray(r.items)));
  assert.equal(store.pending, 0);
  let all = [];
  let cursor;
  do {
    const page = await store.members.list({ limit: 100, ...(cursor ? { cursor } : {}) },
      { system: true });
    all = all.concat(page.items);
    cursor = page.next_cursor;
  } while (cursor);
  assert.equal(all.length, 100);
});

test('concurrent failures keep their own error detail', async (t) => {
  const store = await freshStore(t);
  const calls = [];
  for (let i = 0; i < 60; i++) {
    if (i % 3 === 0)
      calls.push(store.members.list({ limit: 1000 + i }).catch((e) => ['limit', e]));
    else if (i % 3 === 1)
      calls.push(store.members.signup({ email: `bad${i}`, name: 'x' }).catch((e) => ['email', e]));
    else
      calls.push(store.members.get({ member_id: 100000 + i }).catch((e) => ['nf', e]));
  }
  for (const [kind, e] of await Promise.all(calls)) {
    if (kind === 'nf') {
      assert.equal(e.code, 'CM_ENOTFOUND');
    } else {
      assert.equal(e.code, 'CM_EINVAL');
      assert.equal(e.field, kind);
    }
  }
});

test('close() waits for calls in flight and rejects new ones', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const store = await cm.open(`sqlite://${join(dir, 'close.db')}`);
  const inflight = Array.from({ length: 50 }, (_, i) =>
    store.members.signup({ email: email(`cl${i}-`), name: 'Closing' }));
  const closing = store.close();
  assert.equal(store.closed, true);
  assert.equal(store.close(), closing, 'a second close() returns the same promise');
  await assert.rejects(store.members.list({}), { code: 'CM_EMISUSE', message: /closing/ });
  const settled = await Promise.allSettled(inflight);
  assert.deepEqual(settled.map((s) => s.status), Array(50).fill('fulfilled'));
  await closing;
  assert.equal(store.pending, 0);
  await assert.rejects(store.exec('members.list', {}), { code: 'CM_EMISUSE', message: /closed/ });
  await store.close(); /* closing a closed store resolves */

  const reopened = await cm.open(`sqlite://${join(dir, 'close.db')}`);
  const list = await reopened.members.list({ limit: 100 }, { system: true });
  assert.equal(list.items.length, 50);
  await reopened.close();
});

function runChild(code) {
  const r = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', code], {
    env: { ...process.env, CM_NODE_PACKAGE_DIR: pkgDir }, encoding: 'utf8', timeout: 120000,
  });
  return r;
}

const childPrelude = `
import { createRequire } from 'node:module';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
const cm = createRequire(import.meta.url)(join(process.env.CM_NODE_PACKAGE_DIR, 'index.js'));
const dir = mkdtempSync(join(tmpdir(), 'cm-child-'));
`;

test('stores dropped without close() are freed by the garbage collector', () => {
  const r = runChild(`${childPrelude}
    for (let i = 0; i < 20; i++) {
      const s = cm.openSync('sqlite://' + join(dir, 'gc' + i + '.db'));
      await s.members.list({});
    }
    for (let i = 0; i < 5; i++) { globalThis.gc(); await new Promise((r) => setImmediate(r)); }
    console.log('gc-ok');`);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /gc-ok/);
});

test('process.exit() with calls in flight does not crash', () => {
  const r = runChild(`${childPrelude}
    const s = cm.openSync('sqlite://' + join(dir, 'exit.db'));
    for (let i = 0; i < 100; i++) s.members.signup({ email: 'x' + i + '@example.org', name: 'x' });
    s.close();
    console.log('exiting');
    process.exit(0);`);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.signal, null);
  assert.match(r.stdout, /exiting/);
});

test('the addon works in a worker thread', async () => {
  const { dir, cleanup } = tempDir();
  try {
    const w = new Worker(`
      const { parentPort, workerData } = require('node:worker_threads');
      const cm = require(workerData.pkg + '/index.js');
      (async () => {
        const s = await cm.open('sqlite://' + workerData.db);
        const r = await s.members.signup({ email: 'worker@example.org', name: 'Worker' });
        const e = await s.members.me({}).catch((err) => err.code);
        await s.close();
        parentPort.postMessage({ id: r.member.id, e });
      })().catch((err) => parentPort.postMessage({ err: String(err) }));
    `, { eval: true, workerData: { pkg: pkgDir, db: join(dir, 'w.db') } });
    const msg = await new Promise((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    });
    await w.terminate();
    assert.deepEqual(msg, { id: 1, e: 'CM_EAUTH' });
  } finally {
    cleanup();
  }
});
