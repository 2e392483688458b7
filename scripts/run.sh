#!/usr/bin/env bash
# run.sh - build libcommunity, the `community` CLI and the HTTP server
# (release, build-run; no tests or benchmarks), create community.db with
# the demo data when it is absent, then show the upcoming events and make an
# RSVP round trip with the `community` CLI, and start the HTTP API server
# (community-server) on that database, printing its URL. Ctrl-C stops it.
# Environment: DB_FILE (default community.db in the repository root),
# LISTEN (default 127.0.0.1:8080), NO_SERVER=1 to stop after the CLI demo.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh run
if [ ! -d build-run/meson-private ]; then
    meson setup build-run -Dbuildtype=release -Dtests=disabled -Ddocs=disabled
fi
# Only what running needs (the library comes with them); scripts/test.sh builds the rest.
RUN_TARGETS=(examples/cli/community examples/http/community-server)
ninja -C build-run -j"${JOBS:-2}" "${RUN_TARGETS[@]}"

cli=build-run/examples/cli/community
DB_FILE=${DB_FILE:-community.db}
export COMMUNITY_DB="sqlite://$DB_FILE"

# step ARGS...: show the command (on stderr, so that filters below keep it), run it.
step() { printf '\n$ community %s\n' "$*" >&2; "$cli" "$@"; }

if [ ! -f "$DB_FILE" ]; then
    step seed examples/cli/demo.json
else
    echo "using the existing $DB_FILE (delete it to start from the demo data again)"
fi

step events list --columns id,title,format,start_local,timezone,capacity,counts.seats_left

# The first upcoming event, and a demo member who has no RSVP for it yet.
event_id=$("$cli" --json events list --limit 1 |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["items"][0]["id"])')
member=""
for m in raj@example.org mei@example.org ada@example.org; do
    rsvp=$("$cli" --json --as "$m" events get --event-id "$event_id" |
        python3 -c 'import json, sys; print(json.load(sys.stdin).get("my_rsvp") or "none")')
    if [ "$rsvp" = none ] || [ "$rsvp" = cancelled ]; then member=$m; break; fi
done
if [ -z "$member" ]; then
    echo "every demo member already has an RSVP for event $event_id; skipping the round trip"
else
    step --as "$member" rsvps add --event-id "$event_id"
    step --as "$member" events get --event-id "$event_id" |
        grep -E '^(title|start_local|timezone|counts\.|my_rsvp)'
    step --as "$member" rsvps cancel --event-id "$event_id"
    step events get --event-id "$event_id" | grep -E '^(title|counts\.)'
fi
printf '\nCLI: %s --help   (database: %s)\n' "$cli" "$COMMUNITY_DB"

server=build-run/examples/http/community-server
if [ -n "${NO_SERVER:-}" ] || [ ! -x "$server" ]; then
    exit 0
fi
LISTEN=${LISTEN:-127.0.0.1:8080}
printf '\nStarting the API server: http://%s/  (try /v1/events, /openapi.json, /metrics; Ctrl-C stops it)\n' "$LISTEN"
exec "$server" --listen "$LISTEN" --db "$COMMUNITY_DB"
