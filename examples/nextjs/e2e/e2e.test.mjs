/*
 * e2e/e2e.test.mjs - the example app in headless Debian chromium, driven
 * by playwright-core (no downloaded browser): an organizer (seeded with
 * the addon and the system actor) creates an event with 2 seats, three
 * members sign up and RSVP, the third lands on the waitlist, one cancels,
 * the third is promoted, and search finds the event. Along the way: a
 * redirect target that leaves the site is ignored, a wrong password and a
 * bad event keep the form filled with a readable error, a full event offers
 * "Join waitlist" and the position, cancelling asks first, a moderator may
 * organize, signing in over plain HTTP away from localhost is refused
 * with an explanation (the Secure cookie would be dropped), and a member's
 * free ticket (ordered through the addon) shows on "My tickets" as a QR
 * image; every response carries the security headers (a nonce-based CSP
 * under which the pages hydrate, no framing, nosniff, HSTS over HTTPS).
 * Screenshots go
 * to E2E_ARTIFACTS (default test-results/e2e).
 *
 * Needs a production build (`next build`) of the app and the addon
 * installed in node_modules; scripts/e2e.sh at the top of the repository
 * does all of it. CHROMIUM overrides the browser path.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import cm from '@libcommunity/node';
import { appDir, artifacts, chromiumPath, freePort, waitReady, appEnv, seed, startNext,
  launchChromium, screenshots } from './harness.mjs';

test('sign up, organize, RSVP with waitlist and promotion, search', { timeout: 240000 }, async (t) => {
  assert.ok(chromiumPath, 'Debian chromium is needed (apt-get install chromium)');
  assert.ok(existsSync(join(appDir, '.next', 'BUILD_ID')), 'build the app first (next build)');
  mkdirSync(artifacts, { recursive: true });
  const dataDir = mkdtempSync(join(tmpdir(), 'cm-e2e-'));
  const env = appEnv(`sqlite://${join(dataDir, 'community.db')}`, {
    COMMUNITY_DEFAULT_TZ: 'Europe/Paris',
  });

  /* The organizer: no sign-up path leads to that role, so seed it. */
  const seeded = seed(env, ['--email', 'olga@example.org', '--name', 'Olga Organizer',
    '--password', 'organizer-pass', '--role', 'organizer']);
  assert.equal(seeded.role, 'organizer');
  const moderator = seed(env, ['--email', 'mo@example.org', '--name', 'Mo Moderator',
    '--password', 'moderator-pass', '--role', 'moderator']);
  assert.equal(moderator.role, 'moderator');

  const port = await freePort();
  const base = `http://localhost:${port}`;
  let serverLog = '';
  const server = startNext(port, env, (d) => { serverLog += d; });
  const browser = await launchChromium([
    /* a host name that is not localhost, for the plain-HTTP cookie check */
    '--host-resolver-rules=MAP community.test localhost',
  ]);
  t.after(async () => {
    await browser.close().catch(() => undefined);
    server.kill('SIGTERM');
    rmSync(dataDir, { recursive: true, force: true });
  });

  try {
    const health = await waitReady(base, server);
    t.diagnostic(`app up: libcommunity ${health.library} (${health.backend})`);

    const shot = screenshots('');
    const text = async (page, testid) => (await page.getByTestId(testid).textContent()).trim();
    const waitText = (page, testid, hasText) =>
      page.getByTestId(testid).filter({ hasText }).waitFor({ timeout: 20000 });

    /* 0. Over plain HTTP on a host that is not localhost, signing in is refused
     * with an explanation rather than "working" and losing the Secure cookie. */
    const plain = await (await browser.newContext()).newPage();
    const plainBase = `http://community.test:${new URL(base).port}`;
    await plain.goto(`${plainBase}/login`);
    await plain.fill('input[name=email]', 'olga@example.org');
    await plain.fill('input[name=password]', 'organizer-pass');
    await plain.getByRole('button', { name: 'Log in' }).click();
    await plain.getByTestId('form-error').filter({ hasText: 'plain HTTP' }).waitFor({ timeout: 20000 });
    assert.match(await text(plain, 'form-error'), /HTTPS.*COOKIE_SECURE=0/s);
    assert.equal(await plain.inputValue('input[name=email]'), 'olga@example.org');
    await shot(plain, 'plain-http-refused');

    /* Security headers (lib/security-headers.ts, set by proxy.ts): on a page
     * and on an API response; the page hydrates under its nonce-based CSP
     * (React attaches itself to the form) with no CSP violation reported;
     * HSTS only when the request came over HTTPS through a proxy. */
    {
      const cspPage = await (await browser.newContext()).newPage();
      const violations = [];
      cspPage.on('console', (m) => {
        if (/Content.Security.Policy/i.test(m.text()))
          violations.push(m.text());
      });
      const resp = await cspPage.goto(`${base}/login`);
      const h = resp.headers();
      assert.match(h['content-security-policy'] ?? '', /script-src 'self' 'nonce-[^']+' 'strict-dynamic'/);
      assert.match(h['content-security-policy'], /frame-ancestors 'none'/);
      assert.equal(h['x-frame-options'], 'DENY');
      assert.equal(h['x-content-type-options'], 'nosniff');
      assert.equal(h['referrer-policy'], 'strict-origin-when-cross-origin');
      assert.equal(h['strict-transport-security'], undefined, 'no HSTS over plain HTTP');
      const nonce = /'nonce-([^']+)'/.exec(h['content-security-policy'])[1];
      assert.ok((await resp.text()).includes(`nonce="${nonce}"`), 'the inline scripts carry the nonce');
      await cspPage.waitForFunction(() => Object.keys(document.querySelector('form') ?? {})
        .some((k) => k.startsWith('__react')), null, { timeout: 20000 });
      assert.deepEqual(violations, []);
      const api = await fetch(`${base}/api/health`, { headers: { 'x-forwarded-proto': 'https' } });
      assert.equal(api.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(api.headers.get('strict-transport-security'), 'max-age=31536000; includeSubDomains');
      await cspPage.context().close();
    }

    /* 1. The organizer logs in (a wrong password first; a redirect target that
     * would leave the site is ignored) and creates an event with 2 seats (an
     * end before the start first). */
    const orgPage = await (await browser.newContext()).newPage();
    await orgPage.goto(`${base}/login?next=${encodeURIComponent('/\\evil.example')}`);
    await orgPage.fill('input[name=email]', 'olga@example.org');
    await orgPage.fill('input[name=password]', 'wrong-password');
    await orgPage.getByRole('button', { name: 'Log in' }).click();
    await waitText(orgPage, 'form-error', 'Wrong e-mail address or password.');
    assert.doesNotMatch(await text(orgPage, 'form-error'), /session/);
    assert.equal(await orgPage.inputValue('input[name=email]'), 'olga@example.org');
    assert.equal(await orgPage.inputValue('input[name=password]'), '');
    await orgPage.fill('input[name=password]', 'organizer-pass');
    await orgPage.getByRole('button', { name: 'Log in' }).click();
    await waitText(orgPage, 'whoami', 'Olga Organizer');
    assert.equal(orgPage.url(), `${base}/`, 'the redirect stays on the site');
    await orgPage.goto(`${base}/organize`);
    const day = new Date(Date.now() + 10 * 86400e3).toISOString().slice(0, 10);
    await orgPage.fill('input[name=title]', 'Rust and Coffee Morning');
    await orgPage.fill('textarea[name=description]', 'Pair programming over coffee by the river.');
    await orgPage.fill('input[name=venue]', 'Cafe Lumen');
    await orgPage.fill('input[name=start_local]', `${day}T09:30`);
    await orgPage.fill('input[name=end_local]', `${day}T08:30`);
    await orgPage.fill('input[name=capacity]', '2');
    await orgPage.getByRole('button', { name: 'Create and publish' }).click();
    await orgPage.getByTestId('form-error').waitFor({ timeout: 20000 });
    assert.equal(await text(orgPage, 'form-error'), 'Ends: the event must end after it starts');
    assert.equal(await orgPage.inputValue('input[name=title]'), 'Rust and Coffee Morning');
    assert.equal(await orgPage.inputValue('input[name=venue]'), 'Cafe Lumen');
    assert.equal(await orgPage.inputValue('input[name=capacity]'), '2');
    await shot(orgPage, 'organizer-form-error');
    await orgPage.fill('input[name=end_local]', `${day}T11:30`);
    await shot(orgPage, 'organizer-new-event');
    await orgPage.getByRole('button', { name: 'Create and publish' }).click();
    await orgPage.waitForURL(/\/events\/\d+$/, { timeout: 20000 });
    const eventPath = new URL(orgPage.url()).pathname;
    assert.equal(await text(orgPage, 'event-title'), 'Rust and Coffee Morning');
    assert.match(await text(orgPage, 'seats-left'), /^2/);
    await shot(orgPage, 'event-created');

    /* 2. Three members sign up (through the UI) and RSVP. */
    const members = [];
    for (const [i, name] of ['Ada', 'Brian', 'Chen'].entries()) {
      const page = await (await browser.newContext()).newPage();
      await page.goto(`${base}/signup?next=${encodeURIComponent(eventPath)}`);
      await page.fill('input[name=name]', name);
      await page.fill('input[name=email]', `${name.toLowerCase()}@example.org`);
      await page.fill('input[name=password]', `${name.toLowerCase()}-password`);
      await page.getByRole('button', { name: 'Sign up' }).click();
      await page.waitForURL(`${base}${eventPath}`, { timeout: 20000 });
      await waitText(page, 'whoami', name);
      /* The third finds the event full: the button says what it does. */
      await page.getByRole('button', { name: i < 2 ? 'RSVP' : 'Join waitlist', exact: true }).click();
      const expected = i < 2 ? 'You are going.' : 'You are on the waitlist.';
      await waitText(page, 'my-rsvp', expected);
      if (i === 2)
        assert.equal(await text(page, 'waitlist-position'), 'You are number 1 on the waitlist.');
      await shot(page, `rsvp-${name.toLowerCase()}`);
      members.push(page);
    }
    const [ada, , chen] = members;
    await chen.reload();
    assert.match(await text(chen, 'going'), /^2/);
    assert.match(await text(chen, 'waitlist'), /^1/);
    assert.match(await text(chen, 'seats-left'), /^0/);
    assert.equal(await text(chen, 'my-rsvp'), 'You are on the waitlist.');

    /* 3. Ada cancels (asked first; "keep" keeps it); Chen is promoted. */
    await ada.getByRole('button', { name: 'Cancel my RSVP' }).click();
    await ada.getByRole('button', { name: 'Keep my RSVP' }).click();
    assert.equal(await text(ada, 'my-rsvp'), 'You are going.');
    await ada.getByRole('button', { name: 'Cancel my RSVP' }).click();
    await shot(ada, 'ada-confirm-cancel');
    await ada.getByRole('button', { name: 'Yes, cancel it' }).click();
    await waitText(ada, 'my-rsvp', 'You have not RSVPed.');
    await shot(ada, 'ada-cancelled');
    await chen.reload();
    await waitText(chen, 'my-rsvp', 'You are going.');
    assert.match(await text(chen, 'going'), /^2/);
    assert.match(await text(chen, 'waitlist'), /^0/);
    await shot(chen, 'chen-promoted');

    /* 4. Search finds the event. */
    await chen.goto(`${base}/`);
    await chen.fill('input[name=q]', 'coffee');
    await chen.getByRole('button', { name: 'Search' }).click();
    await chen.waitForURL(/[?&]q=coffee/, { timeout: 20000 });
    await waitText(chen, 'search-results', 'Rust and Coffee Morning');
    await shot(chen, 'search');
    assert.match(await text(chen, 'upcoming'), /Rust and Coffee Morning/);

    /* 5. A moderator may create events too (events.create admits organizer and above). */
    const modPage = await (await browser.newContext()).newPage();
    await modPage.goto(`${base}/login?next=/organize`);
    await modPage.fill('input[name=email]', 'mo@example.org');
    await modPage.fill('input[name=password]', 'moderator-pass');
    await modPage.getByRole('button', { name: 'Log in' }).click();
    await modPage.waitForURL(`${base}/organize`, { timeout: 20000 });
    await modPage.getByRole('button', { name: 'Create and publish' }).waitFor({ timeout: 20000 });

    /* 6. Chen's free ticket for another event shows on "My tickets" as a QR image
     * (the order is made through the addon: buying is the payment pages' part). */
    const store = await cm.open(env.COMMUNITY_DB);
    try {
      const org = { memberId: seeded.id };
      const gala = await store.events.create({
        title: 'Ticketed Gala', format: 'in_person', venue: 'Hall', timezone: 'Europe/Paris',
        start_local: `${day}T19:00`, end_local: `${day}T23:00`, capacity: 50, publish: true,
      }, org);
      const type = await store.ticket_types.create({
        event_id: gala.id, name: 'Standing', price_minor: 0, currency: 'EUR',
      }, org);
      const chenId = (await store.members.list({ q: 'Chen' }, { system: true })).items[0].id;
      const order = await store.orders.create({ ticket_type_id: type.id, quantity: 2 }, { memberId: chenId });
      assert.equal(order.state, 'paid');
    } finally {
      await store.close();
    }
    await chen.goto(`${base}/`);
    await chen.getByRole('link', { name: 'My tickets' }).click();
    await chen.waitForURL(`${base}/tickets`, { timeout: 20000 });
    await waitText(chen, 'order', 'Ticketed Gala');
    assert.equal(await text(chen, 'order-state'), 'paid');
    const qr = chen.getByTestId('ticket-qr');
    assert.equal(await qr.count(), 2);
    await qr.first().waitFor({ timeout: 20000 });
    assert.ok(await qr.first().evaluate((img) => img.complete && img.naturalWidth > 100),
      'the QR image decodes');
    await shot(chen, 'my-tickets');

    /* The route handler serves the same data as JSON. */
    const api = await (await fetch(`${base}/api/events?q=coffee`)).json();
    assert.deepEqual(api.items.map((e) => e.title), ['Rust and Coffee Morning']);
  } catch (e) {
    t.diagnostic(`server log:\n${serverLog.slice(-4000)}`);
    throw e;
  }
});
