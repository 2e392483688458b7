#!/bin/sh
# run.sh - messages per second to a local SMTP server: libcommunity's sender
# (bench_mail: lib/mail/smtp.c on libcurl, one kept connection per thread)
# against nodemailer (pooled SMTP transport), the same rendered message to
# the same server at the same concurrency, rounds interleaved.
#
# The server is the test SMTP server of the mail tests
# (tests/fixtures/smtp_sink.py on Debian's python3-aiosmtpd), started here on
# a loopback port; it writes every message to disk before answering 250.
# Both senders talk plain SMTP (no STARTTLS, no AUTH) to it.
#
# usage: bench/mail/run.sh BUILD_DIR   (bench_mail is built with the tests:
#        ninja -C BUILD_DIR tests/mail/bench_mail)
# Sizes: BENCH_MAIL_N (2000 messages), BENCH_MAIL_CONCURRENCY (4),
# BENCH_MAIL_ROUNDS (3). Prints one JSON line per run, then the medians and
# their ratio.
set -eu
build=${1:?usage: run.sh BUILD_DIR}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "$build" && pwd)
n=${BENCH_MAIL_N:-2000}
conc=${BENCH_MAIL_CONCURRENCY:-4}
rounds=${BENCH_MAIL_ROUNDS:-3}
py=/usr/bin/python3
[ -x "$py" ] || py=python3
work=$(mktemp -d)
cleanup() {
  if [ -n "${sink_pid:-}" ]; then kill "$sink_pid" 2>/dev/null || true; wait "$sink_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

[ -x "$build/tests/mail/bench_mail" ] || ninja -C "$build" tests/mail/bench_mail >/dev/null
cd "$here/peers"
npm ci --no-audit --no-fund >/dev/null

"$py" "$root/tests/fixtures/smtp_sink.py" --dir "$work/sink" &
sink_pid=$!
mkdir -p "$work/sink"
i=0
while [ ! -f "$work/sink/port" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
port=$(cat "$work/sink/port")
url="smtp://127.0.0.1:$port"
echo "# $(uname -m), $(nproc) cores; node $(node --version); sink: smtp_sink.py (aiosmtpd) at $url"
echo "# $n messages per run, concurrency $conc, $rounds rounds"

r=1
while [ $r -le "$rounds" ]; do
  "$build/tests/mail/bench_mail" "$url" "$n" "$conc" "$work/message.eml" | tee -a "$work/results"
  node "$here/peers/nodemailer.mjs" "$url" "$n" "$conc" "$work/message.eml" | tee -a "$work/results"
  r=$((r + 1))
done
received=$(find "$work/sink/msgs" -name '*.eml' | wc -l)
echo "# the server received $received messages (expected $((2 * n * rounds)))"
node -e '
  const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse);
  const med = (xs) => { xs = xs.slice().sort((a, b) => a - b); return xs[Math.floor(xs.length / 2)]; };
  const ours = med(lines.filter((l) => l.system === "libcommunity").map((l) => l.msgs_per_s));
  const peer = lines.find((l) => l.system !== "libcommunity").system;
  const theirs = med(lines.filter((l) => l.system === peer).map((l) => l.msgs_per_s));
  console.log(JSON.stringify({ libcommunity_msgs_per_s: ours, peer, peer_msgs_per_s: theirs,
    ratio: Number((ours / theirs).toFixed(2)) }));
' "$work/results"
