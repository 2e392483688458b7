/*
 * store.test.mjs - the Store API of the Node binding: module exports, the
 * methods generated from the operation table, and each family of
 * operations (members, auth, admin; events and RSVPs when the library has
 * them) called with each kind of actor.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { cm, freshStore, email, hasOp, tempDir } from './helpers.mjs';

test('module exports', () => {
  assert.equal(typeof cm.open, 'function');
  assert.equal(typeof cm.openSync, 'function');
  assert.equal(cm.version, process.env.CM_VERSION);
  assert.equal(cm.codes.CM_OK, 0);
  assert.equal(cm.codes.CM_EINVAL, -3);
  assert.equal(cm.codes.CM_EUNKNOWNOP, -22);
  assert.ok(cm.operations.includes('members.signup'));
  assert.deepEqual([...cm.operations].sort(), cm.operations);
});

test('describe() returns the operation table with JSON Schema inputs', async (t) => {
  const d = cm.describe();
  assert.equal(d.library, cm.version);
  const signup = d.operations.find((o) => o.name === 'members.signup');
  assert.ok(signup);
  assert.equal(signup.role, 'anonymous');
  assert.equal(signup.mutates, true);
  assert.equal(signup.input.type, 'object');
  assert.deepEqual(signup.input.required.sort(), ['email', 'name']);
  assert.equal(signup.input.properties.email.format, 'email');
  const store = await freshStore(t);
  assert.deepEqual(store.describe(), d);
});

test('a method is generated for every operation', async (t) => {
  const store = await freshStore(t);
  for (const name of cm.operations) {
    const [mod, verb] = [name.slice(0, name.indexOf('.')), name.slice(name.indexOf('.') + 1)];
    assert.equal(typeof store[mod][verb], 'function', name);
    assert.equal(store[mod][verb].name, name);
  }
  assert.equal(store.members, store.members, 'namespaces are cached per store');
  assert.ok(Object.isFrozen(store.members));
});

test('store properties: backend, closed, pending', async (t) => {
  const store = await freshStore(t);
  assert.equal(store.backend, 'sqlite');
  assert.equal(store.closed, false);
  assert.equal(store.pending, 0);
  const p = store.members.list({});
  assert.equal(store.pending, 1, 'exec returns before the call completes');
  await p;
  assert.equal(store.pending, 0);
});

test('openSync and open with options', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const uri = `sqlite://${join(dir, 'sync.db')}`;
  const s1 = cm.openSync(uri, { poolSize: 2, busyTimeoutMs: 1000 });
  const r = await s1.members.signup({ email: email(), name: 'Sync' });
  assert.ok(r.member.id >= 1);
  await s1.close();
  const s2 = await cm.open(uri, { migrate: false });
  const list = await s2.members.list({}, { system: true });
  assert.equal(list.items.length, 1);
  await s2.close();
});

test('open with redis: the result cache shared through Redis (cm_store_share_cache)', async (t) => {
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const uri = `sqlite://${join(dir, 'shared.db')}`;
  await assert.rejects(cm.open(uri, { redis: 'http://127.0.0.1:1' }), { code: 'CM_EINVAL' });
  assert.throws(() => cm.openSync(uri, { redis: 42 }), TypeError);
  // A Redis that refuses connections: every call still answers, nothing is cached.
  const s = await cm.open(uri, { redis: 'redis://127.0.0.1:1', redisTimeoutMs: 50 });
  await s.members.signup({ email: email(), name: 'Shared' });
  const a = await s.members.list({}, { system: true });
  const b = await s.members.list({}, { system: true });
  assert.deepEqual(a, b);
  await s.close();
  const s2 = cm.openSync(uri, { redis: '' }); // "" = not shared, as an empty COMMUNITY_REDIS
  await s2.close();
});

test('members: signup, me, get, list, update', async (t) => {
  const store = await freshStore(t);
  const addr = email('ada');
  const { member, session } = await store.members.signup({
    email: addr, name: 'Ada Lovelace', password: 'correct horse battery', interests: ['math'],
  });
  assert.equal(member.name, 'Ada Lovelace');
  assert.equal(typeof session.token, 'string');
  const noSession = await store.members.signup({ email: email(), name: 'No Password' });
  assert.equal(noSession.session, undefined);

  const me = await store.members.me({}, { token: session.token });
  assert.equal(me.id, member.id);
  assert.equal(me.email, addr);
  const byId = await store.members.me(undefined, { memberId: member.id });
  assert.equal(byId.id, member.id);
  const big = await store.members.me(null, { memberId: BigInt(member.id) });
  assert.equal(big.id, member.id);

  const got = await store.members.get({ member_id: member.id }, { memberId: member.id });
  assert.equal(got.name, 'Ada Lovelace');
  const list = await store.members.list({ q: 'Lovelace' }, { system: true });
  assert.deepEqual(list.items.map((m) => m.id), [member.id]);

  const upd = await store.members.update({ headline: 'Analyst' }, { token: session.token });
  assert.equal(upd.headline, 'Analyst');
  /* exec() is the same call as the generated method. */
  const again = await store.exec('members.get', { member_id: member.id }, { system: true });
  assert.equal(again.headline, 'Analyst');
});

test('auth: login, change_password, logout', async (t) => {
  const store = await freshStore(t);
  const addr = email('auth');
  await store.members.signup({ email: addr, name: 'Auth', password: 'first password' });
  const { session, member } = await store.auth.login({ email: addr, password: 'first password' });
  assert.equal(member.email, addr);
  const changed = await store.auth.change_password(
    { current_password: 'first password', new_password: 'second password' },
    { token: session.token });
  assert.equal(typeof changed.session.token, 'string');
  await assert.rejects(store.auth.login({ email: addr, password: 'first password' }),
    { code: 'CM_EAUTH' });
  const s2 = await store.auth.login({ email: addr, password: 'second password' });
  await store.auth.logout({ token: s2.session.token }, { token: s2.session.token });
  await assert.rejects(store.members.me({}, { token: s2.session.token }), { code: 'CM_EAUTH' });
});

test('system actor: roles, metrics, audit', async (t) => {
  const store = await freshStore(t);
  const { member } = await store.members.signup({ email: email('org'), name: 'Organizer' });
  const promoted = await store.members.set_role({ member_id: member.id, role: 'organizer' },
    { system: true });
  assert.equal(promoted.role, 'organizer');
  const metrics = await store.metrics.get({}, { system: true });
  assert.equal(typeof metrics.counters, 'object');
  const audit = await store.audit.list({ op: 'members.set_role' }, { system: true });
  assert.equal(audit.items.length, 1);
  assert.equal(audit.items[0].target_id, member.id);
  /* { system: false } is an anonymous caller. */
  await assert.rejects(store.metrics.get({}, { system: false }), { code: 'CM_EAUTH' });
});

test('events and RSVPs (when the library has them)', async (t) => {
  const needed = ['events.create', 'events.get', 'events.list', 'rsvps.add', 'rsvps.cancel'];
  const missing = needed.filter((n) => !hasOp(n));
  if (missing.length) {
    t.skip(`operations not in this library yet: ${missing.join(', ')}`);
    return;
  }
  const store = await freshStore(t);
  const org = await store.members.signup({ email: email('o'), name: 'Org', password: 'organizer pw' });
  await store.members.set_role({ member_id: org.member.id, role: 'organizer' }, { system: true });
  const orgActor = { token: org.session.token };
  const day = new Date(Date.now() + 7 * 86400e3).toISOString().slice(0, 10);
  const event = await store.events.create({
    title: 'Node meetup', description: 'Binding tests', format: 'in_person', venue: 'Lab',
    start_local: `${day}T18:00`, end_local: `${day}T20:00`, timezone: 'Europe/Paris',
    capacity: 1, publish: true,
  }, orgActor);
  assert.equal(event.status, 'published');
  const listed = await store.events.list({ q: 'meetup' });
  assert.deepEqual(listed.items.map((e) => e.id), [event.id]);

  const a = await store.members.signup({ email: email('a'), name: 'A' });
  const b = await store.members.signup({ email: email('b'), name: 'B' });
  const ra = await store.rsvps.add({ event_id: event.id }, { memberId: a.member.id });
  const rb = await store.rsvps.add({ event_id: event.id }, { memberId: b.member.id });
  assert.equal(ra.status, 'going');
  assert.equal(rb.status, 'waitlisted');
  await store.rsvps.cancel({ event_id: event.id }, { memberId: a.member.id });
  const got = await store.events.get({ event_id: event.id }, { memberId: b.member.id });
  assert.equal(got.counts.going_seats, 1);
  assert.equal(got.counts.waitlisted, 0);
  const mine = await store.rsvps.mine({}, { memberId: b.member.id });
  assert.equal(mine.items[0].status, 'going', 'the waitlisted member was promoted');
});
