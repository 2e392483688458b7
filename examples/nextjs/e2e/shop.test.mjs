/*
 * e2e/shop.test.mjs - paying through the payment provider, end to end: the
 * app in headless Debian chromium, its payment provider pointed at the
 * stand-in (tests/payments/standin.py, started here; production talks to
 * the real provider), whose signed webhooks reach the app's
 * /api/payments/webhook route.
 *
 * A member opens an event, sees its ticket types with their prices, buys
 * two tickets: the app holds the seats (orders.create), opens a checkout
 * (orders.checkout) and sends the browser to the stand-in's payment page;
 * paying there sends checkout.session.completed to the app and the browser
 * back to the order's ticket page, which shows the two tickets as QR
 * images. Each image is rasterised by chromium and decoded with zbarimg
 * (Debian zbar-tools); the decoded text is the ticket's code (tickets.qr)
 * and its Ed25519 signature verifies with the event's public key
 * (checkin.key), as a door app would check it offline.
 * Then the membership page: tiers with monthly and yearly prices, a yearly
 * subscription paid on the stand-in's page, and back on the membership page
 * the member's subscription, active.
 * Run by scripts/e2e.sh.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { createPublicKey, verify } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import cm from '@libcommunity/node';
import { appDir, artifacts, chromiumPath, freePort, waitReady, appEnv, seed, startNext,
  launchChromium, screenshots } from './harness.mjs';

const repo = resolve(appDir, '..', '..');
const python = process.env.E2E_PYTHON ?? 'python3';
const zbarimg = ['/usr/bin/zbarimg', '/usr/local/bin/zbarimg'].find((p) => existsSync(p));
const SECRET_KEY = 'sk_test_e2e_shop';
const WEBHOOK_SECRET = 'whsec_e2e_shop';

/** Start the provider stand-in; resolves with its base URL once it listens. */
function startStandin(t) {
  const proc = spawn(python, [join(repo, 'tests', 'payments', 'standin.py'), '--port', '0',
    '--secret-key', SECRET_KEY, '--webhook-secret', WEBHOOK_SECRET],
  { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => proc.kill('SIGTERM'));
  return new Promise((ok, fail) => {
    proc.once('exit', (code) => fail(new Error(`the stand-in exited with ${code}`)));
    createInterface({ input: proc.stdout }).once('line', (line) => {
      const m = /^PORT (\d+)$/.exec(line);
      if (m)
        ok(`http://127.0.0.1:${m[1]}`);
      else
        fail(new Error(`the stand-in said ${line}`));
    });
  });
}

/** Verify a check-in code CM1.<event>.<order>.<serial>.<nonce>.<signature> with
 * the event's Ed25519 public key (base64url), as a door app does offline. */
function codeVerifies(code, publicKey) {
  const dot = code.lastIndexOf('.');
  const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: publicKey }, format: 'jwk' });
  return verify(null, Buffer.from(code.slice(0, dot)), key, Buffer.from(code.slice(dot + 1), 'base64url'));
}

test('buy tickets and a membership through the provider\'s checkout page', { timeout: 300000 }, async (t) => {
  assert.ok(chromiumPath, 'Debian chromium is needed (apt-get install chromium)');
  assert.ok(zbarimg, 'zbarimg is needed to read the QR codes (apt-get install zbar-tools)');
  assert.ok(existsSync(join(appDir, '.next', 'BUILD_ID')), 'build the app first (next build)');
  mkdirSync(artifacts, { recursive: true });
  const standin = await startStandin(t);
  const dataDir = mkdtempSync(join(tmpdir(), 'cm-e2e-shop-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const env = appEnv(`sqlite://${join(dataDir, 'community.db')}`, {
    COMMUNITY_DEFAULT_TZ: 'Europe/Paris',
    COMMUNITY_PAYMENTS_URL: standin,
    COMMUNITY_PAYMENTS_SECRET_KEY: SECRET_KEY,
    COMMUNITY_PAYMENTS_WEBHOOK_SECRET: WEBHOOK_SECRET,
  });

  /* The organizer's event with two ticket types, and two membership tiers. */
  const org = seed(env, ['--email', 'oscar@example.org', '--name', 'Oscar Organizer',
    '--password', 'organizer-pass', '--role', 'organizer']);
  const day = new Date(Date.now() + 14 * 86400e3).toISOString().slice(0, 10);
  let event, standard;
  const store = await cm.open(env.COMMUNITY_DB);
  try {
    const asOrg = { memberId: org.id };
    event = await store.events.create({
      title: 'Synth Night', format: 'in_person', venue: 'Cellar', timezone: 'Europe/Paris',
      start_local: `${day}T20:00`, end_local: `${day}T23:30`, capacity: 40, publish: true,
    }, asOrg);
    standard = await store.ticket_types.create({
      event_id: event.id, name: 'Standard', price_minor: 1500, currency: 'EUR',
    }, asOrg);
    await store.ticket_types.create({
      event_id: event.id, name: 'Supporter', price_minor: 3000, currency: 'EUR', per_order_max: 2,
    }, asOrg);
    await store.memberships.create_tier({
      slug: 'friend', name: 'Friend', currency: 'EUR', monthly_price: 500, yearly_price: 5000,
    }, { system: true });
  } finally {
    await store.close();
  }

  const port = await freePort();
  const base = `http://localhost:${port}`;
  let serverLog = '';
  const server = startNext(port, env, (d) => { serverLog += d; });
  const browser = await launchChromium();
  t.after(async () => {
    await browser.close().catch(() => undefined);
    server.kill('SIGTERM');
  });
  const control = async (path, body) => {
    const r = await fetch(`${standin}${path}`, body === undefined ? {} : {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
    });
    assert.ok(r.ok, `stand-in ${path}: ${r.status}`);
    return r.json();
  };

  try {
    await waitReady(base, server);
    /* the stand-in delivers its webhooks to the app */
    await control('/_test/config', { webhook_url: `${base}/api/payments/webhook` });

    const shot = screenshots('shop-');
    const text = async (page, testid) => (await page.getByTestId(testid).first().textContent()).trim();

    /* 1. A new member signs up from the event page and sees its tickets with prices. */
    const page = await (await browser.newContext({ deviceScaleFactor: 2 })).newPage();
    const eventPath = `/events/${event.id}`;
    await page.goto(`${base}/signup?next=${eventPath}`);
    await page.fill('input[name=name]', 'Bea Buyer');
    await page.fill('input[name=email]', 'bea@example.org');
    await page.fill('input[name=password]', 'bea-password');
    await page.getByRole('button', { name: 'Sign up' }).click();
    await page.waitForURL(`${base}${eventPath}`, { timeout: 20000 });
    const types = page.getByTestId('ticket-type');
    await types.first().waitFor({ timeout: 20000 });
    assert.deepEqual(await page.getByTestId('ticket-type-name').allTextContents(), ['Standard', 'Supporter']);
    assert.deepEqual(await page.getByTestId('ticket-type-price').allTextContents(), ['€15.00', '€30.00']);
    await shot(page, 'event-tickets');

    /* 2. Buy two Standard tickets: the stand-in's payment page asks for €30.00. */
    const row = types.filter({ hasText: 'Standard' });
    await row.locator('input[name=quantity]').fill('2');
    await row.getByRole('button', { name: 'Buy Standard' }).click();
    await page.waitForURL(`${standin}/pay/**`, { timeout: 20000 });
    assert.equal((await page.locator('#amount').textContent()).trim(), '3000 EUR');
    await shot(page, 'provider-page');
    await page.locator('#pay').click();

    /* 3. Back on the ticket page: paid (the webhook arrived before the
     * provider sent the browser back), two tickets as QR images. */
    await page.waitForURL(new RegExp(`^${base}/tickets/\\d+$`), { timeout: 20000 });
    const orderId = Number(new URL(page.url()).pathname.split('/').pop());
    assert.equal(await text(page, 'order-state'), 'paid');
    assert.equal(await text(page, 'order-event'), 'Synth Night');
    const qrs = page.getByTestId('ticket-qr');
    assert.equal(await qrs.count(), 2);
    await shot(page, 'ticket-page');
    const delivered = (await control('/_test/events')).filter((e) => e.event.type === 'checkout.session.completed');
    assert.equal(delivered.length, 1);
    assert.equal(delivered[0].deliveries[0].status, 200, 'the app took the signed webhook');
    assert.equal(delivered[0].deliveries[0].reply.outcome, 'applied');

    /* 4. Read each QR image as a door scanner would, and check its signature. */
    const check = await cm.open(env.COMMUNITY_DB);
    try {
      const { public_key: publicKey } = await check.checkin.key({ event_id: event.id });
      const order = await check.orders.get({ order_id: orderId }, { memberId: org.id });
      assert.equal(order.state, 'paid');
      assert.equal(order.paid_minor, 3000);
      const codes = [];
      for (let i = 0; i < 2; i++) {
        const png = join(dataDir, `qr-${i}.png`);
        writeFileSync(png, await qrs.nth(i).screenshot());
        const decoded = execFileSync(zbarimg, ['--quiet', '--raw', '-Sdisable', '-Sqrcode.enable', png],
          { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
        assert.match(decoded, /^CM1\./, `QR ${i} decodes to a check-in code`);
        assert.ok(codeVerifies(decoded, publicKey), `the code of QR ${i} carries a valid Ed25519 signature`);
        codes.push(decoded);
      }
      const expected = await Promise.all(order.tickets.map(async (tk) =>
        (await check.tickets.qr({ ticket_id: tk.id }, { memberId: org.id })).code));
      assert.deepEqual(codes.sort(), expected.sort(), 'the page shows exactly the order\'s two tickets');
      /* a tampered code does not verify */
      assert.equal(codeVerifies(codes[0].replace(/\.(\d+)\./, '.9$1.'), publicKey), false);
    } finally {
      await check.close();
    }

    /* 5. The membership page: monthly and yearly prices, subscribe yearly. */
    await page.getByRole('link', { name: 'Membership' }).click();
    await page.waitForURL(`${base}/membership`, { timeout: 20000 });
    assert.equal(await text(page, 'tier-name'), 'Friend');
    assert.equal(await text(page, 'tier-prices'), '€5.00 a month or €50.00 a year');
    await page.getByTestId('no-membership').waitFor({ timeout: 20000 });
    await shot(page, 'membership-tiers');
    await page.getByRole('button', { name: 'Subscribe yearly to Friend' }).click();
    await page.waitForURL(`${standin}/pay/**`, { timeout: 20000 });
    assert.equal((await page.locator('#amount').textContent()).trim(), '5000 EUR');
    await page.locator('#pay').click();
    await page.waitForURL(`${base}/membership`, { timeout: 20000 });
    assert.equal(await text(page, 'subscription-tier'), 'Friend');
    assert.equal(await text(page, 'subscription-status'), 'active');
    assert.match(await text(page, 'subscription'), /yearly/);
    assert.match(await text(page, 'tier'), /You are a member of this tier/);
    await shot(page, 'membership-active');
  } catch (e) {
    t.diagnostic(`server log:\n${serverLog.slice(-4000)}`);
    throw e;
  }
});
