// ann_peers.mjs - Node peers of vec_ann_bench: usearch (f32 and bf16) and
// hnswlib-node, installed in bench/vec/peers, on the data set written by
// `vec_ann_bench --data DIR`. Inner product on unit rows (= cosine).
//
//   node ann_peers.mjs --data DIR [--dim 384] [--threads 2] [--m 16]
//        [--efc 128] [--ef 10,16,...] [--lib usearch-f32,usearch-bf16,hnswlib-node]
//        [--min-time 1]
//
// usearch: add(keys, vectors, threads) builds in parallel; the ef sweep
// re-opens the saved index with each expansion_search (it is fixed at
// construction) and searches all queries in one batch call on 1 and on T
// threads. hnswlib-node: addPoint one row at a time (its API has no
// parallel insert), searchKnn one query at a time, setEf per sweep point.
// Prints the same "key=value" lines as vec_ann_bench. Benchmark tool.
import { readFileSync, rmSync, mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, dirname } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';

const peers = join(dirname(fileURLToPath(import.meta.url)), 'peers');
const require = createRequire(join(peers, 'x.js'));
const versionOf = (name) =>
  JSON.parse(readFileSync(join(peers, 'node_modules', name, 'package.json'), 'utf8')).version;
const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, v, i, a) => (i % 2 ? acc : [...acc, [a[i].replace(/^--/, ''), a[i + 1]]]), []),
);
const dir = args.data;
const dim = Number(args.dim ?? 384);
const threads = Number(args.threads ?? 2);
const M = Number(args.m ?? 16);
const efc = Number(args.efc ?? 128);
const minTime = Number(args['min-time'] ?? 1);
const efs = (args.ef ?? '10,16,20,24,32,40,48,64,80,96,128,160,200,256').split(',').map(Number);
const libs = (args.lib ?? 'usearch-f32,usearch-bf16,hnswlib-node').split(',');
const K = 10;

function f32(path) {
  const b = readFileSync(path);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}
const base = f32(join(dir, 'base.f32'));
const queries = f32(join(dir, 'queries.f32'));
const gtb = readFileSync(join(dir, 'gt.i32'));
const gt = new Int32Array(gtb.buffer.slice(gtb.byteOffset, gtb.byteOffset + gtb.byteLength));
const n = base.length / dim;
const nq = queries.length / dim;

const now = () => Number(process.hrtime.bigint()) / 1e9;
const rss = () => process.memoryUsage().rss;

function recall(got) {
  let hit = 0;
  for (let q = 0; q < nq; q++) {
    const truth = new Set(Array.from(gt.subarray(q * K, q * K + K)));
    for (let a = 0; a < K; a++) if (truth.has(Number(got[q * K + a]))) hit++;
  }
  return hit / (nq * K);
}

// QPS: the best of at least three passes over all queries lasting minTime
// in total (shared machines: the best pass is the least disturbed).
// cpuQps: the same from the process's CPU time (user + system, all
// threads), which leaves out time the scheduler gave to other processes.
let cpuQps = 0;
function timed(fn) {
  const start = now();
  let best = Infinity, cbest = Infinity;
  for (let trial = 0; trial < 3 || now() - start < minTime; trial++) {
    const t0 = now();
    const c0 = process.cpuUsage();
    fn();
    best = Math.min(best, now() - t0);
    const c = process.cpuUsage(c0);
    cbest = Math.min(cbest, (c.user + c.system) / 1e6);
  }
  cpuQps = nq / cbest;
  return nq / best;
}

function runUsearch(kind) {
  const usearch = require('usearch');
  const version = versionOf('usearch');
  const quant = kind === 'bf16' ? usearch.ScalarKind.BF16 : usearch.ScalarKind.F32;
  const mk = (ef) =>
    new usearch.Index({ dimensions: dim, metric: usearch.MetricKind.IP, quantization: quant,
      connectivity: M, expansion_add: efc, expansion_search: ef });
  const keys = new BigUint64Array(n);
  for (let i = 0; i < n; i++) keys[i] = BigInt(i);
  const r0 = rss();
  const ix = mk(64);
  const t0 = now();
  const c0 = process.cpuUsage();
  ix.add(keys, base, threads);
  const secs = now() - t0;
  const c = process.cpuUsage(c0);
  const r1 = rss();
  console.log(`build lib=usearch-${kind} version=${version} storage=${kind} threads=${threads} m=${M} ` +
    `efc=${efc} n=${n} secs=${secs.toFixed(2)} cpu_secs=${((c.user + c.system) / 1e6).toFixed(2)} ` +
    `rss_bytes_per_vec=${((r1 - r0) / n).toFixed(1)}`);
  const tmp = mkdtempSync(join(tmpdir(), 'ann-usearch-'));
  const path = join(tmp, 'index.usearch');
  ix.save(path);
  for (const ef of efs) {
    const s = mk(ef);
    s.load(path);
    let res;
    const qps1 = timed(() => { res = s.search(queries, K, 1); });
    const cpu1 = cpuQps;
    const rec = recall(res.keys);
    const qpsT = threads > 1 ? timed(() => { s.search(queries, K, threads); }) : 0;
    console.log(`sweep lib=usearch-${kind} storage=${kind} ef=${ef} recall=${rec.toFixed(4)} ` +
      `qps1=${qps1.toFixed(0)} cpu_qps1=${cpu1.toFixed(0)}` +
      (threads > 1 ? ` qps${threads}=${qpsT.toFixed(0)}` : ''));
  }
  rmSync(tmp, { recursive: true, force: true });
}

function runHnswlibNode() {
  const { HierarchicalNSW } = require('hnswlib-node');
  const version = versionOf('hnswlib-node');
  const ix = new HierarchicalNSW('ip', dim);
  const r0 = rss();
  ix.initIndex(n, M, efc, 100);
  const t0 = now();
  for (let i = 0; i < n; i++) ix.addPoint(Array.from(base.subarray(i * dim, (i + 1) * dim)), i);
  const secs = now() - t0;
  const r1 = rss();
  console.log(`build lib=hnswlib-node version=${version} storage=f32 threads=1 m=${M} efc=${efc} n=${n} ` +
    `secs=${secs.toFixed(2)} rss_bytes_per_vec=${((r1 - r0) / n).toFixed(1)}`);
  const qarr = [];
  for (let q = 0; q < nq; q++) qarr.push(Array.from(queries.subarray(q * dim, (q + 1) * dim)));
  for (const ef of efs) {
    ix.setEf(ef);
    const got = new Array(nq * K).fill(-1);
    const qps1 = timed(() => {
      for (let q = 0; q < nq; q++) {
        const r = ix.searchKnn(qarr[q], K);
        for (let a = 0; a < r.neighbors.length; a++) got[q * K + a] = r.neighbors[a];
      }
    });
    console.log(`sweep lib=hnswlib-node storage=f32 ef=${ef} recall=${recall(got).toFixed(4)} ` +
      `qps1=${qps1.toFixed(0)} cpu_qps1=${cpuQps.toFixed(0)}`);
  }
}

console.log(`peers node=${process.version} n=${n} nq=${nq} dim=${dim}`);
for (const lib of libs) {
  if (lib === 'usearch-f32') runUsearch('f32');
  else if (lib === 'usearch-bf16') runUsearch('bf16');
  else if (lib === 'hnswlib-node') runHnswlibNode();
}
