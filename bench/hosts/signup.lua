-- signup.lua - wrk script: POST /v1/members without a password (a member row,
-- its audit row and the signup counter, no argon2id), each request a new e-mail
-- address (thread number, request number and a per-run prefix).
local counter = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end

local i = 0
local run = os.getenv("BENCH_RUN") or tostring(os.time())
function request()
  i = i + 1
  local body = string.format('{"email":"s%s-%d-%d@bench.test","name":"Member %d"}', run, tid, i, i)
  return wrk.format("POST", "/v1/members", { ["Content-Type"] = "application/json" }, body)
end
