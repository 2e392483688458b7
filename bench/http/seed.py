"""seed.py URL DB OUTDIR - seed a benchmark database through community-server's
REST API: one organizer (promoted with SQL, as an operator would), EVENTS published
events, MEMBERS members with sessions. Writes OUTDIR/tokens.txt and OUTDIR/events.txt
for the wrk RSVP script."""
import json
import os
import sqlite3
import sys
import urllib.request

url, db, out = sys.argv[1], sys.argv[2], sys.argv[3]
EVENTS = int(os.environ.get("EVENTS", "200"))
MEMBERS = int(os.environ.get("MEMBERS", "64"))


def call(method, path, body=None, token=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())


org = call("POST", "/v1/members", {"email": "organizer@bench.test", "name": "Organizer",
                                   "password": "bench password 1"})
con = sqlite3.connect(db)
con.execute("UPDATE members SET role='organizer' WHERE id=?", (org["member"]["id"],))
con.commit()
con.close()
tok = call("POST", "/v1/sessions", {"email": "organizer@bench.test",
                                    "password": "bench password 1"})["session"]["token"]
events = []
for i in range(EVENTS):
    day = 1 + i % 28
    month = 1 + (i // 28) % 12
    ev = call("POST", "/v1/events", {
        "title": "Benchmark meetup %d" % i, "format": "in_person",
        "start_local": "2031-%02d-%02dT18:00" % (month, day),
        "end_local": "2031-%02d-%02dT21:00" % (month, day),
        "timezone": "Europe/Berlin", "publish": True,
        "description": "An event for the HTTP benchmark. " * 4}, token=tok)
    events.append(ev.get("id") or ev.get("event", {}).get("id"))
tokens = []
for i in range(MEMBERS):
    r = call("POST", "/v1/members", {"email": "m%d@bench.test" % i, "name": "Member %d" % i,
                                     "password": "bench password 1"})
    tokens.append(r["session"]["token"])
with open(os.path.join(out, "tokens.txt"), "w") as f:
    f.write("\n".join(tokens) + "\n")
with open(os.path.join(out, "events.txt"), "w") as f:
    f.write("\n".join(str(e) for e in events) + "\n")
print("seeded %d events, %d members" % (len(events), len(tokens)))
