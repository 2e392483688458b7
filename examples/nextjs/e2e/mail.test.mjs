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
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appDir, artifacts, chromiumPath, freePort, sleep, waitReady, appEnv, seed, startNext,
  launchChromium, screenshots } from './harness.mjs';

const { E2E_SMTP_URL: smtpUrl, E2E_SMTP_DIR: smtpDir, E2E_PARSE_MAIL: parseMail,
  COMMUNITY_CLI: cli } = process.env;

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
  const env = appEnv(db);
  const email = 'rita@example.org';
  const seeded = seed(env, ['--email', email, '--name', 'Rita Reset',
    '--password', 'first-password', '--role', 'member']);
  assert.equal(seeded.role, 'member');

  const port = await freePort();
  const base = `http://localhost:${port}`;
  const logs = { app: '', worker: '' };
  const server = startNext(port, env, (d) => { logs.app += d; });
  /* the worker delivers the app's outbox: the same database, links to the app */
  const worker = spawn(cli, ['--db', db, 'worker', '--smtp', `${smtpUrl}/?timeout_ms=5000`,
    '--mail-from', 'Community <noreply@community.test>', '--public-url', base,
    '--site-name', 'Community'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  worker.stdout.on('data', (d) => { logs.worker += d; });
  worker.stderr.on('data', (d) => { logs.worker += d; });
  const browser = await launchChromium();
  t.after(async () => {
    await browser.close().catch(() => undefined);
    server.kill('SIGTERM');
    worker.kill('SIGTERM');
    rmSync(dataDir, { recursive: true, force: true });
  });

  try {
    await waitReady(base, server);
    const shot = screenshots('mail-');
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

/* ---------------------------------------------------------------------- */
/* Mail preferences and the one-click unsubscribe link of a newsletter.   */
/* ---------------------------------------------------------------------- */

/** Seed members, start the app and a worker on a fresh database; returns
 * {base, db, env, browser, logs}. Everything stops when the test ends. */
async function startStack(t, members) {
  assert.ok(chromiumPath, 'Debian chromium is needed (apt-get install chromium)');
  assert.ok(smtpUrl && smtpDir && parseMail, 'run through scripts/e2e.sh: it starts the test SMTP server');
  assert.ok(cli && existsSync(cli), 'COMMUNITY_CLI must name the community CLI (scripts/e2e.sh builds it)');
  assert.ok(existsSync(join(appDir, '.next', 'BUILD_ID')), 'build the app first (next build)');
  mkdirSync(artifacts, { recursive: true });
  const dataDir = mkdtempSync(join(tmpdir(), 'cm-e2e-prefs-'));
  const db = `sqlite://${join(dataDir, 'community.db')}`;
  const env = appEnv(db);
  for (const m of members)
    seed(env, ['--email', m.email, '--name', m.name, '--password', m.password, '--role', m.role]);
  const port = await freePort();
  const base = `http://localhost:${port}`;
  const logs = { app: '', worker: '' };
  const server = startNext(port, env, (d) => { logs.app += d; });
  /* the worker writes the newsletter's rows and delivers them; the links
   * (preferences page, List-Unsubscribe) point at the app */
  const worker = spawn(cli, ['--db', db, 'worker', '--smtp', `${smtpUrl}/?timeout_ms=5000`,
    '--mail-from', 'Community <noreply@community.test>', '--public-url', base, '--api-url', base,
    '--site-name', 'Community'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  worker.stdout.on('data', (d) => { logs.worker += d; });
  worker.stderr.on('data', (d) => { logs.worker += d; });
  const browser = await launchChromium();
  t.after(async () => {
    await browser.close().catch(() => undefined);
    server.kill('SIGTERM');
    worker.kill('SIGTERM');
    rmSync(dataDir, { recursive: true, force: true });
  });
  await waitReady(base, server);
  return { base, db, browser, logs };
}

/** Send a newsletter to the members who opted in, as organizer `org`,
 * through the Node binding on the app's database. */
async function sendNewsletter(db, org, subject, body) {
  const { open } = await import('@libcommunity/node');
  const store = await open(db);
  try {
    const { session } = await store.auth.login({ email: org.email, password: org.password });
    const actor = { token: session.token };
    const nl = await store.newsletters.create({ subject, body, audience: 'subscribers' }, actor);
    await store.newsletters.send({ newsletter_id: nl.id }, actor);
  } finally {
    await store.close();
  }
}

test('mail preferences, and unsubscribing from a newsletter\'s link without logging in', { timeout: 240000 }, async (t) => {
  const pat = { email: 'pat@example.org', name: 'Pat Prefs', password: 'pat-password', role: 'member' };
  const olga = { email: 'olga@example.org', name: 'Olga Organizer', password: 'olga-password', role: 'organizer' };
  const { base, db, browser, logs } = await startStack(t, [pat, olga]);
  try {
    const shot = screenshots('prefs-');
    const box = (page, name) => page.getByTestId(`pref-${name}`);

    /* 1. Pat, signed in, sees the three categories (newsletters are
     * opt-in) and turns newsletters on. */
    const mine = await (await browser.newContext()).newPage();
    await mine.goto(`${base}/login`);
    await mine.fill('input[name=email]', pat.email);
    await mine.fill('input[name=password]', pat.password);
    await mine.getByRole('button', { name: 'Log in' }).click();
    await mine.getByTestId('whoami').filter({ hasText: pat.name }).waitFor({ timeout: 20000 });
    await mine.getByRole('link', { name: 'Mail preferences' }).click();
    await mine.waitForURL(`${base}/preferences`);
    assert.equal(await box(mine, 'newsletters').isChecked(), false);
    assert.equal(await box(mine, 'event_reminders').isChecked(), true);
    assert.equal(await box(mine, 'waitlist_news').isChecked(), true);
    await box(mine, 'newsletters').check();
    await mine.getByRole('button', { name: 'Save' }).click();
    await mine.getByTestId('form-ok').filter({ hasText: 'saved' }).waitFor({ timeout: 20000 });
    await mine.reload();
    assert.equal(await box(mine, 'newsletters').isChecked(), true);
    await shot(mine, 'signed-in');

    /* 2. A newsletter reaches Pat, with its unsubscribe links. */
    await sendNewsletter(db, olga, 'Autumn news', 'Hello **owls**, see you soon.');
    const news = await mailTo(pat.email, 1);
    assert.equal(news.headers.subject[0], 'Autumn news');
    const listUnsub = news.headers['list-unsubscribe'][0].match(/<([^>]+)>/)[1];
    assert.ok(listUnsub.startsWith(`${base}/v1/mail/unsubscribe/`), listUnsub);
    const footer = news.parts.find((p) => p.type === 'text/plain').body
      .match(/(http:\/\/localhost:\d+\/preferences\?token=\d+\.[a-z_]+\.[A-Za-z0-9_-]+)/);
    assert.ok(footer, 'no preferences link in the newsletter');
    const prefsLink = footer[1];
    assert.ok(prefsLink.startsWith(`${base}/preferences?token=`), prefsLink);

    /* 3. Signed out, the List-Unsubscribe link opened in a browser leads to
     * the preferences page for its token; one button unsubscribes, and the
     * page confirms it. */
    const anon = await (await browser.newContext()).newPage();
    await anon.goto(listUnsub);
    await anon.waitForURL(/\/preferences\?token=/);
    assert.equal(await anon.getByTestId('whoami').count(), 0);
    await anon.getByTestId('prefs-for').filter({ hasText: pat.email }).waitFor();
    assert.equal(await box(anon, 'newsletters').isChecked(), true);
    await anon.getByRole('button', { name: 'Unsubscribe' }).click();
    await anon.getByTestId('form-ok').filter({ hasText: 'no longer get newsletters' }).waitFor({ timeout: 20000 });
    assert.equal(await box(anon, 'newsletters').isChecked(), false);
    await shot(anon, 'unsubscribed');
    /* the same page (the mail's footer link) changes the other categories */
    await anon.goto(prefsLink);
    await box(anon, 'event_reminders').uncheck();
    await anon.getByRole('button', { name: 'Save' }).click();
    await anon.getByTestId('form-ok').filter({ hasText: 'saved' }).waitFor({ timeout: 20000 });

    /* 4. Pat's own page shows both changes. */
    await mine.reload();
    assert.equal(await box(mine, 'newsletters').isChecked(), false);
    assert.equal(await box(mine, 'event_reminders').isChecked(), false);
    assert.equal(await box(mine, 'waitlist_news').isChecked(), true);

    /* 5. RFC 8058 one-click, as a mail client posts it, after Pat turned
     * newsletters on again. */
    await box(mine, 'newsletters').check();
    await mine.getByRole('button', { name: 'Save' }).click();
    await mine.getByTestId('form-ok').filter({ hasText: 'saved' }).waitFor({ timeout: 20000 });
    const res = await fetch(listUnsub, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'List-Unsubscribe=One-Click',
    });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { unsubscribed: true, category: 'newsletters' });
    await mine.reload();
    assert.equal(await box(mine, 'newsletters').isChecked(), false);

    /* 6. A tampered link shows nothing of anyone. */
    /* the signature's first character changed */
    const tamper = (url) => url.replace(/\.([a-z_]+)\.(.)/, (_, cat, c) => `.${cat}.${c === 'A' ? 'B' : 'A'}`);
    const bad = tamper(prefsLink);
    assert.notEqual(bad, prefsLink);
    await anon.goto(bad);
    await anon.getByTestId('link-invalid').waitFor({ timeout: 20000 });
    assert.equal(await anon.getByTestId('prefs-for').count(), 0);
    const badPost = await fetch(tamper(listUnsub), { method: 'POST' });
    assert.equal(badPost.status, 400);
  } catch (e) {
    t.diagnostic(`app log:\n${logs.app.slice(-4000)}\nworker log:\n${logs.worker.slice(-4000)}`);
    throw e;
  }
});
