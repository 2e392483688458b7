-- rsvp.lua - wrk script: PUT /v1/events/{id}/rsvp with a bearer token, cycling
-- through the seeded members (tokens.txt) and events (events.txt) in $BENCH_DATA.
local dir = os.getenv("BENCH_DATA")
local tokens, events = {}, {}
for l in io.lines(dir .. "/tokens.txt") do if #l > 0 then tokens[#tokens + 1] = l end end
for l in io.lines(dir .. "/events.txt") do if #l > 0 then events[#events + 1] = l end end

local counter = 0
function setup(thread)
  thread:set("offset", counter * 7919)
  counter = counter + 1
end

local i = 0
function request()
  i = i + 1
  local n = i + (offset or 0)
  local t = tokens[(n % #tokens) + 1]
  local e = events[(math.floor(n / #tokens) % #events) + 1]
  return wrk.format("PUT", "/v1/events/" .. e .. "/rsvp",
    { ["Authorization"] = "Bearer " .. t, ["Content-Type"] = "application/json" }, "{}")
end
