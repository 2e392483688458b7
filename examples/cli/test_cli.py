#!/usr/bin/env python3
"""test_cli.py - runs the real `community` binary against a temporary SQLite
file and checks help output, exit codes per error class, table and JSON
output, flag parsing from the input schema, seed files with references,
migrate and the demo data. Prints TAP.

usage: test_cli.py PATH/TO/community PATH/TO/demo.json
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import traceback

BIN = os.path.abspath(sys.argv[1])
DEMO = os.path.abspath(sys.argv[2])
TMP = tempfile.mkdtemp(prefix="cm-cli-test-")
DB = "sqlite://" + os.path.join(TMP, "t.db")


def run(*args, stdin=None, db=DB, cwd=None, extra_env=None):
    env = dict(os.environ)
    env["COMMUNITY_DB"] = db
    env.update(extra_env or {})
    p = subprocess.run([BIN, *args], input=stdin, capture_output=True, text=True, env=env,
                       timeout=120, cwd=cwd)
    res = (p.returncode, p.stdout, p.stderr)
    expect("Sanitizer" not in p.stderr and "runtime error:" not in p.stderr,
           "no sanitizer report", res)
    return res


def expect(cond, what, res=None):
    if not cond:
        detail = what
        if res is not None:
            detail += "\n  rc=%r\n  stdout=%r\n  stderr=%r" % res
        raise AssertionError(detail)


def expect_rc(res, rc):
    expect(res[0] == rc, "exit code %d expected" % rc, res)


def rjson(*args, **kw):
    res = run("--json", *args, **kw)
    expect_rc(res, 0)
    return json.loads(res[1])


def signup(email, name, *extra):
    return rjson("members", "signup", "--email", email, "--name", name, *extra)["member"]


# ---------------------------------------------------------------- tests

def test_help_top():
    res = run("--help")
    expect_rc(res, 0)
    for s in ("Modules", "members", "migrate", "seed", "Exit codes", "--db URI", "--as EMAIL"):
        expect(s in res[1], "top help mentions %s" % s, res)


def test_help_module():
    res = run("members", "--help")
    expect_rc(res, 0)
    expect("signup" in res[1] and "set-role" in res[1], "verbs listed", res)
    expect("Create a member account" in res[1], "summaries listed", res)


def test_help_operation():
    for args in (("members", "signup", "--help"), ("help", "members", "signup")):
        res = run(*args)
        expect_rc(res, 0)
        out = res[1]
        for s in ("--email TEXT", "required", "POST /v1/members", "role:", "anonymous",
                  "--[no-]discoverable", "one of public|members|private",
                  "<= 32 items", "1..100 chars", "Display name"):
            expect(s in out, "operation help mentions %r" % s, res)
    res = run("members", "set_role", "--help")
    expect_rc(res, 0)
    expect("--member-id INT" in res[1] and "in path" in res[1], "path param flagged", res)


def test_usage_errors():
    res = run()
    expect_rc(res, 2)
    expect("usage:" in res[2], "usage printed on stderr", res)
    expect_rc(run("nosuchmodule", "list"), 2)
    res = run("members", "nosuchverb")
    expect_rc(res, 2)
    expect("unknown verb" in res[2] and "signup" in res[2], "verbs listed on error", res)
    res = run("members", "list", "--bogus", "1")
    expect_rc(res, 2)
    expect("unknown flag '--bogus'" in res[2], "unknown flag named", res)
    expect_rc(run("members", "get", "--member-id"), 2)
    expect_rc(run("members"), 2)
    expect_rc(run("--db"), 2)
    expect_rc(run("members", "list", "stray"), 2)
    expect_rc(run("--as", "a@example.org", "--anonymous", "members", "list"), 2)


def test_migrate_and_version():
    res = run("migrate")
    expect_rc(res, 0)
    expect("up to date" in res[1] and "backend: sqlite" in res[1], "migrate status", res)
    doc = rjson("migrate")
    expect(doc["current"] == doc["latest"] and doc["current"] >= 1, "schema current", doc)
    res = run("version")
    expect_rc(res, 0)
    expect(re.match(r"libcommunity \d+\.\d+\.\d+", res[1]), "version printed", res)


def test_flags_from_schema():
    m = signup("ann@example.org", "Ann", "--interests", "rust,c", "--interests", "sql",
               "--discoverable", "--timezone", "Europe/Berlin", "--visibility=public")
    expect(m["interests"] == ["rust", "c", "sql"], "comma-separated + repeated list", m)
    expect(m["discoverable"] is True, "--flag sets true", m)
    expect(m["timezone"] == "Europe/Berlin", "string flag", m)
    m2 = rjson("members", "update", "--member-id", str(m["id"]), "--no-discoverable",
               "--interests", "")
    expect(m2["discoverable"] is False and m2["interests"] == [], "--no-flag and empty list", m2)
    m3 = rjson("members", "update", "--member-id", str(m["id"]), "--discoverable=true")
    expect(m3["discoverable"] is True, "--flag=true", m3)


def test_json_input():
    m = rjson("members", "signup", "--json-input", '{"email":"bob@example.org","name":"Bob"}',
              "--name", "Bobby")["member"]
    expect(m["name"] == "Bobby", "flags override --json-input", m)
    res = run("--json", "members", "signup", "--input", "-",
              stdin='{"email":"cat@example.org","name":"Cat","interests":["go"]}')
    expect_rc(res, 0)
    expect(json.loads(res[1])["member"]["interests"] == ["go"], "--input - read stdin", res)
    res = run("members", "signup", "--json-input", "[1]")
    expect_rc(res, 3)


def test_invalid_input():
    res = run("members", "signup", "--email", "not-an-email", "--name", "X")
    expect_rc(res, 3)
    expect(re.search(r"^error: CM_EINVAL: .*\(field: email\)$", res[2], re.M), "field named",
           res)
    res = run("members", "signup", "--name", "X")
    expect_rc(res, 3)
    expect("(field: email)" in res[2], "missing required field named", res)
    res = run("members", "get", "--member-id", "abc")
    expect_rc(res, 3)
    expect("expected an integer" in res[2] and "(field: member_id)" in res[2], "int parse", res)
    res = run("members", "list", "--limit", "1000")
    expect_rc(res, 3)
    expect("out of range (1..100)" in res[2], "bounds shown", res)
    res = run("members", "set-role", "--member-id", "1", "--role", "emperor")
    expect_rc(res, 3)
    expect("one of member|organizer" in res[2], "enum values shown", res)
    res = run("members", "update", "--discoverable=maybe")
    expect_rc(res, 3)


def test_not_found():
    res = run("members", "get", "--member-id", "999999")
    expect_rc(res, 5)
    expect("CM_ENOTFOUND" in res[2], "status name printed", res)


def test_permission():
    signup("mo@example.org", "Mo")
    res = run("--as", "mo@example.org", "members", "set-role", "--member-id", "1", "--role",
              "admin")
    expect_rc(res, 4)
    expect("CM_EPERM" in res[2], "EPERM", res)
    res = run("--anonymous", "members", "me")
    expect_rc(res, 4)
    expect("CM_EAUTH" in res[2], "EAUTH", res)
    me = rjson("--as", "MO@example.org", "members", "me")
    expect(me["email"] == "mo@example.org", "--as resolves the member", me)
    # a global option after the verb
    me = rjson("members", "me", "--as", "mo@example.org")
    expect(me["name"] == "Mo", "global option after the verb", me)
    res = run("--as", "nobody@example.org", "members", "me")
    expect(res[0] in (4, 5) and "--as" in res[2], "unknown --as member", res)


def test_token():
    r = rjson("members", "signup", "--email", "tok@example.org", "--name", "Tok", "--password",
              "correct horse battery")
    token = r["session"]["token"]
    me = rjson("--token", token, "members", "me")
    expect(me["email"] == "tok@example.org", "--token resolves the session", me)
    res = run("--token", "cms_bogus", "members", "me")
    expect_rc(res, 4)
    # an input field named like a global option wins after the verb
    res = run("--token", token, "auth", "logout", "--token", token)
    expect_rc(res, 0)
    expect_rc(run("--token", token, "members", "me"), 4)


def test_conflict():
    signup("dup@example.org", "Dup")
    res = run("members", "signup", "--email", "DUP@example.org", "--name", "Dup2")
    expect_rc(res, 6)
    expect("CM_EEXISTS" in res[2] and "(field: email)" in res[2], "EEXISTS", res)


def test_table_and_json_output():
    res = run("members", "list")
    expect_rc(res, 0)
    lines = res[1].splitlines()
    expect(re.match(r"^id\s+", lines[0]) and "name" in lines[0], "table header", res)
    expect(any("Ann" in l for l in lines[1:]), "table rows", res)
    expect(all("interests" not in l.split() for l in lines[:1]), "arrays left out", res)
    doc = rjson("members", "list", "--limit", "2")
    expect(len(doc["items"]) == 2 and "next_cursor" in doc, "raw JSON", doc)
    if doc.get("next_cursor"):
        nxt = rjson("members", "list", "--limit", "2", "--cursor", doc["next_cursor"])
        expect(nxt["items"][0]["id"] != doc["items"][0]["id"], "cursor pages", nxt)
    res = run("members", "get", "--member-id", "1")
    expect_rc(res, 0)
    expect(re.search(r"^id: 1$", res[1], re.M) and re.search(r"^name: ", res[1], re.M),
           "key: value lines", res)
    res = run("members", "list", "--columns", "name,id,nosuch")
    expect_rc(res, 0)
    expect(res[1].splitlines()[0].split() == ["name", "id"], "--columns picks and orders", res)
    res = run("ops")
    expect_rc(res, 0)
    expect(re.search(r"^members.signup +anonymous +Create a member", res[1], re.M), "ops list", res)


def test_ops_documents():
    doc = rjson("ops")
    expect(any(o["name"] == "members.signup" for o in doc["operations"]), "ops --json", doc)
    res = run("ops", "--markdown")
    expect_rc(res, 0)
    expect(res[1].startswith("# Operations reference"), "markdown title", res)
    expect("### members.signup" in res[1] and "| `email` |" in res[1], "markdown sections", res)


def test_seed_with_references():
    path = os.path.join(TMP, "seed.json")
    steps = [
        {"op": "members.signup", "input": {"email": "seed@example.org", "name": "Seed"}},
        {"op": "members.set_role", "as": None,
         "input": {"member_id": "${0.member.id}", "role": "organizer"}},
        {"op": "members.update", "as": "${0.member.email}",
         "input": {"headline": "Friend of #${1.id} $${literal}"}},
        {"op": "members.list", "as": "anonymous", "input": {"limit": 1}},
    ]
    with open(path, "w") as f:
        json.dump(steps, f)
    res = run("seed", path)
    expect_rc(res, 0)
    expect("seeded 4 steps" in res[1], "seed summary", res)
    m = rjson("members", "get", "--member-id", str(rjson("--as", "seed@example.org",
                                                         "members", "me")["id"]))
    expect(m["role"] == "organizer", "whole-string reference kept the integer", m)
    expect(m["headline"] == "Friend of #%d ${literal}" % m["id"], "embedded reference", m)
    # failures: a bad reference, and a failing step
    with open(path, "w") as f:
        json.dump([{"op": "members.get", "input": {"member_id": "${0.member.id}"}}], f)
    res = run("seed", path)
    expect_rc(res, 3)
    expect("earlier step" in res[2], "forward reference refused", res)
    with open(path, "w") as f:
        json.dump([{"op": "members.me", "as": "seed@example.org"},
                   {"op": "members.get", "input": {"member_id": "${0.nope}"}}], f)
    res = run("seed", path)
    expect_rc(res, 3)
    expect("no such field" in res[2], "missing path reported", res)
    with open(path, "w") as f:
        json.dump([{"op": "members.signup", "input": {"email": "seed@example.org", "name": "x"}}],
                  f)
    res = run("seed", path)
    expect_rc(res, 6)
    expect("step 0 (members.signup)" in res[2], "failing step named", res)
    with open(path, "w") as f:
        json.dump([{"name": "me", "op": "members.me", "as": "seed@example.org"},
                   {"op": "members.get", "input": {"member_id": "${me.id}"}}], f)
    res = run("--json", "seed", path)
    expect_rc(res, 0)
    out = json.loads(res[1])
    expect(out[1]["id"] == out[0]["id"], "named reference", res)
    expect_rc(run("seed"), 2)
    expect_rc(run("seed", os.path.join(TMP, "missing.json")), 1)


def test_database_errors():
    res = run("migrate", db="sqlite://" + os.path.join(TMP, "no", "such", "dir", "x.db"))
    expect_rc(res, 7)
    expect(res[2].startswith("error: cannot open"), "open error reported", res)


def test_db_plain_path():
    # a plain path names an SQLite file, as for the server: relative or absolute
    d = os.path.join(TMP, "plain")
    os.mkdir(d)
    res = run("--db", "plain.db", "members", "signup", "--email", "pp@example.org", "--name",
              "PP", cwd=d)
    expect_rc(res, 0)
    expect(os.path.exists(os.path.join(d, "plain.db")), "the file is created", res)
    for db in (os.path.join(d, "plain.db"), "sqlite://" + os.path.join(d, "plain.db")):
        out = rjson("members", "list", db=db)
        expect([m["email"] for m in out["items"]] == ["pp@example.org"], "same database " + db,
               out)
    res = run("backup", os.path.join(TMP, "p.backup"), db=os.path.join(d, "missing.db"))
    expect_rc(res, 5)
    expect(not os.path.exists(os.path.join(d, "missing.db")), "no database created", res)
    res = run("--db", "mysql://x/y", "members", "list")
    expect_rc(res, 1)
    expect("CM_ENOTSUP" in res[2], "unknown scheme refused", res)


def test_invalid_utf8_and_input_limits():
    # a flag value that is not UTF-8 is named, not reported as missing
    for args, flag in ((("--name", "bad\udcffname"), "--name"),
                       (("--name", "X", "--interests", "ok,bad\udcff"), "--interests")):
        res = run("members", "signup", "--email", "u8@example.org", *args)
        expect_rc(res, 3)
        expect(flag in res[2] and "UTF-8" in res[2] and "required" not in res[2],
               "invalid UTF-8 named for %s" % flag, res)
    # files are read up to a documented limit
    res = run("members", "signup", "--input", "/dev/zero")
    expect_rc(res, 3)
    expect("--input" in res[2] and "16 MiB" in res[2], "--input size limit", res)
    res = run("seed", "/dev/zero")
    expect_rc(res, 3)
    expect("seed" in res[2] and "16 MiB" in res[2], "seed size limit", res)


def run_tty(*args, db, cols):
    """Run with stdout on a pseudo-terminal of `cols` columns."""
    import fcntl
    import pty
    import struct
    import termios
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, cols, 0, 0))
    env = dict(os.environ)
    env["COMMUNITY_DB"] = db
    p = subprocess.Popen([BIN, *args], stdout=slave, stderr=subprocess.PIPE, env=env)
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    err = p.stderr.read()
    p.wait(timeout=120)
    os.close(master)
    return p.returncode, out.decode().replace("\r\n", "\n"), err.decode()


def test_terminal_tables_keep_important_columns():
    db = "sqlite://" + os.path.join(TMP, "tty.db")
    expect_rc(run("seed", DEMO, db=db), 0)
    for cols in (80, 120):
        res = run_tty("events", "list", db=db, cols=cols)
        expect_rc(res, 0)
        lines = res[1].splitlines()
        head = lines[0].split()
        for c in ("id", "title", "start_local", "timezone", "counts.seats_left"):
            expect(c in head, "%d columns: %s shown" % (cols, c), res)
        expect("description" not in head and "created_at" not in head,
               "%d columns: long or minor columns left out" % cols, res)
        expect(all(len(l) <= cols for l in lines if not l.startswith("(")),
               "fits in %d columns" % cols, res)
        expect(re.search(r"^\(\d+ more columns: .*description", res[1], re.M),
               "the others are named", res)
    # scores: rounded in tables, no float noise in JSON
    res = run("search", "semantic", "--query", "rust systems", db=db)
    expect_rc(res, 0)
    lines = res[1].splitlines()
    k = lines[0].split().index("score")
    scores = [l.split()[k] for l in lines[1:] if l and not l.startswith("model")]
    expect(scores and all(re.fullmatch(r"-?\d(\.\d{1,3})?", s) for s in scores),
           "scores shown with 3 decimals", res)
    res = run("--json", "search", "semantic", "--query", "rust systems", db=db)
    expect_rc(res, 0)
    expect(not re.search(r"\d\.\d{10,}", res[1]), "no float noise in JSON", res)
    expect(json.loads(res[1])["items"][0]["score"] > 0, "scores kept", res)


def test_demo_seed():
    db = "sqlite://" + os.path.join(TMP, "demo.db")
    res = run("seed", DEMO, db=db)
    expect_rc(res, 0)
    expect(re.search(r"seeded \d+ steps", res[1]), "demo seeded", res)


def test_backup_restore():
    src = "sqlite://" + os.path.join(TMP, "bk-src.db")
    dst = "sqlite://" + os.path.join(TMP, "bk-dst.db")
    bk = os.path.join(TMP, "bk.backup")
    expect_rc(run("members", "signup", "--email", "bk@example.org", "--name", "Bk", db=src), 0)
    res = run("backup", bk, db=src)
    expect_rc(res, 0)
    expect(("backup: " + bk) in res[1] and os.path.exists(bk), "backup written", res)
    expect(os.path.exists(bk + ".sha256"), "checksum file written beside it", res)
    expect_rc(run("backup", bk, db=src), 6)  # exists
    expect_rc(run("backup", db=src), 2)
    res = run("backup", os.path.join(TMP, "x.backup"),
              db="sqlite://" + os.path.join(TMP, "no-such.db"))
    expect_rc(res, 5)
    expect(not os.path.exists(os.path.join(TMP, "no-such.db")), "no database created", res)
    res = run("--json", "restore", bk, db=dst)
    expect_rc(res, 0)
    expect(json.loads(res[1]) == {"restored": bk}, "restore --json", res)
    out = rjson("members", "list", db=dst)
    expect([m["email"] for m in out["items"]] == ["bk@example.org"], "row restored", out)
    res = run("restore", bk, db=dst)
    expect_rc(res, 6)  # the target holds tables
    expect("force" in res[2], "hint at --force", res)
    expect_rc(run("restore", "--force", bk, db=dst), 0)
    junk = os.path.join(TMP, "junk.backup")
    with open(junk, "w") as f:
        f.write("not a backup\n")
    res = run("restore", "--force", junk, db=dst)
    expect_rc(res, 7)  # CM_ECORRUPT
    expect("CM_ECORRUPT" in res[2], "corrupt named", res)
    expect(len(rjson("members", "list", db=dst)["items"]) == 1, "target untouched")
    res = run("restore", "--help")
    expect_rc(res, 0)
    expect("--force" in res[1], "restore help", res)


def worker_db(name):
    path = os.path.join(TMP, name)
    return "sqlite://" + path, path


def json_lines(text):
    out = []
    for line in text.splitlines():
        expect(line.startswith("{"), "a JSON log line: %r" % line)
        out.append(json.loads(line))
    return out


def test_worker_runs_the_platform_jobs_once():
    import sqlite3
    from datetime import datetime, timedelta, timezone
    db, path = worker_db("worker.db")
    expect_rc(run("members", "signup", "--email", "org@example.org", "--name", "Org", db=db), 0)
    org = rjson("--as", "org@example.org", "members", "me", db=db)
    expect_rc(run("members", "set-role", "--member-id", str(org["id"]), "--role", "organizer",
                  db=db), 0)
    member = rjson("members", "signup", "--email", "amy@example.org", "--name", "Amy",
                   db=db)["member"]
    start = datetime.now(timezone.utc) + timedelta(hours=3)
    ev = rjson("--as", "org@example.org", "events", "create", "--title", "Soon", "--format",
               "online", "--online-url", "https://meet.example/x", "--start-local",
               start.strftime("%Y-%m-%dT%H:%M"), "--end-local",
               (start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"), "--timezone", "UTC",
               "--publish", db=db)
    expect_rc(run("--as", "amy@example.org", "rsvps", "add", "--event-id", str(ev["id"]), db=db),
              0)
    # two waitlist notices, as the RSVP code enqueues them; one with a bad payload
    con = sqlite3.connect(path)
    ids = []
    for payload in ('{"event_id":%d,"member_id":%d}' % (ev["id"], member["id"]), '{}'):
        cur = con.execute(
            "INSERT INTO jobs (queue, kind, payload, state, run_at, max_attempts, backoff, "
            "backoff_us, backoff_max_us, created_at, updated_at) VALUES ('platform', "
            "'platform.waitlist_promoted', ?, 'queued', 0, 10, 'exponential', 5000000, "
            "3600000000, 0, 0)", (payload,))
        ids.append(cur.lastrowid)
    # embeddings a write left stale (as an HTTP embedder does) are refreshed by a sweep
    stale_before = con.execute("UPDATE embeddings SET stale = 1").rowcount
    con.commit()
    con.close()

    res = run("worker", "--once", "--json-logs", "--poll-ms", "50", db=db)
    expect_rc(res, 0)
    expect(res[1] == "", "the worker prints nothing on stdout", res)
    logs = json_lines(res[2])
    events = [(l.get("event"), l.get("kind"), l.get("job_id")) for l in logs]
    expect(("worker_started", None, None) in events and logs[-1]["event"] == "worker_stopped",
           "start and stop logged", res)
    expect(any(e == ("completed", "platform.event_reminders", e[2]) for e in events),
           "the reminder sweep ran", res)
    expect(("completed", "platform.waitlist_promoted", ids[0]) in events, "notice sent", res)
    expect(any(e[:2] == ("completed", "platform.embed_refresh") for e in events),
           "the embedding refresh sweep ran", res)
    con = sqlite3.connect(path)
    stale_after = con.execute("SELECT count(*) FROM embeddings WHERE stale = 1").fetchone()[0]
    con.close()
    expect(stale_before >= 3 and stale_after == 0,
           "stale embeddings recomputed (%d -> %d)" % (stale_before, stale_after), res)
    expect(("failed", "platform.waitlist_promoted", ids[1]) in events, "bad payload failed",
           res)
    failed = [l for l in logs if l.get("event") == "failed"][0]
    expect(failed["status"] == "CM_EINVAL" and failed["level"] == "warn", "failure logged", res)
    expect(logs[-1]["completed"] >= 2 and logs[-1]["failed"] == 1, "summary counts", res)

    con = sqlite3.connect(path)
    rows = con.execute("SELECT template, to_addr FROM email_outbox ORDER BY id").fetchall()
    con.close()
    expect(("event_reminder_24h", "amy@example.org") in rows, "reminder in the outbox", rows)
    expect(("waitlist_promoted", "amy@example.org") in rows, "notice in the outbox", rows)

    # the job management verbs see the results; show = get
    job = rjson("jobs", "show", "--job-id", str(ids[0]), db=db)
    expect(job["state"] == "completed" and job["kind"] == "platform.waitlist_promoted",
           "jobs show", job)
    expect(rjson("jobs", "get", "--job-id", str(ids[1]), db=db)["state"] == "failed",
           "jobs get")
    listed = rjson("jobs", "list", "--state", "completed", db=db)["items"]
    expect(len(listed) >= 2, "jobs list", listed)

    # text logs; a second run sends no reminder twice
    res = run("worker", "--once", "--poll-ms", "50", "--concurrency", "2", db=db)
    expect_rc(res, 0)
    expect(re.search(r"^\S+Z info  worker \S+ started on sqlite: 2 threads, queues platform:2",
                     res[2], re.M), "text log: start line", res)
    expect(re.search(r"platform.event_reminders \(queue platform\) attempt 1: completed",
                     res[2]), "text log: job line", res)
    con = sqlite3.connect(path)
    n = con.execute("SELECT count(*) FROM email_outbox").fetchone()[0]
    con.close()
    expect(n == len(rows), "no reminder sent twice", (n, rows))


def test_newsletter_progress():
    """A newsletter through the CLI: composed, sent, its rows written by
    `worker --once`; `newsletters get` draws a progress bar on a terminal and
    a plain line with --watch elsewhere."""
    db, _ = worker_db("newsletter.db")
    expect_rc(run("members", "signup", "--email", "org@example.org", "--name", "Org", db=db), 0)
    org = rjson("--as", "org@example.org", "members", "me", db=db)
    expect_rc(run("members", "set-role", "--member-id", str(org["id"]), "--role", "organizer",
                  db=db), 0)
    for i in range(3):
        email = "sub%d@example.org" % i
        expect_rc(run("members", "signup", "--email", email, "--name", "Sub", db=db), 0)
        expect_rc(run("--as", email, "mail", "preferences-set", "--newsletters", db=db), 0)
    nl = rjson("--as", "org@example.org", "newsletters", "create", "--subject", "Hello",
               "--body", "# Hi\n\nNews.", "--audience", "subscribers", db=db)
    expect(nl["status"] == "draft" and nl["progress"]["queued"] == 0, "a draft", nl)
    sent = rjson("--as", "org@example.org", "newsletters", "send", "--newsletter-id",
                 str(nl["id"]), db=db)
    expect(sent["status"] == "sending", "sending", sent)
    expect_rc(run("worker", "--once", db=db), 0)
    args = ("--as", "org@example.org", "newsletters", "get", "--newsletter-id", str(nl["id"]))
    rc, out, err = run_tty(*args, db=db, cols=100)
    expect(rc == 0, "newsletters get on a terminal", (rc, out, err))
    expect("\r[----------------------------------------]   0% 0/3 sent, 0 failed, "
           "0 suppressed, 3 to go (sending)" in out, "a progress bar", (rc, out, err))
    res = run(*args, db=db)
    expect_rc(res, 0)
    expect("to go" not in res[1], "no bar in a pipe", res)
    cancelled = rjson("--as", "org@example.org", "newsletters", "cancel", "--newsletter-id",
                      str(nl["id"]), db=db)
    expect(cancelled["progress"]["cancelled"] == 3, "cancelled rows", cancelled)
    res = run("--watch", *args, db=db)
    expect_rc(res, 0)
    expect(res[1].startswith("  0% 0/3 sent, 0 failed, 0 suppressed, 0 to go, 3 cancelled "
                             "(cancelled)\n"), "one progress line, then the result", res)


def test_worker_options():
    db, _ = worker_db("worker-opts.db")
    res = run("worker", "--help", db=db)
    expect_rc(res, 0)
    for s in ("--queues LIST", "--concurrency N", "--poll-ms N", "--lease MS", "--heartbeat MS",
              "--once", "--json-logs", "SIGTERM"):
        expect(s in res[1], "worker help mentions %s" % s, res)
    expect("worker" in run("--help")[1], "top help lists worker")
    for args in (["--concurrency", "0"], ["--concurrency", "x"], ["--poll-ms"],
                 ["--queues", "Bad Name"], ["--queues", "a,a"], ["--bogus"], ["stray"]):
        res = run("worker", "--once", *args, db=db)
        expect_rc(res, 2)
    res = run("worker", "--once", "--queues", "nosuch", db=db)
    expect_rc(res, 2)
    expect("no registered kind runs on queue 'nosuch'" in res[2], "unserved queue named", res)
    res = run("worker", "--once", "--queues", "platform:1", "--json-logs", db=db)
    expect_rc(res, 0)
    expect(json_lines(res[2])[1]["queues"] == "platform:1", "per-queue concurrency", res)
    for args in (["--lease", "99"], ["--lease", "x"], ["--heartbeat", "0"],
                 ["--heartbeat", "30000"], ["--lease", "1000", "--heartbeat", "1000"]):
        res = run("worker", "--once", *args, db=db)
        expect_rc(res, 2)
    res = run("worker", "--once", "--lease", "2000", "--heartbeat", "500", "--json-logs", db=db)
    expect_rc(res, 0)
    started = json_lines(res[2])[1]
    expect(started["lease_ms"] == 2000 and started["heartbeat_ms"] == 500,
           "lease and heartbeat logged", res)


def png_b64(w, h, rgb):
    """A small valid PNG (truecolour, one colour), base64."""
    import base64
    import struct
    import zlib

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data +
                struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))
    raw = b"".join(b"\x00" + bytes(rgb) * w for _ in range(h))
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
           chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    return base64.b64encode(png).decode()


def test_worker_deletes_the_files_of_an_erased_member():
    """members.erase commits; the stored files go when `worker --once` runs
    the platform.uploads_sweep job; the daily prune runs as well."""
    db, path = worker_db("worker-erase.db")
    objects = path + ".uploads/objects"
    eve = rjson("members", "signup", "--email", "eve@example.org", "--name", "Eve",
                db=db)["member"]
    rjson("--as", "eve@example.org", "attachments", "upload", "--target", "member",
          "--target-id", str(eve["id"]), "--content", png_b64(8, 6, (200, 30, 40)), db=db)
    count = lambda: sum(len(f) for _, _, f in os.walk(objects))
    expect(count() == 2, "avatar and thumbnail stored (%d)" % count())
    erased = rjson("members", "erase", "--member-id", str(eve["id"]), db=db)
    expect(erased["attachments_erased"] == 1 and "orders" in erased["kept"], "erased", erased)
    expect(count() == 2, "the files outlive the commit until the job runs")
    res = run("worker", "--once", "--json-logs", "--poll-ms", "50", db=db)
    expect_rc(res, 0)
    events = [(l.get("event"), l.get("kind")) for l in json_lines(res[2])]
    expect(("completed", "platform.uploads_sweep") in events, "sweep ran", res)
    expect(("completed", "platform.uploads_prune") in events, "daily prune ran", res)
    expect(count() == 0, "no file left (%d)" % count(), res)
    # the retention needs a storage to apply to
    res = run("worker", "--once", db=db, extra_env={"COMMUNITY_UPLOADS_KEEP_VERSIONS": "60"})
    expect_rc(res, 2)
    res = run("worker", "--once", db=db,
              extra_env={"COMMUNITY_UPLOADS_KEEP_VERSIONS": "60",
                         "COMMUNITY_UPLOADS_DIR": path + ".uploads"})
    expect_rc(res, 0)


def test_worker_takes_over_the_jobs_of_a_dead_worker():
    import sqlite3
    db, path = worker_db("worker-dead.db")
    expect_rc(run("migrate", db=db), 0)
    con = sqlite3.connect(path)
    # running, leased to a worker that died long ago
    job = con.execute(
        "INSERT INTO jobs (queue, kind, payload, state, run_at, attempts, max_attempts, backoff, "
        "backoff_us, backoff_max_us, lease_token, lease_owner, lease_expires_at, started_at, "
        "created_at, updated_at) VALUES ('platform', 'platform.waitlist_promoted', '{}', "
        "'running', 0, 1, 5, 'fixed', 3600000000, 3600000000, 1, 'dead', 1, 0, 0, 0)").lastrowid
    con.commit()
    con.close()
    res = run("worker", "--once", "--json-logs", "--poll-ms", "50", "--lease", "1000", db=db)
    expect_rc(res, 0)
    events = [(l.get("event"), l.get("job_id")) for l in json_lines(res[2])]
    expect(("recovered", job) in events, "the lapsed lease is recovered", res)
    # queued again at once (not after the kind's hour of backoff) and run: its payload is bad
    expect(("failed", job) in events, "the job ran again", res)
    got = rjson("jobs", "get", "--job-id", str(job), db=db)
    expect(got["attempts"] == 2 and got["state"] == "failed", "second attempt recorded", got)


def test_worker_stops_gracefully_on_signals():
    import signal
    db, _ = worker_db("worker-sig.db")
    for sig in (signal.SIGTERM, signal.SIGINT):
        env = dict(os.environ)
        env["COMMUNITY_DB"] = db
        p = subprocess.Popen([BIN, "worker", "--json-logs", "--poll-ms", "20"], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines = []
        while True:
            line = p.stderr.readline()
            expect(line != "", "the worker logged its start: %r" % lines)
            lines.append(line)
            if '"worker_started"' in line:
                break
        p.send_signal(sig)
        try:
            out, err = p.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            raise AssertionError("the worker did not stop on %s" % sig.name)
        res = (p.returncode, out, "".join(lines) + err)
        expect_rc(res, 0)
        expect("Sanitizer" not in res[2] and "runtime error:" not in res[2], "no sanitizer report",
               res)
        logs = json_lines(res[2])
        stopping = [l for l in logs if l.get("event") == "worker_stopping"]
        expect(stopping and stopping[0]["signal"] == sig.name, "the signal is logged", res)
        expect(logs[-1]["event"] == "worker_stopped", "stop logged last", res)


TESTS = [v for k, v in list(globals().items()) if k.startswith("test_")]


def main():
    print("1..%d" % len(TESTS))
    failed = 0
    for i, t in enumerate(TESTS, 1):
        try:
            t()
            print("ok %d - %s" % (i, t.__name__))
        except Exception:  # report and go on
            failed += 1
            print("not ok %d - %s" % (i, t.__name__))
            for line in traceback.format_exc().splitlines():
                print("# " + line)
        sys.stdout.flush()
    shutil.rmtree(TMP, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
