"""test_sns.py - POST /v1/mail/sns (mail.sns_receive) as Amazon SNS calls it:
JSON labelled text/plain; charset=UTF-8, signed with a certificate from a test
CA made here with the openssl command and served as a file:// URL under the
configured prefix. A valid bounce is taken (200) and suppresses the address;
a tampered message is 401, a certificate URL outside the prefix 403, a replay
200 with no second effect, an unknown type 422, a server where SNS is not
configured 503 CM_ENOTSUP; other routes still refuse text/plain (415)."""
import base64
import datetime
import json
import os
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from httptest import Server, check, eq, problem, run, test  # noqa: E402

S = {}
TOPIC = "arn:aws:sns:eu-west-1:123456789012:ses-feedback"


def sh(cmd):
    subprocess.run(cmd, shell=True, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def setup():
    S["tmp"] = tempfile.TemporaryDirectory(prefix="cmh-sns-")
    d = S["pki"] = S["tmp"].name
    sh("cd '%s' && mkdir trusted other && "
       "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 "
       "-subj '/CN=test ca' && "
       "openssl req -newkey rsa:2048 -nodes -keyout signer.key -out signer.csr "
       "-subj /CN=sns.amazonaws.com && "
       "openssl x509 -req -in signer.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
       "-out trusted/signer.pem && cp trusted/signer.pem other/" % d)
    env = {"COMMUNITY_SNS_CERT_URL_PREFIXES": "file://%s/trusted/" % d,
           "COMMUNITY_SNS_CA_FILE": os.path.join(d, "ca.pem")}
    S["srv"] = Server(db_path=os.path.join(d, "db.sqlite"), args=["--rate-limit", "0"], env=env)
    return S


def teardown(_):
    if "srv" in S:
        S["srv"].close()
    S["tmp"].cleanup()


def sql(query):
    db = sqlite3.connect(S["srv"].db_path, timeout=30)
    try:
        return db.execute(query).fetchall()
    finally:
        db.close()


SEQ = [0]


def message(rcpt, kind="Bounce", cert_dir="trusted", version="2"):
    SEQ[0] += 1
    if kind == "Bounce":
        ses = {"notificationType": "Bounce",
               "bounce": {"bounceType": "Permanent", "bouncedRecipients": [{"emailAddress": rcpt}]}}
    else:
        ses = {"notificationType": kind}
    m = {"Type": "Notification", "MessageId": "msg-%d" % SEQ[0], "TopicArn": TOPIC,
         "Message": json.dumps(ses),
         "Timestamp": datetime.datetime.now(datetime.timezone.utc).strftime(
             "%Y-%m-%dT%H:%M:%S.000Z"),
         "SignatureVersion": version,
         "SigningCertURL": "file://%s/%s/signer.pem" % (S["pki"], cert_dir)}
    text = "".join("%s\n%s\n" % (k, m[k]) for k in
                   ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type") if k in m)
    sig = subprocess.run(["openssl", "dgst", "-sha256" if version == "2" else "-sha1", "-sign",
                          os.path.join(S["pki"], "signer.key")], input=text.encode(),
                         stdout=subprocess.PIPE, check=True).stdout
    m["Signature"] = base64.b64encode(sig).decode()
    return m


def post(m, ctype="text/plain; charset=UTF-8"):
    return S["srv"].request("POST", "/v1/mail/sns", raw_body=json.dumps(m).encode(),
                            headers={"Content-Type": ctype,
                                     "x-amz-sns-message-type": m.get("Type", "")})


@test
def a_signed_bounce_as_sns_sends_it_suppresses(s):
    st, _, _, js = post(message("gone@example.com", version="1"))
    eq(st, 200, "taken")
    eq((js["event"], js["suppressed"], js["duplicate"]), ("bounce", 1, False), "result")
    eq(sql("SELECT count(*) FROM mail_suppression")[0][0], 1, "one suppression")


@test
def tampered_is_401_and_changes_nothing(s):
    m = message("tamper@example.com")
    m["Message"] = m["Message"].replace("tamper@", "other@")
    before = sql("SELECT count(*) FROM mail_feedback")[0][0]
    resp = post(m)
    problem(resp, 401, "CM_EAUTH")
    eq(sql("SELECT count(*) FROM mail_feedback")[0][0], before, "nothing recorded")


@test
def certificate_outside_the_prefix_is_403(s):
    problem(post(message("x@example.com", cert_dir="other")), 403, "CM_EPERM")


@test
def a_replay_has_no_second_effect(s):
    m = message("twice@example.com")
    eq(post(m)[0], 200, "first")
    st, _, _, js = post(m)
    eq((st, js["duplicate"]), (200, True), "second is a duplicate")
    eq(sql("SELECT reports FROM mail_suppression ORDER BY updated_at DESC LIMIT 1")[0][0], 1,
       "reported once")


@test
def unknown_type_is_422(s):
    m = message("x@example.com")
    m["Type"] = "Surprise"
    problem(post(m), 422, "CM_EINVAL", "Type")


@test
def json_content_type_works_and_other_routes_refuse_text(s):
    st, _, _, js = post(message("json@example.com"), ctype="application/json")
    eq(st, 200, "application/json taken too")
    st, _, _, _ = S["srv"].request("POST", "/v1/password-resets",
                                   raw_body=b'{"email":"a@example.com"}',
                                   headers={"Content-Type": "text/plain"})
    eq(st, 415, "other routes want application/json")
    st, _, _, doc = S["srv"].request("GET", "/openapi.json")
    body = doc["paths"]["/v1/mail/sns"]["post"]["requestBody"]["content"]
    check("text/plain" in body and "application/json" in body, "OpenAPI names both types")


@test
def metrics_show_mail_per_kind_and_pass_promtool(s):
    # a delivered mail of a known kind, so that the histogram has a sample
    db = sqlite3.connect(S["srv"].db_path, timeout=30)
    with db:
        db.execute("INSERT INTO email_outbox (to_addr, template, payload, created_at, status, "
                   "sent_at) VALUES ('m@example.com', 'magic_link', '{}', 1000000, 'sent', "
                   "1400000)")
    db.close()
    st, _, data, _ = S["srv"].request("GET", "/metrics")
    eq(st, 200, "metrics")
    text = data.decode()
    for line in ('community_mail_messages_total{kind="unknown",outcome="bounced"} 3',
                 'community_mail_messages_total{kind="magic_link",outcome="sent"} 1',
                 'community_mail_messages_total{kind="magic_link",outcome="queued"} 1',
                 'community_mail_delivery_latency_seconds_bucket{kind="magic_link",le="0.1"} 0',
                 'community_mail_delivery_latency_seconds_bucket{kind="magic_link",le="0.5"} 1',
                 'community_mail_delivery_latency_seconds_count{kind="magic_link"} 1',
                 'community_mail_outbox_depth{kind="magic_link",status="pending"} 0',
                 "community_mail_stats_up 1"):
        check(line in text, "metrics lack %s" % line)
    promtool = os.environ.get("PROMTOOL")
    check(promtool, "promtool is installed (apt-get install -y prometheus)")
    r = subprocess.run([promtool, "check", "metrics"], input=data, capture_output=True)
    eq(r.returncode, 0, "promtool check metrics: %s %s" % (r.stdout, r.stderr))


@test
def not_configured_is_503_not_configured(s):
    # a server without COMMUNITY_SNS_CERT_URL_PREFIXES: a clear 503 with the
    # library's code and what is missing, not a generic 500
    srv = Server(db_path=os.path.join(S["pki"], "unconfigured.sqlite"), args=["--rate-limit", "0"],
                 env={"COMMUNITY_SNS_CERT_URL_PREFIXES": ""})
    try:
        m = message("x@example.com")
        resp = srv.request("POST", "/v1/mail/sns", raw_body=json.dumps(m).encode(),
                           headers={"Content-Type": "text/plain; charset=UTF-8",
                                    "x-amz-sns-message-type": "Notification"})
        js = problem(resp, 503, "CM_ENOTSUP")
        check("COMMUNITY_SNS_CERT_URL_PREFIXES" in js["detail"], "detail names the setting: %s"
              % js["detail"])
    finally:
        srv.close()


if __name__ == "__main__":
    run(setup, teardown)
