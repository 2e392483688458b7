// common.mjs - shared measurement helpers for the peer benchmarks. Every
// peer runs the same three measurements as bench/jobs/bench_jobs.c:
// single enqueue (one job per call), batched enqueue, processing with a
// no-op handler of the backlog both left (NSINGLE + N jobs, the same number
// as bench_jobs drains), and enqueue-to-start latency at 500 jobs/s.
// Results are printed as one JSON line.
export const N = Number(process.env.BENCH_JOBS_N || 20000);
export const NSINGLE = Number(process.env.BENCH_JOBS_SINGLE || 2000);
export const NLAT = Number(process.env.BENCH_JOBS_LAT || 1000);
export const CONCURRENCY = Number(process.env.BENCH_JOBS_THREADS || 4);

export const now = () => Number(process.hrtime.bigint() / 1000n) / 1000; // ms
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function pct(values, p) {
  const v = [...values].sort((a, b) => a - b);
  return v[Math.min(v.length - 1, Math.max(0, Math.ceil(p * v.length) - 1))];
}

export async function waitFor(pred, timeoutMs = 600000) {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error('timed out');
    await sleep(1);
  }
}

export function report(name, r) {
  console.log(JSON.stringify({ peer: name, ...r, n: N, n_single: NSINGLE, drained: N + NSINGLE,
    latency_jobs: NLAT, concurrency: CONCURRENCY }));
}
