#!/usr/bin/env node
// deploy/staging/e2e.mjs - end-to-end checks of a deployed environment
// through its public URL, as the CD workflow runs them against staging
// (and the smoke part against production). TAP on stdout, exit 1 on any
// failure. Node 20, no dependencies.
//
//   node deploy/staging/e2e.mjs BASE_URL [--smoke]
//
// smoke  the web tier answers /api/health and renders /, the API serves
//        /openapi.json and GET /v1/events (the load balancer's two routes);
// e2e    a new member signs up with a password (and gets a session), reads
//        their profile with it, signs out, signs in again, and the old
//        token no longer works. The member's address is
//        e2e+<time>-<random>@example.org (example.org takes no mail).
"use strict";

const [base, mode] = process.argv.slice(2);
if (!base || !/^https?:\/\//.test(base)) {
  console.error("usage: e2e.mjs BASE_URL [--smoke]");
  process.exit(2);
}
const root = base.replace(/\/+$/, "");
let n = 0;
let failed = 0;

async function check(name, fn) {
  n++;
  try {
    await fn();
    console.log(`ok ${n} - ${name}`);
  } catch (e) {
    failed++;
    console.log(`not ok ${n} - ${name}`);
    for (const line of String(e && e.message ? e.message : e).split("\n")) console.log(`# ${line}`);
  }
}

async function call(method, path, { body, token, expect = 200 } = {}) {
  const headers = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (token) headers.authorization = `Bearer ${token}`;
  const r = await fetch(root + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    redirect: "manual",
    signal: AbortSignal.timeout(15000),
  });
  const text = await r.text();
  const ok = Array.isArray(expect) ? expect.includes(r.status) : r.status === expect;
  if (!ok) throw new Error(`${method} ${path}: ${r.status}, expected ${expect}\n${text.slice(0, 500)}`);
  try {
    return { status: r.status, json: JSON.parse(text), text };
  } catch {
    return { status: r.status, json: null, text };
  }
}

await check("web: GET /api/health is 200", () => call("GET", "/api/health"));
await check("web: GET / renders a page", async () => {
  const r = await call("GET", "/");
  if (!/<html/i.test(r.text)) throw new Error("no <html> in the home page");
});
await check("api: GET /openapi.json is an OpenAPI document", async () => {
  const r = await call("GET", "/openapi.json");
  if (!r.json || !r.json.openapi) throw new Error("no openapi field");
});
await check("api: GET /v1/events lists events", async () => {
  const r = await call("GET", "/v1/events");
  if (!r.json) throw new Error("not JSON");
});

if (mode !== "--smoke") {
  const email = `e2e+${Date.now()}-${Math.random().toString(36).slice(2, 8)}@example.org`;
  const password = `E2e-${Math.random().toString(36).slice(2)}-pw`;
  let token = null;
  let token2 = null;
  await check("members.signup: a new member gets a session", async () => {
    const r = await call("POST", "/v1/members", { body: { email, name: "E2E check", password }, expect: [200, 201] });
    token = r.json && r.json.session && r.json.session.token;
    if (!token) throw new Error(`no session token in ${r.text.slice(0, 300)}`);
  });
  await check("members.me: the session reads the member's profile", async () => {
    const r = await call("GET", "/v1/me", { token });
    const got = r.json && (r.json.email || (r.json.member && r.json.member.email));
    if (got !== email) throw new Error(`profile e-mail ${got}, expected ${email}`);
  });
  await check("auth.logout: the session ends", () =>
    call("POST", "/v1/sessions/logout", { token, body: { token }, expect: [200, 204] }));
  await check("auth.login: the member signs in again", async () => {
    const r = await call("POST", "/v1/sessions", { body: { email, password } });
    token2 = r.json && r.json.session && r.json.session.token;
    if (!token2 || token2 === token) throw new Error("no new session token");
  });
  await check("the ended session is refused", () => call("GET", "/v1/me", { token, expect: 401 }));
  await check("the new session works", () => call("GET", "/v1/me", { token: token2 }));
}

console.log(`1..${n}`);
console.log(`# ${n - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
