/*
 * nodemailer.mjs - the peer of bench_mail: nodemailer's pooled SMTP
 * transport sends the same rendered message (the file bench_mail wrote) to
 * the same server, CONCURRENCY connections with one message in flight each.
 *
 * usage: node nodemailer.mjs SMTP_URL N CONCURRENCY MESSAGE_FILE
 * Prints one JSON line like bench_mail's.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import nodemailer from 'nodemailer';

const [url, nArg, cArg, file] = process.argv.slice(2);
const n = Number(nArg), conc = Number(cArg);
const raw = readFileSync(file);
const { hostname, port } = new URL(url);
const transport = nodemailer.createTransport({
  host: hostname, port: Number(port), secure: false, ignoreTLS: true,
  pool: true, maxConnections: conc, maxMessages: Infinity,
});
const envelope = { from: 'noreply@example.org', to: ['bench@example.com'] };
let next = 0, sent = 0, failed = 0;
async function lane() {
  while (next < n) {
    next++;
    try {
      await transport.sendMail({ envelope, raw });
      sent++;
    } catch (e) {
      failed++;
      if (failed === 1)
        console.error(`nodemailer: ${e.message}`);
    }
  }
}
const t0 = process.hrtime.bigint();
await Promise.all(Array.from({ length: conc }, lane));
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
transport.close();
const version = createRequire(import.meta.url)('nodemailer/package.json').version;
console.log(JSON.stringify({
  system: `nodemailer ${version}`, messages: n, concurrency: conc, bytes: raw.length, sent, failed,
  seconds: Number(seconds.toFixed(3)), msgs_per_s: Number((sent / seconds).toFixed(1)),
}));
process.exit(failed ? 1 : 0);
