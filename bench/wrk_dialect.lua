-- wrk script for bench/dialect_bench.sh: POST one streaming request in the caller's dialect
-- (DIALECT: messages, responses or chat) for model "m", whose deployment speaks Anthropic's
-- Messages; with TOOL=1 the simulator answers with a call of tool get_weather whose arguments are
-- ARGS_BYTES long (streamed in 8-byte slices), else with STREAM_TOKENS words. Counts the SSE events
-- the caller received and the answers that were not 200.
local dialect = os.getenv("DIALECT") or "messages"
local tokens = os.getenv("STREAM_TOKENS") or "200"
local tool = os.getenv("TOOL") == "1"
local args_bytes = tonumber(os.getenv("ARGS_BYTES") or "1400")
local tools = {
   messages = '"tools":[{"name":"get_weather","description":"Weather now","input_schema":{"type":"object","properties":{"city":{"type":"string"}}}}]',
   responses = '"tools":[{"type":"function","name":"get_weather","description":"Weather now","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}]',
   chat = '"tools":[{"type":"function","function":{"name":"get_weather","description":"Weather now","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]',
}
local bodies = {
   messages = '{"model":"m","stream":true,"max_tokens":100000,"messages":[{"role":"user","content":"Say something about trains."}]',
   responses = '{"model":"m","stream":true,"store":false,"max_output_tokens":100000,"input":"Say something about trains."',
   chat = '{"model":"m","stream":true,"stream_options":{"include_usage":true},"max_tokens":100000,"messages":[{"role":"user","content":"Say something about trains."}]',
}
local paths = { messages = "/v1/messages", responses = "/v1/responses", chat = "/v1/chat/completions" }

wrk.method = "POST"
wrk.path = paths[dialect]
wrk.headers["Content-Type"] = "application/json"
wrk.headers["x-api-key"] = "sk-bench-caller-0001"
wrk.headers["anthropic-version"] = "2023-06-01"
wrk.headers["x-sim-tokens"] = tokens
wrk.headers["x-sim-itl-ms"] = "0"
wrk.body = bodies[dialect] .. (tool and ("," .. tools[dialect]) or "") .. "}"
if tool then
   wrk.headers["x-sim-tool-call"] = "get_weather"
   wrk.headers["x-sim-tool-arguments"] = '{"city":"' .. string.rep("x", args_bytes - 11) .. '"}'
end

local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) events = 0; bad = 0 end
function response(status, headers, body)
   if status ~= 200 then bad = bad + 1; return end
   local _, n = string.gsub(body, "data: ", "")
   events = events + n
end
function done(summary, latency, requests)
   local total, total_bad = 0, 0
   for _, thread in ipairs(threads) do
      total = total + thread:get("events")
      total_bad = total_bad + thread:get("bad")
   end
   io.write(string.format("REQUESTS %d\nSSE_EVENTS %d\nBAD %d\n", summary.requests, total, total_bad))
end
