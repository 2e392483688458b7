#!/usr/bin/env node
/*
 * scripts/seed.mjs - create a member with a platform role through the addon
 * and the system actor (there is no sign-up path to the organizer role).
 *
 *   COMMUNITY_DB=sqlite:///abs/community.db \
 *     node scripts/seed.mjs --email org@example.org --name Olga --password '...' --role organizer
 *
 * An existing member with that e-mail keeps its password and gets the role.
 * Prints the member as JSON.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import cm from '@libcommunity/node';

const { values } = parseArgs({
  options: {
    email: { type: 'string' }, name: { type: 'string' }, password: { type: 'string' },
    role: { type: 'string', default: 'organizer' },
  },
});
if (!values.email || !values.name) {
  console.error('usage: seed.mjs --email E --name N [--password P] [--role organizer|moderator|admin|member]');
  process.exit(2);
}
const uri = process.env.COMMUNITY_DB ?? `sqlite://${path.join(process.cwd(), 'community.db')}`;
const store = await cm.open(uri);
const system = { system: true };
try {
  let member;
  try {
    ({ member } = await store.members.signup({
      email: values.email, name: values.name,
      ...(values.password ? { password: values.password } : {}),
    }));
  } catch (e) {
    if (e.code !== 'CM_EEXISTS')
      throw e;
    const list = await store.members.list({ q: values.name, limit: 100 }, system);
    member = list.items.find((m) => m.email === values.email.toLowerCase() || m.email === values.email);
    if (!member)
      throw e;
  }
  if (values.role !== 'member' && member.role !== values.role)
    member = await store.members.set_role({ member_id: member.id, role: values.role }, system);
  console.log(JSON.stringify(member));
} finally {
  await store.close();
}
