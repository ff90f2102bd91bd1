// Codex CLI, unmodified, through the gateway to a real llama-server: `codex exec` against a model
// whose weights scripts/make_agent_model.py sets so that it calls Codex's exec_command tool on
// the first turn and answers once it sees the tool's output (llama-server tokenizes, applies the
// template, samples under its tool-call grammar and parses the call as for any model). Once with
// llama-server's own /v1/responses and once through its chat API, the gateway translating
// Responses to chat and back.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  codexBinary, requireBinaries, startLlamaStack, ledgerRows, runCodex,
} from './harness.mjs';

const COMMAND = 'echo switchyard-ok > marker.txt && cat marker.txt';
const ANSWER = 'Done: marker.txt was written and read back.';
let stack;
before(async () => {
  requireBinaries(codexBinary());
  stack = await startLlamaStack('codex-llama', { tool: 'exec_command', args: { cmd: COMMAND }, answer: ANSWER });
});
after(async () => { if (stack) await stack.stop(); });

const PROMPT = 'Write the marker file, then report what the command printed.';

for (const [model, upstream] of [['sy-llama', 'llama'], ['sy-llama-chat', 'llama-chat']]) {
  test(`Codex CLI runs a shell tool call through ${model} (llama-server, upstream ${upstream})`, { timeout: 120_000 }, async () => {
    const r = await runCodex(stack.gateway.url, model, PROMPT, { timeoutMs: 90_000 });
    const diag = `exit ${r.code} ${r.signal ?? ''}${r.timedOut ? ' (timed out)' : ''}\n--- last message ---\n` +
                 `${r.lastMessage}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}\n${stack.logs()}`;
    assert.equal(r.code, 0, diag);
    const marker = path.join(r.work, 'marker.txt');
    assert.ok(fs.existsSync(marker), `no marker.txt: the shell tool did not run\n${diag}`);
    assert.equal(fs.readFileSync(marker, 'utf8').trim(), 'switchyard-ok');
    // The model answered only because the next request carried the command's output.
    assert.equal(r.lastMessage.trim(), ANSWER, diag);

    const rows = (await ledgerRows(stack.ledger, model, 2)).filter((row) => row.upstream === upstream);
    const ok = rows.filter((row) => row.status === 200 && row.key_name === 'clients-test' && row.prompt_tokens > 0 &&
                                    row.completion_tokens > 0);
    assert.ok(ok.length >= 2, `ledger rows for ${model}: ${JSON.stringify(rows)}\n${diag}`);
  });
}
