-- wrk script: POST a small non-streaming chat completion (used by bench/core_bench.sh).
-- Counts non-2xx answers so that a proxy that fails fast cannot look fast.
wrk.method = "POST"
wrk.path = "/v1/chat/completions"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"model":"bench","messages":[{"role":"user","content":"hello"}],"max_tokens":8}'
