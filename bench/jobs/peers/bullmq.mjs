// bullmq.mjs - BullMQ on redis-server (REDIS_URL, default redis://127.0.0.1:6390;
// BULLMQ_LABEL names the run, e.g. after the server's appendfsync policy).
// The latency's producer and worker share this Node process but not a
// connection: the worker is woken through redis-server, as across processes.
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { N, NSINGLE, NLAT, CONCURRENCY, now, sleep, pct, waitFor, report } from './common.mjs';

const url = new URL(process.env.REDIS_URL || 'redis://127.0.0.1:6390');
// BullMQ 6 wants constructed clients in ESM; one per queue/worker.
const conn = () => new Redis({ host: url.hostname, port: Number(url.port), maxRetriesPerRequest: null });
const opts = { removeOnComplete: { count: 1000 }, removeOnFail: { count: 1000 } };

const q = new Queue('bench', { connection: conn() });
await q.obliterate({ force: true }).catch(() => {});
let t = now();
for (let i = 0; i < NSINGLE; i++) await q.add('noop', { i }, opts);
const single = NSINGLE / ((now() - t) / 1000);
t = now();
for (let i = 0; i < N; i += 1000) {
  const jobs = [];
  for (let k = i; k < Math.min(N, i + 1000); k++) jobs.push({ name: 'noop', data: { i: k }, opts });
  await q.addBulk(jobs);
}
const enqueue = N / ((now() - t) / 1000);

let done = 0;
t = now();
const w = new Worker('bench', async () => { done++; }, { connection: conn(), concurrency: CONCURRENCY });
await waitFor(() => done >= N + NSINGLE);
const process_ = (N + NSINGLE) / ((now() - t) / 1000);
await w.close();

const lq = new Queue('lat', { connection: conn() });
const lat = [];
const lw = new Worker('lat', async (job) => { lat.push(now() - job.data.t); }, { connection: conn(), concurrency: CONCURRENCY });
for (let i = 0; i < NLAT; i++) {
  await lq.add('lat', { t: now() }, opts);
  await sleep(2);
}
await waitFor(() => lat.length >= NLAT);
await lw.close();
await q.close();
await lq.close();
report(process.env.BULLMQ_LABEL || 'bullmq', { enqueue_single_per_s: Math.round(single),
  enqueue_batch_per_s: Math.round(enqueue), process_per_s: Math.round(process_),
  latency_p50_ms: pct(lat, 0.5), latency_p99_ms: pct(lat, 0.99) });
process.exit(0);
