#!/usr/bin/python3
"""smtp_sink.py - a real SMTP server (aiosmtpd) for the mail tests.

Listens on 127.0.0.1 (a free port), writes DIR/port when ready, and stores
every accepted message as DIR/msgs/<seq>.eml with its envelope in
DIR/msgs/<seq>.json (mail_from, rcpt_tos, peer_port, received_at
in microseconds, message_id, tls, auth). Each file
is complete before the server answers 250, so whatever the client saw
accepted is on disk.

Options:
  --tls            offer STARTTLS with a self-signed certificate made here
                   (DIR/cert.pem; clients verify with it as their CA)
  --auth USER:PASS offer AUTH PLAIN/LOGIN (after STARTTLS) and require it
  --delay-ms N     wait N ms before accepting each message (DATA)
Recipients whose local part starts with "reject5" get 550, "reject4" 451.
Stops on SIGTERM.
"""
import argparse
import asyncio
import json
import os
import signal
import ssl
import subprocess
import sys
import time
from email.parser import BytesHeaderParser

from aiosmtpd.smtp import SMTP, AuthResult


class Handler:
    def __init__(self, out, delay):
        self.out = out
        self.delay = delay
        self.seq = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@")[0]
        if local.startswith("reject5"):
            return "550 5.1.1 mailbox unavailable"
        if local.startswith("reject4"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay / 1000.0)
        self.seq += 1
        base = os.path.join(self.out, "%08d" % self.seq)
        meta = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "peer_port": session.peer[1],
            "received_at": int(time.time() * 1e6),
            "message_id": BytesHeaderParser().parsebytes(
                envelope.original_content or envelope.content).get("Message-ID"),
            "tls": session.ssl is not None,
            "auth": session.auth_data.login.decode()
            if session.authenticated and hasattr(session.auth_data, "login") else None,
        }
        for ext, data in (("eml", envelope.original_content or envelope.content),
                          ("json", json.dumps(meta).encode())):
            with open(base + "." + ext + ".tmp", "wb") as f:
                f.write(data)
            os.rename(base + "." + ext + ".tmp", base + "." + ext)
        return "250 2.0.0 queued as %d" % self.seq


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--tls", action="store_true")
    ap.add_argument("--auth")
    ap.add_argument("--delay-ms", type=int, default=0)
    a = ap.parse_args()
    out = os.path.join(a.dir, "msgs")
    os.makedirs(out, exist_ok=True)
    ctx = None
    if a.tls:
        cert, key = os.path.join(a.dir, "cert.pem"), os.path.join(a.dir, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out",
                        cert, "-days", "2", "-subj", "/CN=localhost", "-addext",
                        "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)
    user = pw = None
    if a.auth:
        user, pw = a.auth.split(":", 1)

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login.decode() == user and auth_data.password.decode() == pw
        if ok:
            return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)  # reply 535

    handler = Handler(out, a.delay_ms)

    def factory():
        kw = dict(hostname="sink.test", decode_data=False, tls_context=ctx)
        if a.auth:
            kw.update(authenticator=authenticator, auth_required=True, auth_require_tls=a.tls)
        return SMTP(handler, **kw)

    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(loop.create_server(factory, "127.0.0.1", 0))
    port = server.sockets[0].getsockname()[1]
    with open(os.path.join(a.dir, "port.tmp"), "w") as f:
        f.write(str(port))
    os.rename(os.path.join(a.dir, "port.tmp"), os.path.join(a.dir, "port"))
    loop.add_signal_handler(signal.SIGTERM, loop.stop)
    loop.run_forever()
    server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
