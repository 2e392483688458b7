/*
 * e2e/harness.mjs - what the browser tests share: where the app and the
 * screenshots are, the chromium binary, a free port, `next start` on a
 * production build, waiting for /api/health, seeding a user, launching
 * headless chromium. Not a test file itself (node --test picks up
 * *.test.mjs only).
 */
import { spawn, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const appDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const artifacts = resolve(process.env.E2E_ARTIFACTS ?? join(appDir, 'test-results', 'e2e'));
export const chromiumPath = process.env.CHROMIUM
  ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));

export function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The environment of the app and of scripts/seed.mjs: a production app on
 * database `db`, no telemetry, plus `extra`. */
export function appEnv(db, extra = {}) {
  return { ...process.env, COMMUNITY_DB: db, ...extra, NEXT_TELEMETRY_DISABLED: '1', NODE_ENV: 'production' };
}

/** Seed a user with scripts/seed.mjs (args: --email ... --role ...); returns what it prints, parsed. */
export function seed(env, args) {
  return JSON.parse(execFileSync(process.execPath, [join(appDir, 'scripts', 'seed.mjs'), ...args],
    { cwd: appDir, env, encoding: 'utf8' }));
}

/** `next start` on localhost:`port` with `env`; its output goes to `onLog`. */
export function startNext(port, env, onLog) {
  const server = spawn(process.execPath,
    [join(appDir, 'node_modules', 'next', 'dist', 'bin', 'next'), 'start', '-p', String(port), '-H', 'localhost'],
    { cwd: appDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  server.stdout.on('data', onLog);
  server.stderr.on('data', onLog);
  return server;
}

/** Wait until the app answers /api/health (bounded: 120 tries, 0.5 s apart);
 * resolves with the health answer. */
export async function waitReady(base, server) {
  for (let i = 0; i < 120; i++) {
    if (server.exitCode !== null)
      throw new Error(`next start exited with ${server.exitCode}`);
    try {
      const r = await fetch(`${base}/api/health`);
      if (r.ok)
        return r.json();
    } catch {
      /* not listening yet */
    }
    await sleep(500);
  }
  throw new Error('the app did not become ready');
}

/** Headless Debian chromium (no downloaded browser), `extraArgs` appended. */
export function launchChromium(extraArgs = []) {
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync', ...extraArgs],
  });
}

/** A full-page screenshot taker: artifacts/<prefix>NN-<name>.png, numbered from 01. */
export function screenshots(prefix) {
  let shotNo = 0;
  return (page, name) => page.screenshot({
    path: join(artifacts, `${prefix}${String(++shotNo).padStart(2, '0')}-${name}.png`), fullPage: true,
  });
}
