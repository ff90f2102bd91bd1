// Claude Code, unmodified, through the gateway to a real llama-server: the model is one whose
// weights scripts/make_agent_model.py sets so that it calls Claude Code's Bash tool on the first
// turn and answers once it sees a tool result (llama-server tokenizes, applies the template,
// samples under its tool-call grammar and parses the call into Anthropic's or OpenAI's shape as
// for any model). Once with llama-server's own /v1/messages and once through its chat API, the
// gateway translating Messages to chat and back.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  claudeBinary, claudeSucceeded, requireBinaries, startLlamaStack, ledgerRows, runClaude,
} from './harness.mjs';

const COMMAND = 'echo switchyard-ok > marker.txt && cat marker.txt';
const ANSWER = 'Done: marker.txt was written and read back.';

let stack;
before(async () => {
  requireBinaries(claudeBinary());
  stack = await startLlamaStack('claude-llama', { tool: 'Bash', args: { command: COMMAND }, answer: ANSWER });
});
after(async () => { if (stack) await stack.stop(); });

const PROMPT = 'Write the marker file, then report what the command printed.';

for (const [model, upstream] of [['sy-llama', 'llama'], ['sy-llama-chat', 'llama-chat']]) {
  test(`Claude Code runs a Bash tool call through ${model} (llama-server, upstream ${upstream})`, { timeout: 120_000 }, async () => {
    const r = await runClaude(stack.gateway.url, model, PROMPT, { timeoutMs: 90_000 });
    const { result, diag } = claudeSucceeded(r, stack.logs());
    // llama-server's reply was a tool call Claude Code ran in its working directory...
    const marker = path.join(r.work, 'marker.txt');
    assert.ok(fs.existsSync(marker), `no marker.txt: the Bash tool did not run\n${diag}`);
    assert.equal(fs.readFileSync(marker, 'utf8').trim(), 'switchyard-ok');
    // ...and the model answered only because the next request carried the tool's result.
    assert.equal(result.result.trim(), ANSWER, diag);
    assert.ok(result.num_turns >= 2, diag);

    // The call and the turn with its result are in the ledger under the caller's key, served by
    // that upstream, with the tokens llama-server counted.
    const rows = (await ledgerRows(stack.ledger, model, 2)).filter((row) => row.upstream === upstream);
    const ok = rows.filter((row) => row.status === 200 && row.key_name === 'clients-test' && row.prompt_tokens > 0 &&
                                    row.completion_tokens > 0);
    assert.ok(ok.length >= 2, `ledger rows for ${model}: ${JSON.stringify(rows)}\n${diag}`);
  });
}
