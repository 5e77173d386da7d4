-- wrk script: post the generated webhook bodies (bodies.lua) round-robin, each wrk thread from its
-- own offset, and count replies by outcome. Loaded by benchmarks/throughput/run.py.
-- Arguments: bodies file, wrk threads, and optionally a target rate (requests/s over all threads)
-- and the connections per thread: each connection then waits between requests, the wait adjusted
-- every second so the thread holds its share of the rate (0: as fast as the server answers).
-- A fifth argument, a path prefix, writes the event id of every 202 reply to <prefix>-<thread>.txt,
-- one per line, so each accepted event can be checked one by one (make bench-cluster).
local threads = {}
local thread_id = 0

function setup(thread)
   thread:set("id", thread_id)
   thread_id = thread_id + 1
   table.insert(threads, thread)
end

function init(args)
   dofile(args[1])            -- defines `bodies` and `auth`
   local count = #bodies
   index = math.floor(id * count / tonumber(args[2])) + 1
   accepted, duplicate, ignored, other = 0, 0, 0, 0
   throttled, unavailable, server_error = 0, 0, 0   -- 429, 503, other 5xx (counted in `other` too)
   target = tonumber(args[3] or "0") / tonumber(args[2])   -- this thread's share, per second
   per_thread = tonumber(args[4] or "1")
   wait_ms = target > 0 and per_thread * 1000 / target or 0
   second, this_second = os.time(), 0
   if target == 0 then delay = nil end  -- wrk then sends without a timer per request
   if args[5] then
      ids = io.open(args[5] .. "-" .. id .. ".txt", "w")
      ids:setvbuf("line")  -- whole lines on disk as they come: wrk exits without closing files
   end
end

function delay()
   return math.floor(wait_ms)
end

local function pace()
   this_second = this_second + 1
   local now = os.time()
   if target > 0 and now ~= second then
      -- rate = connections / (latency + wait): move the wait by the gap between the two rates
      local achieved = this_second / (now - second)
      wait_ms = math.max(0, wait_ms + per_thread * 1000 * (1 / target - 1 / achieved))
      second, this_second = now, 0
   end
end

function request()
   local body = bodies[index]
   index = index + 1
   if index > #bodies then index = 1 end
   return wrk.format("POST", nil, {["Content-Type"] = "application/json", ["Authorization"] = auth}, body)
end

function response(status, headers, body)
   pace()
   if status == 202 then
      if ids then
         local event = string.match(body, '"event_id":%s*(%d+)')
         if event then ids:write(event, "\n") end
      end
      if string.find(body, '"accepted"', 1, true) then accepted = accepted + 1
      elseif string.find(body, '"duplicate"', 1, true) then duplicate = duplicate + 1
      else ignored = ignored + 1 end
   else
      other = other + 1
      if status == 429 then throttled = throttled + 1
      elseif status == 503 then unavailable = unavailable + 1
      elseif status >= 500 then server_error = server_error + 1 end
   end
end

function done(summary, latency, requests)
   local totals = {accepted = 0, duplicate = 0, ignored = 0, other = 0, throttled = 0, unavailable = 0,
                   server_error = 0}
   for _, thread in ipairs(threads) do
      for key, _ in pairs(totals) do totals[key] = totals[key] + thread:get(key) end
   end
   io.write(string.format(
      "RESULT {\"accepted\": %d, \"duplicate\": %d, \"ignored\": %d, \"other\": %d, \"throttled\": %d, " ..
      "\"unavailable\": %d, \"server_error\": %d, \"requests\": %d, " ..
      "\"seconds\": %.3f, \"p50_ms\": %.3f, \"p95_ms\": %.3f, \"p99_ms\": %.3f, \"errors\": %d}\n",
      totals.accepted, totals.duplicate, totals.ignored, totals.other, totals.throttled, totals.unavailable,
      totals.server_error, summary.requests,
      summary.duration / 1e6, latency:percentile(50) / 1e3, latency:percentile(95) / 1e3,
      latency:percentile(99) / 1e3,
      summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
