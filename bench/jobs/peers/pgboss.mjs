// pgboss.mjs - pg-boss on PostgreSQL (DATABASE_URL).
import * as pgboss from 'pg-boss';
import { N, NSINGLE, NLAT, CONCURRENCY, now, sleep, pct, waitFor, report } from './common.mjs';

const PgBoss = pgboss.PgBoss || pgboss.default;

// Best documented tuning: LISTEN/NOTIFY wake-ups, batched fetch with burst mode.
const boss = new PgBoss({ connectionString: process.env.DATABASE_URL, max: CONCURRENCY + 4,
  useListenNotify: true });
boss.on('error', (e) => console.error(e));
await boss.start();
await boss.createQueue('bench', { notify: true }).catch(() => {});
await boss.createQueue('lat', { notify: true }).catch(() => {});
let t = now();
for (let i = 0; i < NSINGLE; i++) await boss.send('bench', { i });
const single = NSINGLE / ((now() - t) / 1000);
t = now();
for (let i = 0; i < N; i += 1000) {
  const jobs = [];
  for (let k = i; k < Math.min(N, i + 1000); k++) jobs.push({ data: { i: k } });
  await boss.insert('bench', jobs);
}
const enqueue = N / ((now() - t) / 1000);
// Fresh statistics (pg-boss slows down a lot when they are stale).
const db = boss.getDb();
await db.executeSql('ANALYZE');

let done = 0;
t = now();
await boss.work('bench', { batchSize: 100, burstWhenBatchFull: true, localConcurrency: CONCURRENCY,
  pollingIntervalSeconds: 0.5 },
  async (jobs) => { done += jobs.length; });
await waitFor(() => done >= N + NSINGLE);
const process_ = (N + NSINGLE) / ((now() - t) / 1000);
await boss.offWork('bench');

const lat = [];
await boss.work('lat', { batchSize: 1, localConcurrency: CONCURRENCY, pollingIntervalSeconds: 0.5 },
  async ([job]) => { lat.push(now() - job.data.t); });
for (let i = 0; i < NLAT; i++) {
  await boss.send('lat', { t: now() });
  await sleep(2);
}
await waitFor(() => lat.length >= NLAT);
await boss.stop({ graceful: true });
report('pg-boss', { enqueue_single_per_s: Math.round(single), enqueue_batch_per_s: Math.round(enqueue), process_per_s: Math.round(process_),
  latency_p50_ms: pct(lat, 0.5), latency_p99_ms: pct(lat, 0.99) });
process.exit(0);
