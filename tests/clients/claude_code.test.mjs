// Claude Code, unmodified, through the gateway: the model (switchyard-sim, scripted by headers that
// Claude Code sends with ANTHROPIC_CUSTOM_HEADERS) calls Claude Code's Bash tool, Claude Code runs
// it and sends the result back, and the model's answer quotes the result. Once with the sim reached
// as an Anthropic upstream (native messages) and once as an OpenAI chat upstream (translated).
//
// Claude Code 2.1.332 sends `{"role":"system"}` messages inside `messages` (with the anthropic-beta
// mid-conversation-tool-changes-2026-07-01). On a 400 worded as Anthropic words it
// ("messages.N.role: Input should be 'user' or 'assistant'") it sends the request again without
// them; on any other wording it retries the same request and fails. The translated model needs the
// gateway to read such messages (see the report in the commit that added this test).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  claudeBinary, claudeSucceeded, requireBinaries, startStack, ledgerRows, runClaude, requireToolCallOnce,
} from './harness.mjs';

let stack;
before(async () => {
  requireBinaries(claudeBinary());
  stack = await startStack('claude');
  await requireToolCallOnce(stack.sim.url);
});
after(async () => { if (stack) await stack.stop(); });

const COMMAND = 'echo switchyard-ok > marker.txt && cat marker.txt';

const PROMPT = 'Write the marker file, then report what the command printed.';
// The sim calls Bash once, then echoes the tool's result.
const HEADERS = [
  'x-sim-tool-call: Bash',
  `x-sim-tool-arguments: ${JSON.stringify({ command: COMMAND, description: 'Write the marker file' })}`,
  'x-sim-tool-call-once: true',
];

for (const [model, upstreamPath] of [['sy-messages', '/v1/messages'], ['sy-chat', '/v1/chat/completions']]) {
  test(`Claude Code runs a Bash tool call through ${model} (upstream ${upstreamPath})`, { timeout: 60_000 }, async () => {
    const before = (await stack.sim.stats()).by_endpoint?.[upstreamPath] ?? 0;
    const r = await runClaude(stack.gateway.url, model, PROMPT, { headers: HEADERS });
    const { result, diag } = claudeSucceeded(r, stack.logs());
    // The tool ran in the working directory...
    const marker = path.join(r.work, 'marker.txt');
    assert.ok(fs.existsSync(marker), `no marker.txt: the Bash tool did not run\n${diag}`);
    assert.equal(fs.readFileSync(marker, 'utf8').trim(), 'switchyard-ok');
    // ...and its output went back to the model, whose answer quotes it.
    assert.match(result.result, /Tool result: .*switchyard-ok/, diag);
    assert.ok(result.num_turns >= 2, diag);

    // At least two requests (the call, then the result) reached the sim in the upstream's dialect,
    // and the gateway's ledger has them under the caller's key, answered 200.
    const stats = await stack.sim.stats();
    assert.ok((stats.by_endpoint?.[upstreamPath] ?? 0) - before >= 2, `sim stats: ${JSON.stringify(stats)}\n${diag}`);
    const rows = await ledgerRows(stack.ledger, model, 2);
    const ok = rows.filter((row) => row.status === 200 && row.key_name === 'clients-test' && row.stream === 1);
    assert.ok(ok.length >= 2, `ledger rows for ${model}: ${JSON.stringify(rows)}\n${diag}`);
  });
}

// Claude Code's WebSearch tool asks the model's API for a search of its own (a request whose only
// tool is Anthropic's web search server tool, forced) and reads the server_tool_use and
// web_search_tool_result blocks of the answer. Through sy-responses that request is translated to
// OpenAI's Responses API with its web_search tool, and the answer's web_search_call and cited text
// come back as those blocks: the tool's result, which the sim then echoes, lists the pages found.
test('Claude Code\'s WebSearch runs at OpenAI through sy-responses (upstream /v1/responses)', { timeout: 90_000 }, async () => {
  const before = (await stack.sim.stats()).by_endpoint?.['/v1/responses'] ?? 0;
  const headers = [
    'x-sim-tool-call: WebSearch',
    `x-sim-tool-arguments: ${JSON.stringify({ query: 'rail news 2026' })}`,
    'x-sim-tool-call-once: true',
    'x-sim-web-search: rail news 2026',
  ];
  const r = await runClaude(stack.gateway.url, 'sy-responses', 'Search the web for rail news.',
    { headers, allowedTools: 'WebSearch' });
  const { result, diag } = claudeSucceeded(r, stack.logs());
  // The tool's result (echoed by the sim) holds the search's query and the pages it found.
  assert.match(result.result, /Tool result: [\s\S]*rail news 2026/, diag);
  assert.match(result.result, /https:\/\/search\.example\/1/, diag);
  // The main loop's call, the search, the answer: at least three requests reached the Responses upstream.
  const stats = await stack.sim.stats();
  assert.ok((stats.by_endpoint?.['/v1/responses'] ?? 0) - before >= 3, `sim stats: ${JSON.stringify(stats)}\n${diag}`);
});
