// exact_usearch.mjs - usearch's exactSearch (brute force) as the exact
// top-k peer of bench_vec_exact, through its Node binding, one thread.
//
//   node bench/vec/exact_usearch.mjs DATA_DIR [--k 10] [--single 20]
//        [--batch 64] [--rounds 5] [--metric ip|cos|l2sq] [--json FILE]
//
// DATA_DIR holds base.f32 and queries.f32 (vec_datagen; dim from
// meta.json). usearch comes from bench/vec/peers/node_modules (run.sh
// installs it). exactSearch ignores a TypedArray's byteOffset, so every
// query is passed as its own slice() copy, made before timing.
// Benchmark script, not part of the library.
import { createRequire } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, 'peers', 'package.json'));
const usearch = require('usearch');
// the package's "exports" hide package.json: read it from its folder
const usearchVersion = JSON.parse(readFileSync(
    path.join(here, 'peers', 'node_modules', 'usearch', 'package.json'), 'utf8')).version;

const args = process.argv.slice(2);
const dir = args[0];
const opt = (name, def) => {
    const i = args.indexOf('--' + name);
    return i >= 0 ? args[i + 1] : def;
};
const k = Number(opt('k', 10));
const nsingle = Number(opt('single', 20));
const nbatch = Number(opt('batch', 64));
const rounds = Number(opt('rounds', 5));
const metric = opt('metric', 'ip');
const jsonPath = opt('json', null);

const meta = JSON.parse(readFileSync(path.join(dir, 'meta.json'), 'utf8'));
const dim = meta.dim;
const readF32 = (f) => {
    const b = readFileSync(path.join(dir, f));
    // a fresh, zero-offset Float32Array (see the byteOffset note above)
    const out = new Float32Array(b.length / 4);
    new Uint8Array(out.buffer).set(b);
    return out;
};
const base = readF32('base.f32');
const queries = readF32('queries.f32');
const n = base.length / dim;
const single = [];
for (let q = 0; q < nsingle; q++) single.push(queries.slice(q * dim, (q + 1) * dim));
const batch = queries.slice(0, nbatch * dim);

const now = () => Number(process.hrtime.bigint()) / 1e9;
const median = (v) => {
    const s = [...v].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

// warm-up (also loads the native module's code paths)
usearch.exactSearch(base, single[0], dim, k, metric, 1);
const sq = [], bq = [];
let firstKeys = null;
for (let r = 0; r < rounds; r++) {
    let t0 = now();
    for (let q = 0; q < nsingle; q++) {
        const res = usearch.exactSearch(base, single[q], dim, k, metric, 1);
        if (q === 0) firstKeys = res.keys;
    }
    sq.push(nsingle / (now() - t0));
    t0 = now();
    usearch.exactSearch(base, batch, dim, k, metric, 1);
    bq.push(nbatch / (now() - t0));
}
const out = {
    bench: 'exact_peer', peer: 'usearch', version: usearchVersion, node: process.version, n, dim, k,
    metric, threads: 1, rounds, single_queries: nsingle, batch: nbatch,
    single_qps_best: Math.max(...sq), single_qps_median: median(sq),
    batch_qps_best: Math.max(...bq), batch_qps_median: median(bq),
    first_query_keys: Array.from(firstKeys, Number),
};
console.log(`usearch ${usearchVersion} exactSearch (node ${process.version}, 1 thread): ` +
    `single ${out.single_qps_best.toFixed(2)} (${out.single_qps_median.toFixed(2)}) QPS, ` +
    `batch ${nbatch} ${out.batch_qps_best.toFixed(2)} (${out.batch_qps_median.toFixed(2)}) QPS`);
if (jsonPath) writeFileSync(jsonPath, JSON.stringify(out) + '\n');
