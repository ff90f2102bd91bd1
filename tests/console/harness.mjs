// The real gateway in front of switchyard-sim for the console's browser test: both on loopback
// ports the OS picks (announced through --ready-file), a config written to a temp dir, stopped when
// the test ends. Binaries from ctest's SWITCHYARD_BIN and SWITCHYARD_SIM_BIN (SWITCHYARD_GATEWAY_BIN,
// when set, runs another build of the gateway, an ASan one say).
import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

function binary(variable) {
  const path = process.env[variable];
  if (!path) throw new Error(`${variable} is not set (ctest sets it; run through ctest -L console)`);
  return path;
}

class Child {
  constructor(name, argv, dir) {
    this.name = name;
    this.logPath = join(dir, `${name}.log`);
    const log = openSync(this.logPath, 'w');
    this.proc = spawn(argv[0], argv.slice(1), { stdio: ['ignore', log, log] });
    this.exited = new Promise((resolve) => this.proc.once('exit', (code, signal) => resolve({ code, signal })));
    this.status = null;
    this.exited.then((s) => { this.status = s; });
  }

  log() {
    try { return readFileSync(this.logPath, 'utf8'); } catch { return ''; }
  }

  async port(readyFile, timeoutMs = 20000) {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      let text = '';
      try { text = readFileSync(readyFile, 'utf8'); } catch { /* not there yet */ }
      const port = parseInt(text, 10);
      if (port > 0) return port;
      if (this.status) throw new Error(`${this.name} exited (${JSON.stringify(this.status)}) before it was ready:\n${this.log()}`);
      await sleep(10);
    }
    throw new Error(`${this.name} not ready in ${timeoutMs} ms:\n${this.log()}`);
  }

  async stop() {
    if (this.status) return;
    this.proc.kill('SIGTERM');
    const killer = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(killer);
  }
}

// Starts the simulator and the gateway on `config(simUrl, dir)`. Returns {root, dir, gatewayLog, stop}.
export async function startGateway(config) {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-console-'));
  const children = [];
  const stop = async () => {
    await Promise.all(children.map((c) => c.stop()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const simReady = join(dir, 'sim.ready');
    const sim = new Child('sim', [binary('SWITCHYARD_SIM_BIN'), '--port', '0', '--ready-file', simReady,
      '--ttft-ms', '3', '--itl-ms', '1', '--tokens', '8', '--log-level', 'warn'], dir);
    children.push(sim);
    const simUrl = `http://127.0.0.1:${await sim.port(simReady)}`;
    const path = join(dir, 'gateway.yaml');
    writeFileSync(path, config(simUrl, dir));
    const gatewayReady = join(dir, 'gateway.ready');
    const gateway = new Child('gateway', [process.env.SWITCHYARD_GATEWAY_BIN || binary('SWITCHYARD_BIN'), 'serve',
      '--config', path, '--ready-file', gatewayReady, '--log-level', 'warn'], dir);
    children.push(gateway);
    const root = `http://127.0.0.1:${await gateway.port(gatewayReady)}`;
    return { root, dir, gatewayLog: () => gateway.log(), stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

// Debian's Chromium, never a downloaded one, with a fresh profile in `dir`.
export const CHROMIUM = process.env.SWITCHYARD_CHROMIUM || '/usr/bin/chromium';
export function chromiumArgs(dir) {
  return ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    `--user-data-dir=${join(dir, 'chromium-profile')}`];
}

// The console tests' gateway: a viewer, a caller and a key with an XSS-shaped name; a cloud
// upstream whose secret must never reach a page; a local upstream with the XSS-shaped name and a
// cost model; models m, lm and one with the XSS-shaped name. With `engine`, a real llama-server
// on the tiny model (SWITCHYARD_LLAMA_SERVER, SWITCHYARD_TINY_MODEL), supervised as `llama-1`,
// serves model local-m.
export const MASTER = 'master-secret-console-01';
export const VIEWER = 'sk-viewer-console-000001';
export const CALLER = 'sk-caller-console-000001';
export const XSS = '<img src=x onerror=alert(1)>';
export const XSS_KEY = 'sk-xss-console-00000001';
export const UPSTREAM_SECRET = 'sk-upstream-literal-console-secret';

export function consoleConfig(simUrl, dir, { engine = false } = {}) {
  const llama = process.env.SWITCHYARD_LLAMA_SERVER;
  const tiny = process.env.SWITCHYARD_TINY_MODEL;
  if (engine && (!llama || !tiny)) {
    throw new Error('SWITCHYARD_LLAMA_SERVER and SWITCHYARD_TINY_MODEL must be set (scripts/test does), or SWITCHYARD_SKIP_LLAMA=1');
  }
  const engines = engine ? `
engines:
  - name: llama-1
    command: ["${llama}", -m, "\${MODEL}", --host, 127.0.0.1, --port, "\${PORT}", -c, "512", -np, "1", -t, "1", --no-webui]
    model: "${tiny}"
    preload: true
    load_timeout: 60s
    drain_timeout: 5s
    stop_grace: 3s
` : '';
  return `
listeners: [{address: 127.0.0.1, port: 0}]
auth: {master_key: ${MASTER}}
console: {sample_interval: 1s}
ledger: {url: ${join(dir, 'ledger.db')}, flush_interval: 100ms}
access_log: {path: ${join(dir, 'access.log')}, content: true}
keys:
  - {name: viewer, key: ${VIEWER}, role: viewer}
  - {name: caller, key: ${CALLER}}
  - {name: "${XSS}", key: ${XSS_KEY}}
upstreams:
  - {name: cloud, type: openai, base_url: ${simUrl}/v1, api_key: ${UPSTREAM_SECRET}}
  - {name: "${XSS}", type: openai, base_url: ${simUrl}/v1, local: true, cost: {hardware_usd: 300, lifetime_months: 36}}
models:
  - name: lm
    deployments: [{upstream: "${XSS}", model: sim-local}]
  - name: m
    deployments: [{upstream: cloud, model: sim-m}]
  - name: "${XSS}"
    deployments: [{upstream: cloud, model: sim-x}]
${engine ? '  - name: local-m\n    deployments: [{engine: llama-1}]\n' : ''}${engines}`;
}

// One chat completion through the gateway; its status (the body is read and dropped).
export async function chat(root, key, model, requestId, content = 'hello') {
  const response = await fetch(`${root}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'x-request-id': requestId },
    body: JSON.stringify({ model, messages: [{ role: 'user', content }], max_tokens: 8 }),
  });
  await response.text();
  return response.status;
}
