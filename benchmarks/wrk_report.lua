-- wrk script for the benchmark runner.
-- Request shape comes from the environment (BENCH_METHOD, BENCH_BODY; BENCH_TARGETS names
-- an optional file of "path<TAB>Authorization value" lines, used round robin, for loads
-- spread over several users); every response's status is counted per thread; a thread stops after BENCH_MAX_REQUESTS responses (a
-- safety cap on top of wrk's -d time bound); done() prints one line "BENCH_JSON {...}".

local method = os.getenv("BENCH_METHOD") or "GET"
local body = os.getenv("BENCH_BODY") or ""
local cap = tonumber(os.getenv("BENCH_MAX_REQUESTS") or "0") or 0

wrk.method = method
if body ~= "" then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end

-- Per-thread counters: the chunk runs once in every thread's own Lua state.
statuses = {}
responses = 0
capped = 0

local targets_file = os.getenv("BENCH_TARGETS") or ""
local pool = nil
local next_index = 0

local function build_pool()
  pool = {}
  for line in io.lines(targets_file) do
    local path, auth = line:match("^(%S+)\t(.+)$")
    if path then
      local headers = { ["Authorization"] = auth }
      if body ~= "" then
        headers["Content-Type"] = "application/json"
      end
      table.insert(pool, wrk.format(method, path, headers, body ~= "" and body or nil))
    end
  end
end

if targets_file ~= "" then
  function request()
    if pool == nil then
      build_pool()
    end
    next_index = next_index % #pool + 1
    return pool[next_index]
  end
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function response(status, headers, resp_body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
  responses = responses + 1
  if cap > 0 and responses >= cap then
    capped = 1
    wrk.thread:stop()
  end
end

local function json_statuses(merged)
  local parts = {}
  for key, count in pairs(merged) do
    table.insert(parts, string.format('"%s": %d', key, count))
  end
  return "{" .. table.concat(parts, ", ") .. "}"
end

function done(summary, latency, requests)
  local merged = {}
  local was_capped = 0
  for _, thread in ipairs(threads) do
    local counts = thread:get("statuses") or {}
    for key, count in pairs(counts) do
      merged[key] = (merged[key] or 0) + count
    end
    if thread:get("capped") == 1 then
      was_capped = 1
    end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "errors": {"connect": %d, ' ..
    '"read": %d, "write": %d, "timeout": %d, "status": %d}, "latency_us": {"p50": %d, ' ..
    '"p90": %d, "p99": %d, "mean": %.1f, "max": %d}, "statuses": %s, "capped": %d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean,
    latency.max, json_statuses(merged), was_capped))
end
