/*
 * package.test.mjs - the npm package: version, generated index.d.ts,
 * `npm pack` contents, the $ORIGIN rpath, and an install of the tarball
 * into a fresh project that then opens a store.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cm, pkgDir, tempDir } from './helpers.mjs';

const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));

test('package.json version is the library version', () => {
  assert.equal(pkg.version, cm.version);
  assert.equal(pkg.main, 'index.js');
  assert.equal(pkg.types, 'index.d.ts');
});

test('index.d.ts declares every operation of the table', () => {
  const dts = readFileSync(join(pkgDir, 'index.d.ts'), 'utf8');
  assert.match(dts, new RegExp(`operation table of libcommunity ${cm.version.replace(/\./g, '\\.')}`));
  for (const op of cm.describe().operations) {
    assert.ok(dts.includes(`${JSON.stringify(op.name)}: { input:`), op.name);
    const verb = op.name.slice(op.name.indexOf('.') + 1);
    assert.match(dts, new RegExp(`\\n  ${verb}\\(input\\??: \\w+Input, actor\\?: Actor\\): Promise<\\w+Result>;`), op.name);
  }
  /* Required fields are required in the type, optional ones optional. */
  assert.match(dts, /export interface MembersSignupInput \{[^}]*\n  email: string;/);
  assert.match(dts, /export interface MembersSignupInput \{[^}]*\n  password\?: string;/);
  assert.match(dts, /role: "member" \| "organizer" \| "moderator" \| "admin";/);
  for (const code of Object.keys(cm.codes))
    assert.ok(dts.includes(`| "${code}"`), code);
});

test('the addon finds libcommunity.so.0 through $ORIGIN', (t) => {
  const r = spawnSync('readelf', ['-d', join(pkgDir, 'community.node')], { encoding: 'utf8' });
  if (r.error) {
    t.skip('readelf not available');
    return;
  }
  const rpath = /R(?:UN)?PATH.*\[(.*)\]/.exec(r.stdout);
  assert.ok(rpath, 'the addon has an rpath');
  for (const entry of rpath[1].split(':'))
    assert.match(entry, /^\$ORIGIN\/?$/, 'only $ORIGIN: nothing of the build tree');
  assert.match(r.stdout, /NEEDED.*libcommunity\.so\.0/);
});

test('npm pack yields a tarball that installs and runs', (t) => {
  if (spawnSync('npm', ['--version']).status !== 0) {
    t.skip('npm is not installed');
    return;
  }
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  const packed = JSON.parse(execFileSync('npm',
    ['pack', '--json', '--pack-destination', dir], { cwd: pkgDir, encoding: 'utf8' }));
  const files = packed[0].files.map((f) => f.path).sort();
  assert.deepEqual(files, ['README.md', 'community.node', 'index.d.ts', 'index.js',
    'libcommunity.so.0', 'package.json']);
  const tarball = join(dir, packed[0].filename);

  const app = join(dir, 'app');
  execFileSync('mkdir', ['-p', app]);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
  execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', tarball], { cwd: app, encoding: 'utf8' });
  const out = execFileSync(process.execPath, ['-e', `
    const cm = require('@libcommunity/node');
    cm.open('sqlite::memory:').then(async (s) => {
      const r = await s.members.signup({ email: 'pack@example.org', name: 'Packed' });
      await s.close();
      console.log(cm.version, r.member.id);
    });`], { cwd: app, encoding: 'utf8', env: { ...process.env, LD_LIBRARY_PATH: '' } });
  assert.equal(out.trim(), `${cm.version} 1`);
});

/* The TypeScript compiler of the example app, when it is installed. */
function findTsc() {
  const candidates = [
    process.env.CM_TSC,
    join(process.env.CM_NODE_SOURCE_DIR ?? '', '..', '..', 'examples', 'nextjs', 'node_modules',
      'typescript', 'bin', 'tsc'),
  ];
  return candidates.find((p) => p && existsSync(p));
}

test('index.d.ts type-checks calls and rejects wrong inputs', (t) => {
  const tsc = findTsc();
  if (!tsc) {
    t.skip('typescript not installed (npm ci in examples/nextjs, or set CM_TSC)');
    return;
  }
  const { dir, cleanup } = tempDir();
  t.after(cleanup);
  copyFileSync(join(pkgDir, 'index.d.ts'), join(dir, 'cm.d.ts'));
  writeFileSync(join(dir, 'usage.ts'), `
import { open, codes, vec, type Store, type CommunityError, type ErrorCode } from './cm';
export async function use(): Promise<number> {
  const s: Store = await open('sqlite::memory:', { poolSize: 2 });
  const r = await s.members.signup({ email: 'a@example.org', name: 'A', password: 'long enough' });
  await s.exec('members.list', { limit: 5 }, { system: true });
  await s.members.me({}, { token: r.session?.token });
  const id: number = r.member.id;
  const page = await s.exec('members.list', { limit: 5 });
  const next: string | null = page.next_cursor;
  const ev = await s.events.get({ event_id: 1 });
  const seats: number | null = ev.counts.seats_left;
  // @ts-expect-error: a member has no such key
  r.member.nosuch;
  // @ts-expect-error: the RSVP status is an enum
  const bad: 'maybe' = (await s.rsvps.add({ event_id: 1 })).status;
  await s.members.me(undefined, { memberId: 1 });
  // @ts-expect-error: name is required
  await s.members.signup({ email: 'a@example.org' });
  // @ts-expect-error: no such field
  await s.members.list({ bogus: 1 });
  // @ts-expect-error: not a role
  await s.members.set_role({ member_id: 1, role: 'king' });
  // @ts-expect-error: limit is a number
  await s.exec('members.list', { limit: '5' });
  // @ts-expect-error: no such module
  s.nosuch;
  await s.defineJob('mail.send', { maxAttempts: 2, backoff: 'fixed' });
  const jobId: number = await s.enqueue('mail.send', { to: 'a' }, { delayMs: 10 });
  const sched = s.createScheduler({ threads: 2 });
  sched.register('mail.send', async (job) => ({ sent: job.payload.to, lost: job.lost() }));
  // @ts-expect-error: handlers are functions
  sched.register('mail.send', 'nope');
  sched.start();
  await sched.close();
  const code: ErrorCode = (new Error() as CommunityError).code;
  await s.close();
  return id + (next ? 1 : 0) + (seats ?? 0) + bad.length + jobId + codes.CM_EINVAL + vec.cosine(new Float32Array(2), new Float32Array(2)) + code.length;
}
`);
  const r = spawnSync(process.execPath, [tsc, '--noEmit', '--strict', '--target', 'es2022',
    '--module', 'esnext', '--moduleResolution', 'bundler', '--lib', 'es2022',
    join(dir, 'usage.ts')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
});
