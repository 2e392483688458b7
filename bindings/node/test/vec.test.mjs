/*
 * vec.test.mjs - the typed vector calls: cosine/dot/l2sq on Float32Arrays
 * and topk() on the thread pool.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { cm } from './helpers.mjs';

const { vec } = cm;
const close = (a, b, eps = 1e-5) => assert.ok(Math.abs(a - b) <= eps, `${a} != ${b}`);

test('pairwise kernels', () => {
  const a = new Float32Array([1, 2, 3, 4, 5]);
  const b = new Float32Array([5, 4, 3, 2, 1]);
  close(vec.dot(a, b), 35);
  close(vec.l2sq(a, b), 40);
  close(vec.cosine(a, a), 1);
  close(vec.cosine(a, b), 35 / 55);
  close(vec.cosine(a, new Float32Array(5)), 0);
  close(vec.cosine(new Float32Array([1, 0]), new Float32Array([0, 1])), 0);
  /* A view with a byteOffset reads the right elements. */
  const buf = new Float32Array([9, 1, 2, 3, 4, 5]);
  close(vec.dot(buf.subarray(1), b), 35);
  assert.match(vec.impl(), /^(avx512|avx2|neon|scalar)$/);
});

test('pairwise kernels check their arguments', () => {
  assert.throws(() => vec.cosine([1, 2], [1, 2]), { name: 'TypeError', message: /a must be a Float32Array/ });
  assert.throws(() => vec.dot(new Float32Array(2), new Float64Array(2)), { name: 'TypeError', message: /b must/ });
  assert.throws(() => vec.l2sq(new Float32Array(2), new Float32Array(3)), RangeError);
});

test('topk finds the nearest rows', async () => {
  const dim = 3;
  const rows = new Float32Array([
    1, 0, 0,
    0, 1, 0,
    0, 0, 1,
    0.9, 0.1, 0,
  ]);
  const { ids, distances } = await vec.topk(rows, dim, new Float32Array([1, 0, 0]), 2);
  assert.ok(ids instanceof Int32Array);
  assert.ok(distances instanceof Float32Array);
  assert.deepEqual([...ids], [0, 3]);
  close(distances[0], 0);
  const l2 = await vec.topk(rows, dim, new Float32Array([0, 0, 1]), 1, { metric: 'l2' });
  assert.deepEqual([...l2.ids], [2]);
  const ip = await vec.topk(rows, dim, new Float32Array([0, 2, 0]), 1, { metric: 'ip' });
  assert.deepEqual([...ip.ids], [1]);
  close(ip.distances[0], -2);
});

test('topk errors', async () => {
  const rows = new Float32Array(6);
  assert.throws(() => vec.topk(rows, 4, new Float32Array(4), 1), RangeError);
  assert.throws(() => vec.topk(rows, 3, new Float32Array(2), 1), RangeError);
  assert.throws(() => vec.topk(rows, 3, new Float32Array(3), '1'), TypeError);
  assert.throws(() => vec.topk(rows, 3, new Float32Array(3), 1, { metric: 'hamming' }), RangeError);
  assert.throws(() => vec.topk(rows, 3, new Float32Array(3), 1, { k: 1 }), TypeError);
  await assert.rejects(vec.topk(rows, 3, new Float32Array(3), 5), { code: 'CM_ERANGE' });
  const nan = new Float32Array([NaN, 0, 0, 1, 1, 1]);
  await assert.rejects(vec.topk(nan, 3, new Float32Array(3), 1), { code: 'CM_EINVAL', field: 'rows' });
});
