// graphile.mjs - graphile-worker on PostgreSQL (DATABASE_URL), with its
// documented throughput tuning: local queue and batched completion.
import { run, makeWorkerUtils, Logger } from 'graphile-worker';

const logger = new Logger(() => () => {});
import { N, NSINGLE, NLAT, CONCURRENCY, now, sleep, pct, waitFor, report } from './common.mjs';

const connectionString = process.env.DATABASE_URL;
const utils = await makeWorkerUtils({ connectionString, logger });
await utils.migrate();
let t = now();
for (let i = 0; i < NSINGLE; i++) await utils.addJob('noop', { i });
const single = NSINGLE / ((now() - t) / 1000);
t = now();
for (let i = 0; i < N; i += 1000) {
  const jobs = [];
  for (let k = i; k < Math.min(N, i + 1000); k++) jobs.push({ identifier: 'noop', payload: { i: k } });
  await utils.addJobs(jobs);
}
const enqueue = N / ((now() - t) / 1000);

let done = 0;
const lat = [];
const preset = {
  worker: { connectionString, concurrentJobs: CONCURRENCY, pollInterval: 500,
    localQueue: { size: 500 }, completeJobBatchDelay: 0, failJobBatchDelay: 0 },
};
t = now();
const runner = await run({
  preset,
  logger,
  taskList: {
    noop: async () => { done++; },
    lat: async (p) => { lat.push(now() - p.t); },
  },
});
await waitFor(() => done >= N + NSINGLE);
const process_ = (N + NSINGLE) / ((now() - t) / 1000);
for (let i = 0; i < NLAT; i++) {
  await utils.addJob('lat', { t: now() });
  await sleep(2);
}
await waitFor(() => lat.length >= NLAT);
await runner.stop();
await utils.release();
report('graphile-worker', { enqueue_single_per_s: Math.round(single), enqueue_batch_per_s: Math.round(enqueue), process_per_s: Math.round(process_),
  latency_p50_ms: pct(lat, 0.5), latency_p99_ms: pct(lat, 0.99) });
process.exit(0);
