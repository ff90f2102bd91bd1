// Shared by the client tests: starts switchyard-sim and the gateway on ports the OS picks (ready
// files, as tests/integration/harness.cpp does), runs a client binary with a timeout, and reads
// the sim's statistics and the gateway's ledger.
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

export const GATEWAY_KEY = 'sk-switchyard-clients-test';

// The clients' native binaries, from the platform packages that `npm ci` installed (scripts/setup).
// Claude Code's JS wrapper wants node >= 22; the native binary needs no node at all.
export function claudeBinary() {
  return path.join(here, 'node_modules/@anthropic-ai/claude-code-linux-x64/claude');
}
export function codexBinary() {
  return path.join(here, 'node_modules/@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl/bin/codex');
}

export function requireBinaries(...paths) {
  for (const p of paths) {
    if (!p || !fs.existsSync(p)) {
      throw new Error(`missing ${p || '(unset)'}: run scripts/setup (npm ci in tests/clients) and build switchyard, ` +
                      'switchyard-sim (ctest sets SWITCHYARD_BIN and SWITCHYARD_SIM_BIN)');
    }
  }
}

export function tempDir(prefix) {
  return fs.mkdtempSync(path.join(os.tmpdir(), `sy-clients-${prefix}-`));
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

class Proc {
  constructor(name, argv, opts = {}) {
    this.name = name;
    this.log = '';
    this.child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    this.exited = new Promise((resolve) => this.child.on('close', (code, signal) => resolve({ code, signal })));
    this.exitCode = undefined;
    this.exited.then((r) => { this.exitCode = r.code ?? r.signal; });
    this.child.stdout.on('data', (d) => { this.log += d; });
    this.child.stderr.on('data', (d) => { this.log += d; });
  }
  async stop() {
    if (this.exitCode === undefined) this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(t);
  }
}

async function waitForPort(readyFile, proc, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const port = parseInt(fs.readFileSync(readyFile, 'utf8'), 10);
      if (port > 0) return port;
    } catch { /* not yet */ }
    if (proc.exitCode !== undefined) throw new Error(`${proc.name} exited before it was ready:\n${proc.log}`);
    await sleep(20);
  }
  throw new Error(`${proc.name} not ready in time:\n${proc.log}`);
}

export async function startSim(dir, args = []) {
  const bin = process.env.SWITCHYARD_SIM_BIN;
  requireBinaries(bin);
  const ready = path.join(dir, 'sim.port');
  const proc = new Proc('switchyard-sim', [bin, '--port', '0', '--ready-file', ready, ...args]);
  const port = await waitForPort(ready, proc);
  const url = `http://127.0.0.1:${port}`;
  return {
    proc, port, url,
    stats: async () => (await fetch(`${url}/sim/stats`)).json(),
    stop: () => proc.stop(),
  };
}

export async function startGateway(dir, yaml) {
  const bin = process.env.SWITCHYARD_BIN;
  requireBinaries(bin);
  const config = path.join(dir, 'gateway.yaml');
  fs.writeFileSync(config, yaml);
  const ready = path.join(dir, 'gateway.port');
  const proc = new Proc('switchyard', [bin, 'serve', '--config', config, '--ready-file', ready]);
  const port = await waitForPort(ready, proc);
  return { proc, port, url: `http://127.0.0.1:${port}`, stop: () => proc.stop() };
}

// One gateway in front of one simulator, reached three ways: as Anthropic (native messages), as
// OpenAI chat (Messages and Responses callers are translated), and as a Responses upstream.
export function gatewayConfig(simUrl, ledgerPath) {
  return `listeners: [{address: 127.0.0.1, port: 0}]
upstreams:
  - {name: sim-anthropic, type: anthropic, base_url: ${simUrl}/v1}
  - {name: sim-chat, type: openai, base_url: ${simUrl}/v1}
  - {name: sim-responses, type: openai, dialects: [responses], base_url: ${simUrl}/v1}
models:
  - name: sy-messages
    deployments: [{upstream: sim-anthropic}]
  - name: sy-chat
    deployments: [{upstream: sim-chat}]
  - name: sy-responses
    deployments: [{upstream: sim-responses}]
keys:
  - name: clients-test
    key: ${GATEWAY_KEY}
ledger: {url: ${ledgerPath}, flush_interval: 100ms}
`;
}

// Starts the simulator and the gateway in a fresh temporary directory.
export async function startStack(prefix) {
  const dir = tempDir(prefix);
  const sim = await startSim(dir);
  const ledger = path.join(dir, 'ledger.db');
  let gateway;
  try {
    gateway = await startGateway(dir, gatewayConfig(sim.url, ledger));
  } catch (e) {
    await sim.stop();
    throw e;
  }
  return {
    dir, sim, gateway, ledger,
    logs: () => `--- gateway log ---\n${gateway.proc.log}\n--- sim log ---\n${sim.proc.log}`,
    stop: async () => { await gateway.stop(); await sim.stop(); },
  };
}

// --- the agents, run once each ---------------------------------------------------------------

// `claude -p PROMPT` against `gatewayUrl` with every model role set to `model`, in fresh home and
// working directories; `headers` (lines "name: value") go with every request (Claude Code's
// ANTHROPIC_CUSTOM_HEADERS). Resolves to the run and its working directory.
export async function runClaude(gatewayUrl, model, prompt, { headers = [], allowedTools = 'Bash', timeoutMs } = {}) {
  const home = tempDir('claude-home');
  const work = tempDir('claude-work');
  const env = cleanEnv(home, {
    ANTHROPIC_BASE_URL: gatewayUrl,
    ANTHROPIC_AUTH_TOKEN: GATEWAY_KEY,
    ANTHROPIC_MODEL: model,
    ANTHROPIC_SMALL_FAST_MODEL: model,
    ANTHROPIC_DEFAULT_HAIKU_MODEL: model,
    ANTHROPIC_DEFAULT_SONNET_MODEL: model,
    ANTHROPIC_DEFAULT_OPUS_MODEL: model,
    CLAUDE_CODE_SUBAGENT_MODEL: model,
    ...(headers.length > 0 ? { ANTHROPIC_CUSTOM_HEADERS: headers.join('\n') } : {}),
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    DISABLE_TELEMETRY: '1',
    DISABLE_AUTOUPDATER: '1',
  });
  // Not --dangerously-skip-permissions: Claude Code refuses it as root. --allowedTools (Bash unless
  // told otherwise) lets the tools the test calls run without asking.
  const r = await runClient([claudeBinary(), '-p', prompt, '--output-format', 'json', '--allowedTools', allowedTools,
    '--max-turns', '4'], { cwd: work, env, timeoutMs });
  return { ...r, work };
}

// A `runClaude` run that succeeded: exit 0 and, on stdout's last line, Claude Code's JSON result
// with no error. Returns that result and the diagnostics (the run's output, then `logs`) for the
// caller's further assertions.
export function claudeSucceeded(r, logs) {
  const diag = `exit ${r.code} ${r.signal ?? ''}${r.timedOut ? ' (timed out)' : ''}\n--- stdout ---\n${r.stdout}\n` +
               `--- stderr ---\n${r.stderr}\n${logs}`;
  assert.equal(r.code, 0, diag);
  let result;
  assert.doesNotThrow(() => { result = JSON.parse(r.stdout.trim().split('\n').pop()); }, diag);
  assert.equal(result.is_error, false, diag);
  assert.equal(result.subtype, 'success', diag);
  return { result, diag };
}

const toml = (s) => JSON.stringify(s); // a JSON string is a TOML basic string

// `codex exec PROMPT` with the gateway as a custom Responses provider and `model`, in fresh
// directories; `headers` go with every request (the provider's http_headers). Codex's web_search
// tool is offered only with `webSearch` (a chat upstream cannot take it: the gateway answers 400
// rather than drop it, and Codex's users with such models turn it off the same way). Resolves to
// the run, its working directory and Codex's last message (-o).
export async function runCodex(gatewayUrl, model, prompt, { headers = {}, webSearch = false, timeoutMs } = {}) {
  const home = tempDir('codex-home');
  const codexHome = path.join(home, '.codex');
  fs.mkdirSync(codexHome);
  const work = tempDir('codex-work');
  const last = path.join(home, 'last-message.txt');
  const httpHeaders = Object.entries(headers).map(([k, v]) => `${toml(k)}=${toml(v)}`).join(',');
  const provider = `{name="sy",base_url=${toml(`${gatewayUrl}/v1`)},wire_api="responses",env_key="SY_KEY"` +
                   (httpHeaders ? `,http_headers={${httpHeaders}}` : '') + '}';
  const env = cleanEnv(home, { CODEX_HOME: codexHome, SY_KEY: GATEWAY_KEY });
  const r = await runClient([codexBinary(), 'exec', '--skip-git-repo-check',
    // The command is the test's own; no sandbox, so that it also runs where bubblewrap cannot.
    '--dangerously-bypass-approvals-and-sandbox',
    '-c', 'model_provider=sy', '-c', `model_providers.sy=${provider}`,
    '-c', `web_search="${webSearch ? 'live' : 'disabled'}"`,
    '-o', last, '-m', model, prompt], { cwd: work, env, timeoutMs });
  const lastMessage = fs.existsSync(last) ? fs.readFileSync(last, 'utf8') : '';
  return { ...r, work, lastMessage };
}

// --- against a real llama-server -------------------------------------------------------------

const root = path.resolve(here, '../..');

export function llamaServerBinary() {
  return process.env.SWITCHYARD_LLAMA_SERVER || path.join(root, 'third_party/llama.cpp/build/bin/llama-server');
}

// Writes a model that plays one agent turn (scripts/make_agent_model.py): asked anything it calls
// `tool` with `args` (string values), shown a tool result it answers `answer`. Its weights are
// set by hand, so llama-server, its tokenizer, template, tool-call grammar and parser run for real
// while what the model says is known to the test.
export function writeAgentModel(dir, { tool, args, answer }) {
  const out = path.join(dir, 'agent.gguf');
  const argv = [path.join(root, 'scripts/make_agent_model.py'), '--tool', tool, '--answer', answer, '--out', out];
  for (const [name, value] of Object.entries(args)) argv.push('--argument', `${name}=${value}`);
  execFileSync('/usr/bin/python3', argv, {
    env: { ...process.env, PYTHONPATH: path.join(root, 'third_party/llama.cpp/gguf-py') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return out;
}

async function freePort() {
  const net = await import('node:net');
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
  });
}

export async function startLlamaServer(model) {
  const bin = llamaServerBinary();
  if (!fs.existsSync(bin)) throw new Error(`missing ${bin}: run scripts/setup (it builds llama-server)`);
  const port = await freePort();
  // A long context: the agents' system prompts are tens of thousands of characters, and this
  // vocabulary spells most of them letter by letter.
  const proc = new Proc('llama-server', [bin, '-m', model, '--host', '127.0.0.1', '--port', String(port),
    '-c', '131072', '-np', '1', '-t', '2', '--no-webui']);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (proc.exitCode !== undefined) throw new Error(`llama-server exited before it was ready:\n${proc.log}`);
    try { if ((await fetch(`${url}/health`)).status === 200) break; } catch { /* not listening yet */ }
    if (Date.now() > deadline) { await proc.stop(); throw new Error(`llama-server not ready in time:\n${proc.log}`); }
    await sleep(50);
  }
  return { proc, port, url, stop: () => proc.stop() };
}

// One gateway in front of one llama-server, reached two ways: natively (llama-server speaks chat,
// responses and messages) and as a chat-only upstream (Messages and Responses callers translated).
export function llamaGatewayConfig(llamaUrl, ledgerPath) {
  return `listeners: [{address: 127.0.0.1, port: 0}]
upstreams:
  - {name: llama, type: llama-server, base_url: ${llamaUrl}/v1}
  - {name: llama-chat, type: llama-server, dialects: [chat], base_url: ${llamaUrl}/v1}
models:
  - name: sy-llama
    deployments: [{upstream: llama}]
  - name: sy-llama-chat
    deployments: [{upstream: llama-chat}]
keys:
  - name: clients-test
    key: ${GATEWAY_KEY}
ledger: {url: ${ledgerPath}, flush_interval: 100ms}
`;
}

export async function startLlamaStack(prefix, agent) {
  const dir = tempDir(prefix);
  const llama = await startLlamaServer(writeAgentModel(dir, agent));
  const ledger = path.join(dir, 'ledger.db');
  let gateway;
  try {
    gateway = await startGateway(dir, llamaGatewayConfig(llama.url, ledger));
  } catch (e) {
    await llama.stop();
    throw e;
  }
  return {
    dir, llama, gateway, ledger,
    logs: () => `--- gateway log ---\n${gateway.proc.log}\n--- llama-server log (tail) ---\n${llama.proc.log.slice(-6000)}`,
    stop: async () => { await gateway.stop(); await llama.stop(); },
  };
}

// Rows of the gateway's ledger for one model (the gateway flushes every 100 ms; wait for them).
export async function ledgerRows(ledgerPath, model, atLeast) {
  let rows = [];
  for (let i = 0; i < 50; i++) {
    try {
      const out = execFileSync('sqlite3', ['-json', ledgerPath,
        `SELECT key_name, model, upstream, status, stream, prompt_tokens, completion_tokens, error FROM requests WHERE model = '${model}' ORDER BY id`],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      rows = out.trim() ? JSON.parse(out) : [];
      if (rows.length >= atLeast) return rows;
    } catch { /* not created yet */ }
    await sleep(100);
  }
  return rows;
}

// Runs a client to completion (stdin closed), killing it after timeoutMs.
export function runClient(argv, { cwd, env, timeoutMs = 45_000 }) {
  return new Promise((resolve) => {
    const child = spawn(argv[0], argv.slice(1), { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '', timedOut = false;
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const t = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(t);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

// A minimal environment for a client: no inherited credentials or configuration.
export function cleanEnv(home, extra) {
  return {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: home,
    LANG: 'C.UTF-8',
    TMPDIR: process.env.TMPDIR ?? '/tmp',
    ...extra,
  };
}

// The sim answers a request that carries `x-sim-tool-call` with that tool call, even after a tool
// result, unless `x-sim-tool-call-once: true` says to do so only while the last input is not a
// tool result (then it echoes "Tool result: …"). Without that, a client that sends the same
// headers every turn would loop; say so plainly instead.
export async function requireToolCallOnce(simUrl) {
  const r = await fetch(`${simUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-sim-tool-call': 'probe', 'x-sim-tool-arguments': '{}',
               'x-sim-tool-call-once': 'true' },
    body: JSON.stringify({ model: 'probe', messages: [
      { role: 'user', content: 'probe' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'probe', arguments: '{}' } }] },
      { role: 'tool', tool_call_id: 'call_1', content: 'done' }] }),
  });
  const body = await r.json().catch(() => ({}));
  const content = body?.choices?.[0]?.message?.content;
  if (r.status !== 200 || content !== 'Tool result: done') {
    throw new Error('switchyard-sim does not support `x-sim-tool-call-once: true` (a scripted tool call only while the ' +
                    'last input is not a tool result); the client tests need it. Probe answered ' +
                    `${r.status} ${JSON.stringify(body).slice(0, 300)}`);
  }
}
