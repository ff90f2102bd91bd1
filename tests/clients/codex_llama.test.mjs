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
  GATEWAY_KEY, codexBinary, requireBinaries, tempDir, startLlamaStack, ledgerRows, runClient, cleanEnv,
} from './harness.mjs';

const COMMAND = 'echo switchyard-ok > marker.txt && cat marker.txt';
const ANSWER = 'Done: marker.txt was written and read back.';
const toml = (s) => JSON.stringify(s); // a JSON string is a TOML basic string

let stack;
before(async () => {
  requireBinaries(codexBinary());
  stack = await startLlamaStack('codex-llama', { tool: 'exec_command', args: { cmd: COMMAND }, answer: ANSWER });
});
after(async () => { if (stack) await stack.stop(); });

async function runCodex(model) {
  const home = tempDir('codex-home');
  const codexHome = path.join(home, '.codex');
  fs.mkdirSync(codexHome);
  const work = tempDir('codex-work');
  const last = path.join(home, 'last-message.txt');
  const provider = `{name="sy",base_url=${toml(`${stack.gateway.url}/v1`)},wire_api="responses",env_key="SY_KEY"}`;
  const env = cleanEnv(home, { CODEX_HOME: codexHome, SY_KEY: GATEWAY_KEY });
  const r = await runClient([codexBinary(), 'exec', '--skip-git-repo-check',
    '--dangerously-bypass-approvals-and-sandbox',
    '-c', 'model_provider=sy', '-c', `model_providers.sy=${provider}`,
    // llama-server has no built-in web search (see codex.test.mjs).
    '-c', 'web_search="disabled"',
    '-o', last, '-m', model,
    'Write the marker file, then report what the command printed.'], { cwd: work, env, timeoutMs: 90_000 });
  const lastMessage = fs.existsSync(last) ? fs.readFileSync(last, 'utf8') : '';
  return { ...r, work, lastMessage };
}

for (const [model, upstream] of [['sy-llama', 'llama'], ['sy-llama-chat', 'llama-chat']]) {
  test(`Codex CLI runs a shell tool call through ${model} (llama-server, upstream ${upstream})`, { timeout: 120_000 }, async () => {
    const r = await runCodex(model);
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
