#!/usr/bin/python3
"""parse_mail.py DIR - what the sink received, parsed by Python's email
package (policy.default: RFC 2047 decoding, address parsing, MIME tree) and
printed as one JSON array, oldest first. Each item:
  envelope      the sink's record (mail_from, rcpt_tos, peer_port, tls, auth)
  headers       {lower-case name: [decoded values]}
  raw           {lower-case name: [raw values as on the wire]}
  from, to      [[display name, address], ...]
  max_line      longest line in octets (without CRLF)
  bare_lf       true when a LF is not preceded by CR
  eight_bit     true when any octet is >= 0x80
  defects       number of defects Python found
  type          top-level content type
  parts         leaves: type, charset, method, filename, disposition, cte,
                body (decoded, CRLF shown as LF)
"""
import email
import email.policy
import json
import os
import sys


def leaves(msg):
    out = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        body = part.get_content()
        if isinstance(body, bytes):
            body = body.decode("utf-8", "replace")
        body = body.replace("\r\n", "\n")
        out.append({
            "type": part.get_content_type(),
            "charset": part.get_content_charset(),
            "method": part.get_param("method"),
            "filename": part.get_filename(),
            "disposition": part.get_content_disposition(),
            "cte": part.get("Content-Transfer-Encoding"),
            "body": body,
        })
    return out


def one(path):
    raw = open(path, "rb").read()
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    heads, raws = {}, {}
    for k, v in msg.items():
        heads.setdefault(k.lower(), []).append(str(v))
    rawmsg = email.message_from_bytes(raw, policy=email.policy.compat32)
    for k, v in rawmsg.items():
        raws.setdefault(k.lower(), []).append(v)
    lines = raw.split(b"\r\n")
    defects = len(msg.defects) + sum(len(p.defects) for p in msg.walk())
    item = {
        "headers": heads,
        "raw": raws,
        "max_line": max(len(l) for l in lines),
        "bare_lf": b"\n" in raw.replace(b"\r\n", b""),
        "eight_bit": any(b >= 0x80 for b in raw),
        "defects": defects,
        "type": msg.get_content_type(),
        "parts": leaves(msg),
    }
    for h in ("from", "to"):
        if msg[h] is not None:
            item[h] = [[a.display_name, a.addr_spec] for a in msg[h].addresses]
    meta = path[:-4] + ".json"
    if os.path.exists(meta):
        item["envelope"] = json.load(open(meta))
    return item


def main():
    d = sys.argv[1]
    if os.path.isdir(os.path.join(d, "msgs")):
        d = os.path.join(d, "msgs")
    if os.path.isdir(d):
        files = sorted(f for f in os.listdir(d) if f.endswith(".eml"))
        out = [one(os.path.join(d, f)) for f in files]
    else:
        out = [one(d)]
    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
