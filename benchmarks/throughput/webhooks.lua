-- wrk script: post the generated webhook bodies (bodies.lua) round-robin, each wrk thread from its
-- own offset, and count replies by outcome. Loaded by benchmarks/throughput/run.py.
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
end

function request()
   local body = bodies[index]
   index = index + 1
   if index > #bodies then index = 1 end
   return wrk.format("POST", nil, {["Content-Type"] = "application/json", ["Authorization"] = auth}, body)
end

function response(status, headers, body)
   if status == 202 then
      if string.find(body, '"accepted"', 1, true) then accepted = accepted + 1
      elseif string.find(body, '"duplicate"', 1, true) then duplicate = duplicate + 1
      else ignored = ignored + 1 end
   else
      other = other + 1
   end
end

function done(summary, latency, requests)
   local totals = {accepted = 0, duplicate = 0, ignored = 0, other = 0}
   for _, thread in ipairs(threads) do
      for key, _ in pairs(totals) do totals[key] = totals[key] + thread:get(key) end
   end
   io.write(string.format(
      "RESULT {\"accepted\": %d, \"duplicate\": %d, \"ignored\": %d, \"other\": %d, \"requests\": %d, " ..
      "\"seconds\": %.3f, \"p50_ms\": %.3f, \"p95_ms\": %.3f, \"p99_ms\": %.3f, \"errors\": %d}\n",
      totals.accepted, totals.duplicate, totals.ignored, totals.other, summary.requests,
      summary.duration / 1e6, latency:percentile(50) / 1e3, latency:percentile(95) / 1e3,
      latency:percentile(99) / 1e3,
      summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
