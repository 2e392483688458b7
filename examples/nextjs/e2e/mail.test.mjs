/*
 * e2e/mail.test.mjs - "forgot password" and "e-mail me a sign-in link" end
 * to end: the app in headless Debian chromium, a `community worker --smtp`
 * delivering the outbox of the same database, and the test SMTP server that
 * scripts/e2e.sh starts (E2E_SMTP_URL, messages under E2E_SMTP_DIR). The
 * test reads each mail as the member would (parsed by Python's email
 * package, E2E_PARSE_MAIL), follows its link, sets a new password and logs
 * in with it, then signs in with a sign-in link; a used link is refused.
 * Run by scripts/e2e.sh, which also builds the CLI (COMMUNITY_CLI).
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const appDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const artifacts = resolve(process.env.E2E_ARTIFACTS ?? join(appDir, 'test-results', 'e2e'));
const chromiumPath = process.env.CHROMIUM
  ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const { E2E_SMTP_URL: smtpUrl, E2E_SMTP_DIR: smtpDir, E2E_PARSE_MAIL: parseMail,
  COMMUNITY_CLI: cli } = process.env;

function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitReady(base, server) {
  for (let i = 0; i < 120; i++) {
    if (server.exitCode !== null)
      throw new Error(`next start exited with ${server.exitCode}`);
    try {
      if ((await fetch(`${base}/api/health`)).ok)
        return;
    } catch {
      /* not listening yet */
    }
    await sleep(500);
  }
  throw new Error('the app did not become ready');
}

/** The envelopes the SMTP server has stored so far, oldest first. */
function envelopes() {
  const dir = join(smtpDir, 'msgs');
  if (!existsSync(dir))
    return [];
  return readdirSync(dir).filter((f) => f.endsWith('.json')).sort()
    .map((f) => ({ file: join(dir, f.replace(/\.json$/, '.eml')),
      ...JSON.parse(readFileSync(join(dir, f), 'utf8')) }));
}

/** Wait (up to 60 s) for mail number `n` (counting from 1) to `to`, and
 * return it parsed: {headers, parts: [{type, body}]}. */
async function mailTo(to, n) {
  for (let i = 0; i < 240; i++) {
    const mine = envelopes().filter((e) => e.rcpt_tos.includes(to));
    if (mine.length >= n) {
      const parsed = JSON.parse(execFileSync(process.env.E2E_PYTHON ?? 'python3',
        [parseMail, mine[n - 1].file], { encoding: 'utf8' }));
      return parsed[0];
    }
    await sleep(250);
  }
  throw new Error(`no mail ${n} to ${to} reached the SMTP server`);
}

/** The link of a mail's text part that starts with base + path. */
function linkIn(mail, base, path) {
  const text = mail.parts.find((p) => p.type === 'text/plain').body;
  const m = text.match(new RegExp(`${base.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}${path}\\?token=[A-Za-z0-9_-]+`));
  assert.ok(m, `no ${path} link in: ${text}`);
  return m[0];
}

test('forgot password and sign-in link, through a real SMTP server', { timeout: 240000 }, async (t) => {
  assert.ok(chromiumPath, 'Debian chromium is needed (apt-get install chromium)');
  assert.ok(smtpUrl && smtpDir && parseMail, 'run through scripts/e2e.sh: it starts the test SMTP server');
  assert.ok(cli && existsSync(cli), 'COMMUNITY_CLI must name the community CLI (scripts/e2e.sh builds it)');
  assert.ok(existsSync(join(appDir, '.next', 'BUILD_ID')), 'build the app first (next build)');
  mkdirSync(artifacts, { recursive: true });
  const dataDir = mkdtempSync(join(tmpdir(), 'cm-e2e-mail-'));
  const db = `sqlite://${join(dataDir, 'community.db')}`;
  const env = { ...process.env, COMMUNITY_DB: db, NEXT_TELEMETRY_DISABLED: '1', NODE_ENV: 'production' };
  const email = 'rita@example.org';
  const seeded = JSON.parse(execFileSync(process.execPath, [join(appDir, 'scripts', 'seed.mjs'),
    '--email', email, '--name', 'Rita Reset', '--password', 'first-password',
    '--role', 'member'], { cwd: appDir, env, encoding: 'utf8' }));
  assert.equal(seeded.role, 'member');

  const port = await freePort();
  const base = `http://localhost:${port}`;
  const logs = { app: '', worker: '' };
  const server = spawn(process.execPath,
    [join(appDir, 'node_modules', 'next', 'dist', 'bin', 'next'), 'start', '-p', String(port), '-H', 'localhost'],
    { cwd: appDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  server.stdout.on('data', (d) => { logs.app += d; });
  server.stderr.on('data', (d) => { logs.app += d; });
  /* the worker delivers the app's outbox: the same database, links to the app */
  const worker = spawn(cli, ['--db', db, 'worker', '--smtp', `${smtpUrl}/?timeout_ms=5000`,
    '--mail-from', 'Community <noreply@community.test>', '--public-url', base,
    '--site-name', 'Community'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  worker.stdout.on('data', (d) => { logs.worker += d; });
  worker.stderr.on('data', (d) => { logs.worker += d; });
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  t.after(async () => {
    await browser.close().catch(() => undefined);
    server.kill('SIGTERM');
    worker.kill('SIGTERM');
    rmSync(dataDir, { recursive: true, force: true });
  });

  try {
    await waitReady(base, server);
    let shotNo = 0;
    const shot = (page, name) => page.screenshot({
      path: join(artifacts, `mail-${String(++shotNo).padStart(2, '0')}-${name}.png`), fullPage: true,
    });
    const page = await (await browser.newContext()).newPage();

    /* 1. Forgot password: from the log-in page, ask for a link. */
    await page.goto(`${base}/login`);
    await page.getByRole('link', { name: 'Forgot your password?' }).click();
    await page.waitForURL(`${base}/reset-password`);
    await page.fill('input[name=email]', email);
    await page.getByRole('button', { name: 'Send me a reset link' }).click();
    await page.getByTestId('form-ok').waitFor({ timeout: 20000 });
    await shot(page, 'reset-requested');

    /* 2. The mail, as delivered by the worker to the SMTP server. */
    const reset = await mailTo(email, 1);
    assert.match(reset.headers.subject[0], /password/i);
    assert.deepEqual(reset.to, [['Rita Reset', email]]);
    const resetLink = linkIn(reset, base, '/reset-password');

    /* 3. Follow it, choose a new password, log in with it. */
    await page.goto(resetLink);
    await page.fill('input[name=password]', 'second-password');
    await page.getByRole('button', { name: 'Set the new password' }).click();
    await page.getByTestId('reset-done').waitFor({ timeout: 20000 });
    await shot(page, 'reset-done');
    await page.fill('input[name=email]', email);
    await page.fill('input[name=password]', 'first-password');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByTestId('form-error').waitFor({ timeout: 20000 });
    await page.fill('input[name=password]', 'second-password');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByTestId('whoami').filter({ hasText: 'Rita Reset' }).waitFor({ timeout: 20000 });
    /* the link works once */
    const again = await (await browser.newContext()).newPage();
    await again.goto(resetLink);
    await again.fill('input[name=password]', 'third-password');
    await again.getByRole('button', { name: 'Set the new password' }).click();
    await again.getByTestId('form-error').filter({ hasText: 'no longer valid' }).waitFor({ timeout: 20000 });

    /* 4. A sign-in link, in a fresh browser context (signed out). */
    const magic = await (await browser.newContext()).newPage();
    await magic.goto(`${base}/login`);
    await magic.getByRole('link', { name: 'E-mail me a sign-in link' }).click();
    await magic.waitForURL(`${base}/login/magic`);
    await magic.fill('input[name=email]', email);
    await magic.getByRole('button', { name: 'E-mail me a sign-in link' }).click();
    await magic.getByTestId('form-ok').waitFor({ timeout: 20000 });
    const signin = await mailTo(email, 2);
    const magicLink = linkIn(signin, base, '/login/magic');
    await magic.goto(magicLink);
    /* opening the link signs no one in: the button does */
    assert.equal(await magic.getByTestId('whoami').count(), 0);
    await magic.getByRole('button', { name: 'Sign in' }).click();
    await magic.getByTestId('whoami').filter({ hasText: 'Rita Reset' }).waitFor({ timeout: 20000 });
    await shot(magic, 'signed-in-by-link');
    const reuse = await (await browser.newContext()).newPage();
    await reuse.goto(magicLink);
    await reuse.getByRole('button', { name: 'Sign in' }).click();
    await reuse.getByTestId('form-error').filter({ hasText: 'no longer valid' }).waitFor({ timeout: 20000 });

    /* every mail the server got went to Rita, once each */
    assert.equal(envelopes().filter((e) => e.rcpt_tos.includes(email)).length, 2);
  } catch (e) {
    t.diagnostic(`app log:\n${logs.app.slice(-4000)}\nworker log:\n${logs.worker.slice(-4000)}`);
    throw e;
  }
});
