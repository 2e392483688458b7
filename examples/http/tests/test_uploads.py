"""test_uploads.py - the upload route of community-server: a raw file body to
PUT /v1/uploads/{target}/{target_id} (the host base64-encodes it into the
attachments.upload operation), the route's own body limit (--max-upload,
413 before the body is read), wrong types, truncated files, names with a
path or a NUL, and a connection cut mid-body: clear errors, nothing stored.
The files land in --uploads-dir."""
import os
import socket
import struct
import sys
import tempfile
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from httptest import Server, check, eq, problem, run, test  # noqa: E402

PASSWORD = "correct horse 1"
S = {}


def png(w, h, seed=0):
    """A real PNG, RGB 8-bit."""
    raw = b"".join(
        b"\0" + b"".join(bytes(((x * 7 + y * 3 + seed) % 256, y % 256, 90)) for x in range(w))
        for y in range(h))

    def chunk(t, d):
        c = struct.pack(">I", len(d)) + t + d
        return c + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def stored(srv):
    n = 0
    for _, _, files in os.walk(os.path.join(S["dir"], "objects")):
        n += len(files)
    return n


def setup():
    S["tmp"] = tempfile.TemporaryDirectory(prefix="cmh-uploads-")
    S["dir"] = os.path.join(S["tmp"].name, "uploads")
    srv = Server(args=["--rate-limit", "0", "--max-upload", "200000", "--uploads-dir", S["dir"]])
    st, _, _, js = srv.request("POST", "/v1/members", {"email": "ann@example.test", "name": "Ann",
                                                      "password": PASSWORD})
    eq(st, 201, "signup")
    S["ann"] = js["member"]["id"]
    S["tok"] = js["session"]["token"]
    return srv


def teardown(srv):
    try:
        srv.close()
    finally:
        S["tmp"].cleanup()


def put(srv, body, ctype="image/png", query="", target="member", tid=None, token=True):
    path = "/v1/uploads/%s/%d%s" % (target, S["ann"] if tid is None else tid, query)
    return srv.request("PUT", path, raw_body=body, headers={"Content-Type": ctype},
                       token=S["tok"] if token else None)


@test
def raw_png_becomes_the_avatar(srv):
    data = png(300, 200)
    st, _, _, js = put(srv, data, query="?filename=me.png")
    eq(st, 200, "status (%s)" % js)
    eq(js["content_type"], "image/png", "sniffed type")
    eq((js["width"], js["height"]), (300, 200), "dimensions")
    eq(js["size_bytes"], len(data), "size")
    eq(js["filename"], "me.png", "filename")
    eq(js["slot"], "avatar", "slot")
    eq(stored(srv), 2, "file and thumbnail stored")
    st, _, _, js = srv.request("GET", "/v1/attachments?target=member&target_id=%d" % S["ann"])
    eq(st, 200, "list")
    eq(len(js["items"]), 1, "one current avatar")


@test
def the_claimed_content_type_is_ignored(srv):
    # a PNG sent as application/octet-stream is still a PNG
    st, _, _, js = put(srv, png(40, 40, 1), ctype="application/octet-stream")
    eq(st, 200, "status")
    eq(js["content_type"], "image/png", "sniffed")
    eq(js["version"], 2, "a second avatar version")


@test
def wrong_type_and_truncated_files_store_nothing(srv):
    before = stored(srv)
    problem(put(srv, b"#!/bin/sh\necho hi\n"), 422, "CM_EINVAL", "content")
    r = problem(put(srv, png(100, 100, 2)[:-30]), 422, "CM_EINVAL", "content")
    check("truncated" in r["detail"], r["detail"])
    problem(put(srv, b""), 422, "CM_EINVAL", "content")
    eq(stored(srv), before, "nothing stored")


@test
def names_with_a_path_or_nul_are_refused(srv):
    before = stored(srv)
    for q in ("?filename=../../etc/passwd", "?filename=a%2Fb.png", "?filename=a%5Cb.png",
              "?filename=.."):
        problem(put(srv, png(20, 20, 3), query=q), 422, "CM_EINVAL", "filename")
    # a NUL byte never reaches the library: the query string is refused
    r = problem(put(srv, png(20, 20, 3), query="?filename=a%00b.png"), 400, "CM_EINVAL")
    check("malformed" in r["detail"], r["detail"])
    eq(stored(srv), before, "nothing stored")


@test
def oversize_is_413_before_the_body(srv):
    big = png(400, 400, 4) + b"\0" * 250000
    problem(put(srv, big), 413, "HTTP_CONTENT_TOO_LARGE")
    # JSON requests elsewhere keep the ordinary limit; the library's own
    # limit (10 MiB) stays above the route's here


@test
def a_body_cut_short_stores_nothing(srv):
    before = stored(srv)
    data = png(200, 200, 5)
    head = ("PUT /v1/uploads/member/%d HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
            "Content-Type: image/png\r\nContent-Length: %d\r\n\r\n"
            % (S["ann"], S["tok"], len(data))).encode()
    s = socket.create_connection((srv.host, srv.port), timeout=10)
    s.sendall(head + data[: len(data) // 2])
    s.close()
    # the server is still fine, and stored nothing
    st, _, _, _ = srv.request("GET", "/healthz")
    eq(st, 200, "healthz")
    eq(stored(srv), before, "nothing stored")


@test
def not_signed_in_or_not_allowed(srv):
    problem(put(srv, png(10, 10, 6), token=False), 401, "CM_EAUTH")
    problem(put(srv, png(10, 10, 6), tid=S["ann"] + 1000), 404, "CM_ENOTFOUND", "target_id")


@test
def downloads_serve_the_stored_bytes(srv):
    """GET /v1/attachments/{id}/content and /thumbnail on a local directory:
    the bytes with their sniffed type, a strong ETag (304 on If-None-Match),
    single byte ranges, authorised like attachments.get."""
    data = png(64, 48, 7)
    st, _, _, js = put(srv, data, query="?filename=dl.png")
    eq(st, 200, "upload")
    aid = js["id"]
    st, hd, body, _ = srv.request("GET", "/v1/attachments/%d/content" % aid)
    eq(st, 200, "anyone sees an avatar")
    eq(body, data, "the stored bytes")
    eq(hd["content-type"], "image/png", "sniffed type")
    check(hd["etag"].startswith('"') and len(hd["etag"]) == 66, hd["etag"])
    eq(hd["accept-ranges"], "bytes", "ranges")
    check("private" in hd["cache-control"], hd["cache-control"])
    st, hd2, body, _ = srv.request("GET", "/v1/attachments/%d/content" % aid,
                                   headers={"If-None-Match": hd["etag"]})
    eq((st, body), (304, b""), "not modified")
    eq(hd2["etag"], hd["etag"], "same tag")
    st, hd2, body, _ = srv.request("GET", "/v1/attachments/%d/content" % aid,
                                   headers={"Range": "bytes=0-7"})
    eq((st, body), (206, data[:8]), "first bytes")
    eq(hd2["content-range"], "bytes 0-7/%d" % len(data), "content-range")
    st, _, body, _ = srv.request("GET", "/v1/attachments/%d/content" % aid,
                                 headers={"Range": "bytes=-4"})
    eq((st, body), (206, data[-4:]), "last bytes")
    st, hd2, _, _ = srv.request("GET", "/v1/attachments/%d/content" % aid,
                                headers={"Range": "bytes=%d-" % (len(data) + 10)})
    eq(st, 416, "past the end")
    eq(hd2["content-range"], "bytes */%d" % len(data), "416 names the size")
    st, hd2, body, _ = srv.request("HEAD", "/v1/attachments/%d/content" % aid)
    eq((st, body, hd2["content-length"]), (200, b"", str(len(data))), "HEAD")
    st, hd2, body, _ = srv.request("GET", "/v1/attachments/%d/thumbnail" % aid)
    eq(st, 200, "thumbnail")
    check(body.startswith(b"\x89PNG") and body != data, "a PNG thumbnail")
    problem(srv.request("GET", "/v1/attachments/%d/content" % (aid + 1000)), 404,
            "CM_ENOTFOUND", "attachment_id")
    problem(srv.request("POST", "/v1/attachments/%d/content" % aid), 405,
            "HTTP_METHOD_NOT_ALLOWED")
    # nothing but digits and the two names: anything else is no route
    for path in ("/v1/attachments/%d/../content" % aid, "/v1/attachments/%d/content/x" % aid,
                 "/v1/attachments/0x1/content", "/v1/attachments/%d/original" % aid):
        st, _, _, _ = srv.request("GET", path)
        eq(st, 404, path)
    st, _, _, _ = srv.request("GET", "/v1/attachments/%d/content" % aid, token="cms_bogus")
    eq(st, 401, "a bad token is refused, not ignored")


@test
def private_downloads_only_for_those_allowed(srv):
    """An image of a post in a private group: its readers download it; anyone
    else (signed out, or a member outside the group) gets the same 404 as for
    an attachment that does not exist, for the file and its thumbnail."""
    st, _, _, js = srv.request("POST", "/v1/members", {
        "email": "carol@example.test", "name": "Carol", "password": PASSWORD})
    eq(st, 201, "signup")
    srv.make_admin(js["member"]["id"])
    st, _, _, js = srv.request("POST", "/v1/sessions",
                               {"email": "carol@example.test", "password": PASSWORD})
    eq(st, 200, "login")
    carol = js["session"]["token"]
    st, _, _, g = srv.request("POST", "/v1/groups", {
        "slug": "dl-private", "name": "Private", "kind": "interest", "join_policy": "invite",
        "visibility": "private"}, token=carol)
    eq(st, 201, "group (%s)" % g)
    st, _, _, post = srv.request("POST", "/v1/posts", {
        "group_id": g["id"], "title": "Inside", "body": "members only"}, token=carol)
    eq(st, 201, "post (%s)" % post)
    data = png(32, 32, 9)
    st, _, _, js = srv.request("PUT", "/v1/uploads/post/%d" % post["id"], raw_body=data,
                               headers={"Content-Type": "image/png"}, token=carol)
    eq(st, 200, "upload to the private post (%s)" % js)
    aid = js["id"]
    for part in ("content", "thumbnail"):
        path = "/v1/attachments/%d/%s" % (aid, part)
        st, hd, body, _ = srv.request("GET", path, token=carol)
        eq(st, 200, "the group's member reads the %s" % part)
        if part == "content":
            eq(body, data, "the stored bytes")
        eq(hd["content-type"], "image/png", "type")
        check("private" in hd["cache-control"], hd["cache-control"])
        for who, tok in (("signed out", None), ("outside the group", S["tok"])):
            r = problem(srv.request("GET", path, token=tok), 404, "CM_ENOTFOUND",
                        "attachment_id")
            check(str(aid) in r["detail"], r["detail"])
            st, _, body, _ = srv.request("HEAD", path, token=tok)
            eq((st, body), (404, b""), "HEAD %s, %s" % (part, who))
            # a Range or If-None-Match reveals nothing either
            st, _, _, _ = srv.request("GET", path, token=tok, headers={"Range": "bytes=0-3"})
            eq(st, 404, "Range %s, %s" % (part, who))


run(setup, teardown)
