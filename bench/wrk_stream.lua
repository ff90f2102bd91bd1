-- wrk script: POST a streaming chat completion and count the SSE events received
-- (used by bench/core_bench.sh). The simulator's length comes from the x-sim-tokens header,
-- set with the STREAM_TOKENS environment variable (default 500), and its inter-token delay from
-- x-sim-itl-ms, set with STREAM_ITL_MS (default 0: every event as fast as the simulator writes).
-- wrk hands `response` the whole de-chunked body, so the count is exact but not incremental.
local tokens = os.getenv("STREAM_TOKENS") or "500"
local itl_ms = os.getenv("STREAM_ITL_MS") or "0"
wrk.method = "POST"
wrk.path = "/v1/chat/completions"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["x-sim-tokens"] = tokens
wrk.headers["x-sim-itl-ms"] = itl_ms
wrk.body = '{"model":"bench","stream":true,"messages":[{"role":"user","content":"hello"}],"max_tokens":100000}'

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   events = 0
   bad = 0
   done_markers = 0
end

function response(status, headers, body)
   if status ~= 200 then
      bad = bad + 1
      return
   end
   local _, n = string.gsub(body, "data: ", "")
   events = events + n
   if string.find(body, "data: [DONE]", 1, true) then
      done_markers = done_markers + 1
   end
end

function done(summary, latency, requests)
   local total, total_bad, total_done = 0, 0, 0
   for _, thread in ipairs(threads) do
      total = total + thread:get("events")
      total_bad = total_bad + thread:get("bad")
      total_done = total_done + thread:get("done_markers")
   end
   io.write(string.format("SSE_EVENTS %d\nSSE_DONE %d\nSSE_BAD %d\nDURATION_US %d\n",
      total, total_done, total_bad, summary.duration))
end
