-- wrk script for bench/tiles.sh: each connection walks the URL list of URLS_FILE (one URL per line,
-- all on wrk's host), from its own starting point, asking for gzip as browsers do; at the end it
-- prints one JSON line: label, requests, seconds, requests/s, p50 and p99 latency in ms, and the
-- count of non-2xx/3xx answers and socket errors.
--
--   URLS_FILE=urls.txt LABEL="rentgrid cold grids z15" wrk -t2 -c8 -d4s -s bench/urls.lua http://127.0.0.1:PORT

local paths = {}
for line in io.lines(os.getenv("URLS_FILE")) do
  local path = line:match("^https?://[^/]+(/.*)$")
  if path then
    paths[#paths + 1] = path
  end
end
assert(#paths > 0, "URLS_FILE holds no URL")

local threads = {}

function setup(thread)
  thread:set("first", #threads)
  threads[#threads + 1] = thread
end

local next_index

function init(args)
  -- Threads start at different points of the list so they do not ask for the same tile at once.
  next_index = (first * 7919) % #paths
end

-- AUTHORIZATION (e.g. "Bearer rgt_…"), when set, is sent with every request.
local headers = { ["Accept-Encoding"] = "gzip", ["Authorization"] = os.getenv("AUTHORIZATION") }

function request()
  next_index = next_index % #paths + 1
  return wrk.format("GET", paths[next_index], headers)
end

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    '{"label": "%s", "requests": %d, "seconds": %.3f, "rps": %.1f, "p50_ms": %.3f, "p99_ms": %.3f, "bad_status": %d, "socket_errors": %d}\n',
    os.getenv("LABEL") or "", summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, e.status, e.connect + e.read + e.write + e.timeout))
end
