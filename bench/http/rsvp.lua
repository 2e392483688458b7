-- rsvp.lua - wrk script: PUT /v1/events/{id}/rsvp with a bearer token, over the
-- seeded members (tokens.txt) and events (events.txt) in $BENCH_DATA. Fixed work:
-- the BENCH_REQUESTS (member, event) pairs are dealt out to the BENCH_THREADS
-- threads, each pair requested once, and a thread stops after its share, so that
-- every server does the same RSVPs.
local dir = os.getenv("BENCH_DATA")
local tokens, events = {}, {}
for l in io.lines(dir .. "/tokens.txt") do if #l > 0 then tokens[#tokens + 1] = l end end
for l in io.lines(dir .. "/events.txt") do if #l > 0 then events[#events + 1] = l end end
local total = tonumber(os.getenv("BENCH_REQUESTS") or "") or #tokens * #events
local nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")

local counter = 0
function setup(thread)
  thread:set("first", counter)
  counter = counter + 1
end

local i, got = 0, 0
local share
function init()
  share = math.floor(total / nthreads)
  if first == nthreads - 1 then share = total - share * (nthreads - 1) end
  base = math.floor(total / nthreads) * first
end

function request()
  local n = base + (i % share)
  i = i + 1
  local t = tokens[(n % #tokens) + 1]
  local e = events[(math.floor(n / #tokens) % #events) + 1]
  return wrk.format("PUT", "/v1/events/" .. e .. "/rsvp",
    { ["Authorization"] = "Bearer " .. t, ["Content-Type"] = "application/json" }, "{}")
end

function response()
  got = got + 1
  if got >= share then wrk.thread:stop() end
end
