// server.mjs - the Node.js baseline for bench/http: node:http + better-sqlite3
// on the SAME SQLite file community-server uses, doing the same work for the
// three benchmarked routes with the same SQL as libcommunity's catalogue
// (lib/store/sqlite/sql_*.c) and pragmas of the same durability (WAL, synchronous=FULL;
// the library syncs once per group of concurrent commits instead):
//   GET /healthz                    constant JSON
//   GET /v1/events?limit=N          event.list as an anonymous caller
//   PUT /v1/events/:id/rsvp         session lookup + rsvps.add (going, no guests)
//                                   + audit row, in one IMMEDIATE transaction
// It is a baseline, not a second implementation: no validation beyond what
// these requests need, no waitlist or capacity edge cases.
import http from "node:http";
import crypto from "node:crypto";
import Database from "better-sqlite3";

const [dbPath, portArg] = process.argv.slice(2);
const db = new Database(dbPath);
db.pragma("journal_mode = WAL");
db.pragma("synchronous = FULL");
db.pragma("busy_timeout = 5000");
db.pragma("foreign_keys = ON");

// The catalogue's SQL numbers its parameters (?1, ?2, ...): better-sqlite3
// binds those by object key.
const P = (a) => Object.fromEntries(a.map((v, i) => [i + 1, v]));
function prep(sql) {
  const s = db.prepare(sql);
  return { get: (...a) => s.get(P(a)), all: (...a) => s.all(P(a)), run: (...a) => s.run(P(a)) };
}

const EVENT_COLS = (v) =>
  "e.id, e.title, e.description, e.status, e.format, e.venue, e.online_url, e.timezone, " +
  "e.start_local, e.end_local, e.start_at, e.end_at, e.capacity, e.seats_taken, " +
  "e.waitlist_count, e.group_id, e.created_by, e.version, e.created_at, e.updated_at, " +
  "e.published_at, e.cancelled_at, " +
  `(SELECT r.status FROM rsvps r WHERE r.event_id = e.id AND r.member_id = ${v}) AS my_rsvp, ` +
  `EXISTS (SELECT 1 FROM event_organizers o WHERE o.event_id = e.id AND o.member_id = ${v}) AS is_org, ` +
  "g.visibility AS gvis, " +
  `EXISTS (SELECT 1 FROM group_members gm WHERE gm.group_id = e.group_id AND gm.member_id = ${v} AND gm.status = 'active') AS in_group`;
const EVENT_FROM = " FROM events e LEFT JOIN groups g ON g.id = e.group_id";
const listSql =
  "SELECT " + EVENT_COLS("?1") + EVENT_FROM + " WHERE e.end_at > ?4 " +
  "AND (?5 IS NULL OR e.start_at < ?5) AND (?6 IS NULL OR e.format = ?6) " +
  "AND (?7 IS NULL OR e.group_id = ?7) " +
  "AND (?8 IS NULL OR EXISTS (SELECT 1 FROM event_organizers o2 WHERE o2.event_id = e.id AND o2.member_id = ?8)) " +
  "AND (?9 IS NULL OR lower(e.title) LIKE ?9 ESCAPE '\\') " +
  "AND (?10 IS NULL OR e.start_at > ?10 OR (e.start_at = ?10 AND e.id > ?11)) " +
  "AND (CASE WHEN e.status = 'draft' THEN ?3 = 1 AND (?2 = 1 OR EXISTS (SELECT 1 FROM " +
  "event_organizers o3 WHERE o3.event_id = e.id AND o3.member_id = ?1)) " +
  "ELSE ?2 = 1 OR e.group_id IS NULL OR g.visibility = 'public' " +
  "OR EXISTS (SELECT 1 FROM event_organizers o4 WHERE o4.event_id = e.id AND o4.member_id = ?1) " +
  "OR EXISTS (SELECT 1 FROM group_members gm2 WHERE gm2.group_id = e.group_id " +
  "AND gm2.member_id = ?1 AND gm2.status = 'active') END) " +
  "ORDER BY e.start_at, e.id LIMIT ?12";
const q = {
  list: prep(listSql),
  get: prep("SELECT " + EVENT_COLS("?2") + EVENT_FROM + " WHERE e.id = ?1"),
  actor: prep(
    "SELECT m.id, m.role FROM sessions s JOIN members m ON m.id = s.member_id " +
    "WHERE s.token_hash = ?1 AND s.revoked_at IS NULL AND s.expires_at > ?2 AND m.status = 'active'"),
  lock: prep("UPDATE events SET seats_taken = seats_taken WHERE id = ?1"),
  rsvpGet: prep(
    "SELECT id, status, guests, seats, waitlist_seq, created_at, updated_at FROM rsvps " +
    "WHERE event_id = ?1 AND member_id = ?2"),
  seatsTake: prep(
    "UPDATE events SET seats_taken = seats_taken + ?2 WHERE id = ?1 " +
    "AND (capacity IS NULL OR seats_taken + ?2 <= capacity) AND (?3 = 0 OR waitlist_count = 0)"),
  upsert: prep(
    "INSERT INTO rsvps (event_id, member_id, status, guests, seats, waitlist_seq, created_at, " +
    "updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7) ON CONFLICT (event_id, member_id) " +
    "DO UPDATE SET status = excluded.status, guests = excluded.guests, seats = excluded.seats, " +
    "waitlist_seq = excluded.waitlist_seq, updated_at = excluded.updated_at RETURNING id"),
  metric: prep(
    "INSERT INTO metric_counters (name, value) VALUES (?1, ?2) " +
    "ON CONFLICT (name) DO UPDATE SET value = value + excluded.value"),
  audit: prep(
    "INSERT INTO audit_log (at, actor_id, actor_role, op, target_type, target_id) " +
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
  rsvpById: prep(
    "SELECT id, event_id, member_id, status, guests, seats, waitlist_seq, created_at, " +
    "updated_at FROM rsvps WHERE id = ?1"),
};

const nowUs = () => Date.now() * 1000;
const iso = (us) => (us == null ? null : new Date(Math.floor(us / 1000)).toISOString());

function eventJson(r) {
  const left = r.capacity == null ? null : Math.max(0, r.capacity - r.seats_taken);
  const e = {
    id: r.id, title: r.title, description: r.description, status: r.status, format: r.format,
    venue: r.venue, timezone: r.timezone, start_local: r.start_local, end_local: r.end_local,
    start: iso(r.start_at), end: iso(r.end_at), capacity: r.capacity,
    counts: { capacity: r.capacity, going_seats: r.seats_taken, waitlisted: r.waitlist_count,
              seats_left: left },
    group_id: r.group_id, created_by: r.created_by, version: r.version,
    created_at: iso(r.created_at), updated_at: iso(r.updated_at),
    published_at: iso(r.published_at), cancelled_at: iso(r.cancelled_at),
    my_rsvp: r.my_rsvp, is_organizer: !!r.is_org,
  };
  if (r.is_org || r.my_rsvp === "going") e.online_url = r.online_url;
  return e;
}

function send(res, status, obj) {
  const body = JSON.stringify(obj);
  res.writeHead(status, { "Content-Type": status >= 400 ? "application/problem+json" : "application/json",
                          "Content-Length": Buffer.byteLength(body) });
  res.end(body);
}

const rsvpTx = db.transaction((eventId, memberId, role, now) => {
  q.lock.run(eventId);
  const ev = q.get.get(eventId, memberId);
  if (!ev) return [404, { status: 404, code: "CM_ENOTFOUND" }];
  if (ev.status !== "published" || ev.end_at <= now)
    return [409, { status: 409, code: "CM_ECONSTRAINT", field: "event_id" }];
  const cur = q.rsvpGet.get(eventId, memberId);
  let status = "going", seats = 1, fresh = false;
  if (!cur || cur.status !== "going") {
    fresh = !cur;
    const took = q.seatsTake.run(eventId, 1, 1).changes === 1;
    if (!took) status = "waitlisted", seats = 0; // baseline: no waitlist sequence kept
  }
  const id = q.upsert.get(eventId, memberId, status, 0, seats, status === "waitlisted" ? 1 : null, now).id;
  if (fresh) q.metric.run("rsvps", 1);
  q.audit.run(now, memberId, role, "rsvps.add", "rsvp", id);
  const r = q.rsvpById.get(id);
  return [200, { id: r.id, event_id: r.event_id, member_id: r.member_id, status: r.status,
                 guests: r.guests, created_at: iso(r.created_at), updated_at: iso(r.updated_at) }];
});

function handle(req, res, body) {
  const url = new URL(req.url, "http://x");
  if (req.method === "GET" && url.pathname === "/healthz") return send(res, 200, { status: "ok" });
  if (req.method === "GET" && url.pathname === "/v1/events") {
    const limit = Math.min(100, Math.max(1, parseInt(url.searchParams.get("limit") || "20", 10)));
    const rows = q.list.all(0, 0, 0, nowUs(), null, null, null, null, null, null, null, limit + 1);
    const more = rows.length > limit;
    const items = rows.slice(0, limit).map(eventJson);
    const last = items.length ? rows[items.length - 1] : null;
    return send(res, 200, { items, next_cursor: more && last ? `${last.start_at}.${last.id}` : null });
  }
  const m = /^\/v1\/events\/(\d+)\/rsvp$/.exec(url.pathname);
  if (req.method === "PUT" && m) {
    const auth = req.headers.authorization || "";
    if (!auth.startsWith("Bearer ")) return send(res, 401, { status: 401, code: "CM_EAUTH" });
    try { JSON.parse(body || "{}"); } catch { return send(res, 400, { status: 400, code: "CM_EINVAL" }); }
    const hash = crypto.createHash("sha256").update(auth.slice(7)).digest("hex");
    const now = nowUs();
    const actor = q.actor.get(hash, now);
    if (!actor) return send(res, 401, { status: 401, code: "CM_EAUTH" });
    const [st, obj] = rsvpTx.immediate(Number(m[1]), actor.id, actor.role, now);
    return send(res, st, obj);
  }
  return send(res, 404, { status: 404, code: "CM_EUNKNOWNOP" });
}

const server = http.createServer({ keepAliveTimeout: 65000 }, (req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    try { handle(req, res, Buffer.concat(chunks).toString()); }
    catch (e) { send(res, 500, { status: 500, code: "CM_ERROR", detail: String(e.code || e) }); }
  });
});
server.listen(Number(portArg || 0), "127.0.0.1", () => {
  console.log(JSON.stringify({ msg: "listening", url: `http://127.0.0.1:${server.address().port}` }));
});
process.on("SIGTERM", () => server.close(() => { db.close(); process.exit(0); }));
