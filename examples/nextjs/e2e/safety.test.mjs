/*
 * e2e/safety.test.mjs - unit tests of lib/safety.ts (the redirect target
 * after sign-in, the Secure-cookie check). The TypeScript file is
 * transpiled with the app's own `typescript` package; no build needed.
 */
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';

const appDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const source = readFileSync(join(appDir, 'lib', 'safety.ts'), 'utf8');
const js = ts.transpileModule(source, {
  compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
}).outputText;
const dir = mkdtempSync(join(tmpdir(), 'cm-safety-'));
writeFileSync(join(dir, 'safety.mjs'), js);
const { safeNextPath, secureCookieProblem } = await import(pathToFileURL(join(dir, 'safety.mjs')).href);
rmSync(dir, { recursive: true, force: true });

test('safeNextPath keeps same-origin relative paths', () => {
  for (const p of ['/', '/events/7', '/organize', '/events/7?tab=rsvps#top', '/a/b%2Fc'])
    assert.equal(safeNextPath(p), p);
});

test('safeNextPath refuses anything that can leave the site', () => {
  for (const p of [
    '/\\evil.example', '\\\\evil.example', '//evil.example', '///evil.example',
    '/events//x', 'https://evil.example', 'http:/evil.example', 'evil.example',
    'javascript:alert(1)', '/\tevil', '/\n/evil.example', '/\u0000', '/ evil', '/\u007f',
    '', undefined, null, '/' + 'a'.repeat(3000),
  ])
    assert.equal(safeNextPath(p), '/', JSON.stringify(p));
});

test('secureCookieProblem: HTTPS and localhost are fine', () => {
  const ok = [
    { host: 'community.example', origin: 'https://community.example', forwardedProto: null },
    { host: 'community.example', origin: null, forwardedProto: 'https' },
    { host: 'community.example', origin: 'http://community.example', forwardedProto: 'https,http' },
    { host: 'localhost:3000', origin: 'http://localhost:3000', forwardedProto: 'http' },
    { host: '127.0.0.1:3000', origin: null, forwardedProto: null },
    { host: '[::1]:3000', origin: 'http://[::1]:3000', forwardedProto: null },
    { host: 'app.localhost', origin: 'http://app.localhost', forwardedProto: null },
  ];
  for (const req of ok)
    assert.equal(secureCookieProblem(req), null, JSON.stringify(req));
});

test('secureCookieProblem: plain HTTP elsewhere is explained', () => {
  const bad = [
    { host: 'community.test:3000', origin: 'http://community.test:3000', forwardedProto: 'http' },
    { host: '192.168.1.20', origin: null, forwardedProto: null },
    { host: 'localhost.evil.example', origin: null, forwardedProto: null },
  ];
  for (const req of bad)
    assert.match(secureCookieProblem(req) ?? '', /plain HTTP.*HTTPS.*COOKIE_SECURE=0/s, JSON.stringify(req));
});

/* lib/security-headers.ts, transpiled the same way. */
const hdrDir = mkdtempSync(join(tmpdir(), 'cm-headers-'));
writeFileSync(join(hdrDir, 'headers.mjs'), ts.transpileModule(
  readFileSync(join(appDir, 'lib', 'security-headers.ts'), 'utf8'),
  { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText);
const { contentSecurityPolicy, strictTransportSecurity, STATIC_SECURITY_HEADERS } =
  await import(pathToFileURL(join(hdrDir, 'headers.mjs')).href);
rmSync(hdrDir, { recursive: true, force: true });

test('the CSP allows scripts by nonce only, no framing, eval only in development', () => {
  const csp = contentSecurityPolicy('abc');
  assert.match(csp, /script-src 'self' 'nonce-abc' 'strict-dynamic'(;|$)/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.match(csp, /object-src 'none'/);
  assert.doesNotMatch(csp, /unsafe-eval|script-src[^;]*unsafe-inline/);
  assert.match(contentSecurityPolicy('abc', true), /'unsafe-eval'/);
  assert.deepEqual(Object.fromEntries(STATIC_SECURITY_HEADERS), {
    'X-Frame-Options': 'DENY', 'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'strict-origin-when-cross-origin',
  });
});

test('HSTS only over HTTPS, max-age from HSTS_MAX_AGE, 0 turns it off', () => {
  const hsts = (protocol, forwardedProto, maxAge) =>
    strictTransportSecurity({ protocol, forwardedProto, maxAge });
  assert.equal(hsts('http:', null, undefined), null);
  assert.equal(hsts('http:', 'http', '600'), null);
  assert.equal(hsts('https:', null, undefined), 'max-age=31536000; includeSubDomains');
  assert.equal(hsts('http:', 'https, http', ''), 'max-age=31536000; includeSubDomains');
  assert.equal(hsts('http:', 'HTTPS', '600'), 'max-age=600; includeSubDomains');
  assert.equal(hsts('https:', null, '0'), null);
  assert.throws(() => hsts('https:', null, '1y'), /HSTS_MAX_AGE/);
});
