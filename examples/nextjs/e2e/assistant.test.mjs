/*
 * e2e/assistant.test.mjs - the assistant's chat page, end to end: the app
 * in headless Debian chromium with the offline provider (the default,
 * deterministic, no network) over an event "Rust Meetup NYC".
 *
 * A member signs up, opens /assistant (no conversations yet) and asks
 * "RSVP me to the next Rust meetup": the route handler answers with a
 * text/event-stream that the page reads with fetch and a stream reader; the
 * answer shows with a citation linking to the event's page and the proposed
 * RSVP (for that event, read back through the addon) with Confirm / Decline. Declining runs nothing (the
 * member has no RSVP, read through the addon with the member's session);
 * asking again in the same conversation and confirming writes the RSVP
 * (going). Reloading the page lists the conversation, and opening it shows
 * its messages. No Content-Security-Policy violation is reported on the way.
 * Last, the stream itself, from a direct request with the member's cookie:
 * several delta events making the stored answer, then citations, done; and
 * a request with another site's Origin is refused (403).
 * Run by scripts/e2e.sh.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import cm from '@libcommunity/node';
import { appDir, artifacts, chromiumPath, freePort, waitReady, appEnv, seed, startNext,
  launchChromium, screenshots } from './harness.mjs';

const QUESTION = 'RSVP me to the next Rust meetup';

/** The server-sent events of a response body: [[event, data], ...]. */
function parseSse(body) {
  return body.replace(/\r\n/g, '\n').split('\n\n').filter((b) => b.trim()).map((block) => {
    let event = 'message';
    const data = [];
    for (const line of block.split('\n')) {
      if (line.startsWith('event:'))
        event = line.slice(6).trim();
      else if (line.startsWith('data:'))
        data.push(line.slice(5).replace(/^ /, ''));
    }
    return [event, JSON.parse(data.join('\n'))];
  });
}

test('the assistant page: streamed answer, citation, decline then confirm an RSVP, history', { timeout: 300000 }, async (t) => {
  assert.ok(chromiumPath, 'Debian chromium is needed (apt-get install chromium)');
  assert.ok(existsSync(join(appDir, '.next', 'BUILD_ID')), 'build the app first (next build)');
  mkdirSync(artifacts, { recursive: true });
  const dataDir = mkdtempSync(join(tmpdir(), 'cm-e2e-assistant-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const env = appEnv(`sqlite://${join(dataDir, 'community.db')}`, {
    COMMUNITY_DEFAULT_TZ: 'America/New_York',
    COMMUNITY_ASSISTANT: 'offline',
  });

  /* An organizer's two published events; the Rust one is what the member asks for. */
  const org = seed(env, ['--email', 'olga@example.org', '--name', 'Olga Organizer',
    '--password', 'organizer-pass', '--role', 'organizer']);
  const day = new Date(Date.now() + 10 * 86400e3).toISOString().slice(0, 10);
  let rust;
  {
    const store = await cm.open(env.COMMUNITY_DB);
    try {
      const asOrg = { memberId: org.id };
      rust = await store.events.create({
        title: 'Rust Meetup NYC', description: 'Rust talks in New York', format: 'in_person',
        venue: 'Loft', timezone: 'America/New_York', start_local: `${day}T18:00`,
        end_local: `${day}T20:00`, publish: true,
      }, asOrg);
      await store.events.create({
        title: 'Jazz Night', description: 'Live jazz downtown', format: 'in_person',
        venue: 'Cellar', timezone: 'America/New_York', start_local: `${day}T21:00`,
        end_local: `${day}T23:00`, publish: true,
      }, asOrg);
    } finally {
      await store.close();
    }
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

  try {
    await waitReady(base, server);
    const shot = screenshots('assistant-');
    const context = await browser.newContext();
    const page = await context.newPage();
    const cspErrors = [];
    page.on('console', (m) => {
      if (m.type() === 'error' && /Content Security Policy/i.test(m.text()))
        cspErrors.push(m.text());
    });

    /* 1. Sign up, land on the assistant page: no conversations yet. */
    await page.goto(`${base}/signup?next=/assistant`);
    await page.fill('input[name=name]', 'Ann Asker');
    await page.fill('input[name=email]', 'ann@example.org');
    await page.fill('input[name=password]', 'ann-password');
    await page.getByRole('button', { name: 'Sign up' }).click();
    await page.waitForURL(`${base}/assistant`, { timeout: 20000 });
    await page.getByTestId('no-conversations').waitFor({ timeout: 20000 });
    const token = (await context.cookies()).find((c) => c.name === 'cm_session')?.value;
    assert.ok(token, 'the session cookie is set');
    const ann = { token };
    const page1 = await page.request.get(`${base}/assistant`);
    assert.match(page1.headers()['content-security-policy'] ?? '', /script-src 'self' 'nonce-/);
    assert.equal(page1.headers()['x-frame-options'], 'DENY');

    /* 2. Ask: the answer comes as server-sent events, read by the page as they
     * come (the page's stream is checked in the DOM; the protocol itself by
     * a direct request in step 6, as the browser's copy of a streamed body is
     * not reliably kept by the DevTools protocol). */
    const ask = async () => {
      await page.fill('input[name=message]', QUESTION);
      const [response] = await Promise.all([
        page.waitForResponse((r) => r.url() === `${base}/api/assistant/ask`, { timeout: 30000 }),
        page.getByRole('button', { name: 'Ask' }).click(),
      ]);
      assert.equal(response.status(), 200);
      assert.match(response.headers()['content-type'], /^text\/event-stream/);
      await page.getByTestId('pending-action').waitFor({ timeout: 20000 });
      const db = await cm.open(env.COMMUNITY_DB);
      try {
        const { items } = await db.assistant.conversations({}, ann);
        assert.equal(items.length, 1, 'one conversation');
        const { messages } = await db.assistant.get({ conversation_id: items[0].id }, ann);
        const last = messages.at(-1);
        assert.equal(last.role, 'assistant');
        const pending = last.tool_calls.find((c) => c.status === 'pending');
        assert.equal(pending?.input?.event_id, rust.id, 'the proposed RSVP is for the Rust meetup');
        return { conversation_id: items[0].id, message: last };
      } finally {
        await db.close();
      }
    };
    const first = await ask();
    const answers = page.getByTestId('message-assistant');
    assert.equal(await answers.count(), 1);
    assert.equal((await answers.first().locator('p').first().textContent()).trim(),
      `Assistant: ${first.message.text}`);
    const link = answers.first().getByTestId('citation').filter({ hasText: 'Rust Meetup NYC' });
    assert.equal(await link.getAttribute('href'), `/events/${rust.id}`);
    assert.match(await page.getByTestId('action-summary').textContent(), /Rust Meetup NYC/);
    await shot(page, 'proposed');

    /* 3. Decline: nothing is written. */
    await page.getByRole('button', { name: 'Decline' }).click();
    await page.locator('[data-testid=action-outcome][data-status=declined]').waitFor({ timeout: 20000 });
    assert.equal(await page.getByTestId('pending-action').count(), 0);
    const check = await cm.open(env.COMMUNITY_DB);
    try {
      assert.deepEqual((await check.rsvps.mine({}, ann)).items, [], 'declined: no RSVP');

      /* 4. Ask again in the same conversation, confirm: the RSVP exists. */
      const second = await ask();
      assert.equal(second.conversation_id, first.conversation_id, 'the same conversation');
      await page.getByRole('button', { name: 'Confirm' }).click();
      await page.locator('[data-testid=action-outcome][data-status=confirmed]').waitFor({ timeout: 20000 });
      await shot(page, 'confirmed');
      const mine = (await check.rsvps.mine({}, ann)).items;
      assert.equal(mine.length, 1);
      assert.equal(mine[0].event_id, rust.id);
      assert.equal(mine[0].status, 'going');
    } finally {
      await check.close();
    }

    /* 5. Reload: the conversation is in the history, and opens with its messages. */
    await page.reload();
    const convs = page.getByTestId('conversation');
    await convs.first().waitFor({ timeout: 20000 });
    assert.equal(await convs.count(), 1);
    await convs.first().getByRole('link', { name: QUESTION }).click();
    await page.waitForURL(`${base}/assistant?c=${first.conversation_id}`, { timeout: 20000 });
    await page.getByTestId('message-user').first().waitFor({ timeout: 20000 });
    const questions = await page.getByTestId('message-user').allTextContents();
    assert.deepEqual(questions.map((q) => q.trim()), [`You: ${QUESTION}`, `You: ${QUESTION}`]);
    assert.ok(await page.getByTestId('message-assistant').count() >= 2);
    assert.equal(await page.getByTestId('citation').filter({ hasText: 'Rust Meetup NYC' }).first()
      .getAttribute('href'), `/events/${rust.id}`);
    await shot(page, 'history');

    /* 6. The protocol, read as a stream by a direct request with the
     * member's cookie: several delta events whose pieces make the stored
     * answer, then citations (the event) and done, in that order; a request
     * whose Origin names another site is refused. */
    const res = await fetch(`${base}/api/assistant/ask`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', cookie: `cm_session=${token}` },
      body: JSON.stringify({ message: 'Which Rust meetups are coming up?' }),
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^text\/event-stream/);
    let body = '';
    for await (const chunk of res.body.pipeThrough(new TextDecoderStream()))
      body += chunk;
    const events = parseSse(body);
    const names = events.map(([e]) => e);
    assert.ok(names.filter((e) => e === 'delta').length > 1, `several delta events: ${names}`);
    assert.deepEqual(names.filter((e) => e !== 'delta'), ['citations', 'done']);
    assert.ok(events.find(([e]) => e === 'citations')[1].citations.some((c) => c.type === 'event' && c.id === rust.id));
    assert.equal(events.filter(([e]) => e === 'delta').map(([, d]) => d.text).join(''), events.at(-1)[1].message.text);
    /* another site's page cannot ask in the member's name */
    const cross = await fetch(`${base}/api/assistant/ask`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: 'https://evil.example', cookie: `cm_session=${token}` },
      body: JSON.stringify({ message: QUESTION }),
    });
    assert.equal(cross.status, 403);
    assert.deepEqual(cspErrors, [], 'no Content-Security-Policy violation');
  } catch (e) {
    t.diagnostic(`server log:\n${serverLog.slice(-4000)}`);
    throw e;
  }
});
