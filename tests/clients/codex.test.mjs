// Codex CLI, unmodified, through the gateway: `codex exec` with a custom Responses provider whose
// http_headers script switchyard-sim to call Codex's shell tool (exec_command); Codex runs it and
// sends the output back, and the model's final message quotes it. Once with the sim reached as a
// Responses upstream (native) and once as an OpenAI chat upstream (translated).
//
// Codex 0.171.0 offers, besides flat function tools, a `{"type":"namespace","name":"multi_agent_v1",
// "tools":[function tools]}` tool; the translated model needs the gateway to carry it to chat.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  codexBinary, requireBinaries, startStack, ledgerRows, runCodex, requireToolCallOnce,
} from './harness.mjs';

let stack;
before(async () => {
  requireBinaries(codexBinary());
  stack = await startStack('codex');
  await requireToolCallOnce(stack.sim.url);
});
after(async () => { if (stack) await stack.stop(); });

const COMMAND = 'echo switchyard-ok > marker.txt && cat marker.txt';
const PROMPT = 'Write the marker file, then report what the command printed.';
// The sim calls exec_command once, then echoes the tool's result.
const HEADERS = {
  'x-sim-tool-call': 'exec_command',
  'x-sim-tool-arguments': JSON.stringify({ cmd: COMMAND }),
  'x-sim-tool-call-once': 'true',
};

for (const [model, upstreamPath] of [['sy-responses', '/v1/responses'], ['sy-chat', '/v1/chat/completions']]) {
  test(`Codex CLI runs a shell tool call through ${model} (upstream ${upstreamPath})`, { timeout: 60_000 }, async () => {
    const before = (await stack.sim.stats()).by_endpoint?.[upstreamPath] ?? 0;
    const r = await runCodex(stack.gateway.url, model, PROMPT, { headers: HEADERS });
    const diag = `exit ${r.code} ${r.signal ?? ''}${r.timedOut ? ' (timed out)' : ''}\n--- last message ---\n` +
                 `${r.lastMessage}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}\n${stack.logs()}`;
    assert.equal(r.code, 0, diag);
    const marker = path.join(r.work, 'marker.txt');
    assert.ok(fs.existsSync(marker), `no marker.txt: the shell tool did not run\n${diag}`);
    assert.equal(fs.readFileSync(marker, 'utf8').trim(), 'switchyard-ok');
    // The command's output went back to the model, whose final message quotes it.
    assert.match(r.lastMessage, /Tool result:[\s\S]*switchyard-ok/, diag);

    const stats = await stack.sim.stats();
    assert.ok((stats.by_endpoint?.[upstreamPath] ?? 0) - before >= 2, `sim stats: ${JSON.stringify(stats)}\n${diag}`);
    const rows = await ledgerRows(stack.ledger, model, 2);
    const ok = rows.filter((row) => row.status === 200 && row.key_name === 'clients-test' && row.stream === 1);
    assert.ok(ok.length >= 2, `ledger rows for ${model}: ${JSON.stringify(rows)}\n${diag}`);
  });
}

test('Codex CLI\'s web search runs at Anthropic through sy-messages (upstream /v1/messages)', { timeout: 60_000 }, async () => {
  const before = (await stack.sim.stats()).by_endpoint?.['/v1/messages'] ?? 0;
  const r = await runCodex(stack.gateway.url, 'sy-messages', 'Search the web for switchyard gateway.',
    { headers: { 'x-sim-web-search': 'gateway news 2026' }, webSearch: true });
  const diag = `exit ${r.code} ${r.signal ?? ''}${r.timedOut ? ' (timed out)' : ''}\n--- last message ---\n` +
               `${r.lastMessage}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}\n${stack.logs()}`;
  assert.equal(r.code, 0, diag);
  // The sim searched (it does only when the request offers Anthropic's web_search tool) and the
  // answer that follows the search is Codex's last message.
  assert.match(r.lastMessage, /^According to the search, /, diag);
  // Codex shows the search it saw (the query comes from the upstream, not from the prompt).
  assert.match(r.stdout + r.stderr, /gateway news 2026/, diag);
  const stats = await stack.sim.stats();
  assert.ok((stats.by_endpoint?.['/v1/messages'] ?? 0) - before >= 1, `sim stats: ${JSON.stringify(stats)}\n${diag}`);
});
