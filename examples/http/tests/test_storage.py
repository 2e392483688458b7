"""test_storage.py - a database that cannot take writes: the SQLite file lives
on a real size-limited tmpfs, which is then filled up. Writes must answer 503
CM_EUNAVAILABLE with Retry-After (not 500 "internal error"), reads keep
working, /readyz turns 503, and everything recovers once space is freed.

Mounting needs root: without it the test is skipped (TAP SKIP), never passed
silently."""
import errno
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from httptest import Server, check, eq, problem, run, test  # noqa: E402

PASSWORD = "correct horse 1"
S = {}


def skip(reason):
    print("1..0 # SKIP %s" % reason, flush=True)
    print("# 0 passed, 0 failed", flush=True)
    sys.exit(0)


def setup():
    if os.geteuid() != 0:
        skip("needs root to mount a size-limited tmpfs")
    S["dir"] = tempfile.mkdtemp(prefix="cmh-full-")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", S["dir"]],
                       capture_output=True, text=True)
    if r.returncode != 0:
        os.rmdir(S["dir"])
        skip("cannot mount a tmpfs here: %s" % r.stderr.strip())
    S["mounted"] = True
    srv = Server(db_path=os.path.join(S["dir"], "db.sqlite"), args=["--rate-limit", "0"])
    S["srv"] = srv
    return srv


def teardown(srv):
    try:
        srv.close()
    finally:
        if S.get("mounted"):
            subprocess.run(["umount", S["dir"]], check=False)
        os.rmdir(S["dir"])


def fill(path):
    """Write zeros into `path` until the file system is full."""
    block = b"\0" * 65536
    with open(path, "wb", buffering=0) as f:
        while True:
            try:
                f.write(block)
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
                if len(block) == 1:
                    return
                block = block[: len(block) // 2]


def signup(srv, i):
    return srv.request("POST", "/v1/members", {"email": "m%d@example.test" % i, "name": "M",
                                               "bio": "b" * 4000})


@test
def ready_while_there_is_space(srv):
    st, _, _, js = srv.request("GET", "/readyz")
    eq((st, js), (200, {"status": "ready"}), "readyz")
    st, _, _, js = srv.request("POST", "/v1/members", {"email": "first@example.test",
                                                       "name": "First", "password": PASSWORD})
    eq(st, 201, "signup")
    S["token"] = js["session"]["token"]


@test
def disk_full_is_503_unavailable(srv):
    fill(os.path.join(S["dir"], "filler"))
    # the WAL may still have room for a few pages: write until it has not
    for i in range(200):
        r = signup(srv, i)
        if r[0] != 201:
            break
    js = problem(r, 503, "CM_EUNAVAILABLE")
    check(int(r[1].get("retry-after", "0")) >= 1, "Retry-After: %r" % r[1].get("retry-after"))
    check("internal error" not in js["detail"], "a clear detail: %r" % js["detail"])
    # reads still work
    st, _, _, me = srv.request("GET", "/v1/me", token=S["token"])
    eq((st, me["email"]), (200, "first@example.test"), "read while full")


@test
def readyz_fails_while_full(srv):
    st, hd, _, js = srv.request("GET", "/readyz")
    eq((st, js), (503, {"status": "unavailable", "code": "CM_EUNAVAILABLE"}), "readyz when full")
    check("retry-after" in hd, "Retry-After on readyz")
    eq(srv.request("GET", "/healthz")[0], 200, "still alive")


@test
def recovers_when_space_is_freed(srv):
    os.unlink(os.path.join(S["dir"], "filler"))
    st, _, _, js = srv.request("GET", "/readyz")
    eq((st, js), (200, {"status": "ready"}), "readyz after freeing space")
    eq(signup(srv, 1000)[0], 201, "writes work again")


@test
def clean_exit(srv):
    srv.check_clean_exit()


if __name__ == "__main__":
    run(setup, teardown)
