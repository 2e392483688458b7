/*
 * stream.test.mjs - store.execStream(): the events of a streamed operation
 * (cm_exec_stream) reach JavaScript in order, before the promise settles;
 * returning false stops the call and nothing is stored. assistant.ask with
 * the offline provider (the default).
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { freshStore, email, hasOp } from './helpers.mjs';

async function setup(t) {
  const store = await freshStore(t);
  const org = await store.members.signup({ email: email('o'), name: 'Org', password: 'organizer pw' });
  await store.members.set_role({ member_id: org.member.id, role: 'organizer' }, { system: true });
  const day = new Date(Date.now() + 7 * 86400e3).toISOString().slice(0, 10);
  const event = await store.events.create({
    title: 'Rust Meetup NYC', description: 'Rust talks in New York', format: 'in_person',
    start_local: `${day}T18:00`, end_local: `${day}T20:00`, timezone: 'America/New_York',
    publish: true,
  }, { token: org.session.token });
  const ann = await store.members.signup({ email: email('a'), name: 'Ann' });
  return { store, event, ann: { memberId: ann.member.id } };
}

test('execStream: deltas, citations, action, done, in order, before the promise', async (t) => {
  if (!hasOp('assistant.ask')) {
    t.skip('no assistant in this library');
    return;
  }
  const { store, event, ann } = await setup(t);
  const seen = [];
  let settled = false;
  const result = await store.execStream('assistant.ask',
    { message: 'RSVP me to the next Rust meetup' }, ann, (ev, data) => {
      assert.equal(settled, false, 'no event after the promise settled');
      seen.push([ev, data]);
    }).finally(() => { settled = true; });
  const names = seen.map(([e]) => e).filter((e, i, a) => !(e === 'delta' && a[i - 1] === 'delta'));
  assert.deepEqual(names, ['delta', 'citations', 'action', 'done']);
  const text = seen.filter(([e]) => e === 'delta').map(([, d]) => d.text).join('');
  assert.equal(text, result.message.text);
  assert.deepEqual(seen.at(-1)[1], result);
  assert.equal(seen.at(-2)[1].input.event_id, event.id);
  assert.equal(result.pending_action.token, seen.at(-2)[1].token);
  // any other operation: done only
  const names2 = [];
  await store.execStream('assistant.conversations', {}, ann, (ev) => { names2.push(ev); });
  assert.deepEqual(names2, ['done']);
  assert.throws(() => store.execStream('assistant.ask', { message: 'x' }, ann), TypeError);
});

test('execStream: onEvent returning false (or throwing) stops the call, nothing stored', async (t) => {
  if (!hasOp('assistant.ask')) {
    t.skip('no assistant in this library');
    return;
  }
  const { store, ann } = await setup(t);
  let n = 0;
  await assert.rejects(store.execStream('assistant.ask', { message: 'Which rust meetups?' }, ann,
    () => ++n < 2), { code: 'CM_ECANCELED' });
  assert.equal(n, 2, 'no event after the one that stopped it');
  await assert.rejects(store.execStream('assistant.ask', { message: 'Which rust meetups?' }, ann,
    () => { throw new Error('reader failed'); }), { code: 'CM_ECANCELED' });
  const convs = await store.assistant.conversations({}, ann);
  assert.deepEqual(convs.items, []);
});
