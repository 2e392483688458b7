/*
 * errors.test.mjs - how failures reach JavaScript: library errors reject
 * with Error objects carrying code/status/field/op; wrong argument types
 * throw TypeError (or RangeError) synchronously, naming the parameter.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { cm, freshStore, email } from './helpers.mjs';

test('library errors are Error objects with code, status, message, field', async (t) => {
  const store = await freshStore(t);
  const err = await store.members.signup({ email: 'not-an-email', name: 'X' }).then(
    () => assert.fail('should reject'), (e) => e);
  assert.ok(err instanceof Error);
  assert.equal(err.code, 'CM_EINVAL');
  assert.equal(err.status, cm.codes.CM_EINVAL);
  assert.equal(err.field, 'email');
  assert.equal(err.op, 'members.signup');
  assert.match(err.message, /\S/);
});

test('each expected code maps to its name', async (t) => {
  const store = await freshStore(t);
  await assert.rejects(store.exec('no.such_op', {}), { code: 'CM_EUNKNOWNOP', status: -22 });
  await assert.rejects(store.members.list({ bogus: 1 }), { code: 'CM_EINVAL', field: 'bogus' });
  await assert.rejects(store.members.list({ limit: 1000 }), { code: 'CM_EINVAL', field: 'limit' });
  await assert.rejects(store.members.me({}), { code: 'CM_EAUTH' });
  await assert.rejects(store.members.me({}, { token: 'cms_nope' }), { code: 'CM_EAUTH' });
  await assert.rejects(store.members.me({}, { memberId: 999999 }), { code: 'CM_ENOTFOUND' });
  await assert.rejects(store.members.get({ member_id: 424242 }), { code: 'CM_ENOTFOUND' });
  const addr = email('dup');
  const { member } = await store.members.signup({ email: addr, name: 'Dup' });
  await assert.rejects(store.members.signup({ email: addr, name: 'Dup' }), { code: 'CM_EEXISTS' });
  await assert.rejects(store.members.set_role({ member_id: member.id, role: 'admin' },
    { memberId: member.id }), { code: 'CM_EPERM' });
});

test('a field-less error has no field property', async (t) => {
  const store = await freshStore(t);
  const err = await store.members.me({}).catch((e) => e);
  assert.equal(err.code, 'CM_EAUTH');
  assert.equal('field' in err, false);
});

test('open() failures reject with library codes', async () => {
  await assert.rejects(cm.open('nosuch://x'), (e) => e instanceof Error && /^CM_E/.test(e.code));
  assert.throws(() => cm.openSync('nosuch://x'), (e) => /^CM_E/.test(e.code));
});

test('wrong argument types throw TypeError naming the parameter', async (t) => {
  const store = await freshStore(t);
  const cases = [
    [() => store.exec(42), TypeError, /opName/],
    [() => store.exec(), TypeError, /opName/],
    [() => store.exec('members.list', 'q=x'), TypeError, /input/],
    [() => store.exec('members.list', [1, 2]), TypeError, /input/],
    [() => store.exec('members.list', 5), TypeError, /input/],
    [() => store.members.list({}, 'token'), TypeError, /actor/],
    [() => store.members.list({}, { token: 5 }), TypeError, /actor\.token/],
    [() => store.members.list({}, { memberId: '1' }), TypeError, /actor\.memberId/],
    [() => store.members.list({}, { memberId: 1.5 }), RangeError, /actor\.memberId/],
    [() => store.members.list({}, { memberId: 0 }), RangeError, /actor\.memberId/],
    [() => store.members.list({}, { system: 'yes' }), TypeError, /actor\.system/],
    [() => store.members.list({}, { token: 't', system: true }), TypeError, /only one/],
    [() => store.members.list({}, { member_id: 1 }), TypeError, /unknown key 'member_id'/],
    [() => store.members.list({ n: 1n }), TypeError, /BigInt/],
    [() => cm.openSync(5), TypeError, /uri/],
    [() => cm.open(), TypeError, /uri/],
    [() => cm.open('sqlite::memory:', 'fast'), TypeError, /options/],
    [() => cm.open('sqlite::memory:', { poolSize: 'x' }), TypeError, /options\.poolSize/],
    [() => cm.open('sqlite::memory:', { poolSize: -1 }), RangeError, /options\.poolSize/],
    [() => cm.open('sqlite::memory:', { migrate: 1 }), TypeError, /options\.migrate/],
    [() => cm.open('sqlite::memory:', { pool: 1 }), TypeError, /unknown key 'pool'/],
    [() => new cm.Store(), TypeError, /open\(\)/],
    [() => new cm.Store({}), TypeError, /open\(\)/],
    [() => cm.Store.prototype.exec.call({}, 'members.list'), TypeError, /Store|Illegal invocation/],
    [() => cm.Store.prototype.close.call(null), TypeError, /Store|Illegal invocation/],
  ];
  for (const [fn, type, re] of cases) {
    let threw;
    try {
      fn();
    } catch (e) {
      threw = e;
    }
    assert.ok(threw, `expected a throw for ${fn}`);
    assert.ok(threw instanceof type, `${fn}: ${threw}`);
    assert.match(threw.message, re, String(fn));
  }
  /* undefined keys of the actor count as absent: an anonymous call. */
  const list = await store.members.list({}, { token: undefined });
  assert.ok(Array.isArray(list.items));
  assert.equal(store.pending, 0, 'nothing was queued by the failed calls');
});
