// The real gateway in front of switchyard-sim, for the official client SDKs: both processes start
// on loopback ports the OS picks (announced through --ready-file, as in tests/integration), with a
// config written to a temp dir, and stop when the test file ends. Binaries come from ctest's
// SWITCHYARD_BIN and SWITCHYARD_SIM_BIN; SWITCHYARD_GATEWAY_BIN, when set, runs another build of
// the gateway (an ASan one, say), as in tests/integration.
import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

// The caller's key: the gateway refuses anything else with 401.
export const KEY = 'sk-sy-sdk-test';

// Upstreams, each a switchyard-sim endpoint as the gateway is told to see it. A test file picks
// those it needs; each one serves the model of the same `model` name.
//   chat:      speaks chat completions only, so Responses and Messages callers are translated to it.
//   responses: an OpenAI upstream that also speaks the Responses API itself (no translation).
//   anthropic: an Anthropic upstream: Messages callers go through untranslated.
export const UPSTREAMS = {
  chat: { name: 'sim-chat', type: 'openai', model: 'm' },
  responses: { name: 'sim-responses', type: 'openai', dialects: ['chat', 'responses'], model: 'm-responses' },
  anthropic: { name: 'sim-anthropic', type: 'anthropic', model: 'm-anthropic' },
};

// The gateway's configuration: one listener on a free loopback port, one caller key, and per
// upstream (entries of UPSTREAMS, all on the same simulator) one model served by one deployment
// on it. The only place the tests' gateway config is written.
export function gatewayConfig({ simUrl, key = KEY, upstreams = [UPSTREAMS.chat] }) {
  const lines = [
    'listeners:',
    '  - {address: 127.0.0.1, port: 0}',
    'server:',
    '  io_threads: 1',
    'keys:',
    `  - {name: sdk, key: "${key}"}`,
    'upstreams:',
  ];
  for (const u of upstreams) {
    lines.push(`  - name: ${u.name}`, `    type: ${u.type}`, `    base_url: ${simUrl}`);
    if (u.dialects) lines.push(`    dialects: [${u.dialects.join(', ')}]`);
  }
  lines.push('models:');
  for (const u of upstreams) {
    lines.push(`  - name: ${u.model}`, '    deployments:', `      - {upstream: ${u.name}, model: sim-${u.model}}`);
  }
  return lines.join('\n') + '\n';
}

function binary(variable) {
  const path = process.env[variable];
  if (!path) throw new Error(`${variable} is not set (ctest sets it; run through ctest -L sdk)`);
  return path;
}

// A child process with its output in a log file of the temp dir.
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

  // Polls the ready file for the first port number in it.
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

  // SIGTERM, then SIGKILL after 5 s.
  async stop() {
    if (this.status) return;
    this.proc.kill('SIGTERM');
    const killer = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(killer);
  }
}

// Starts switchyard-sim and the gateway in front of it. `upstreams` as for gatewayConfig; `simArgs`
// are added to the simulator's command line. Returns the gateway's URLs, the sim's, and stop().
export async function startGateway({ upstreams, simArgs = [] } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-sdk-'));
  const children = [];
  const stop = async () => {
    await Promise.all(children.map((c) => c.stop()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const simReady = join(dir, 'sim.ready');
    const sim = new Child('sim', [binary('SWITCHYARD_SIM_BIN'), '--port', '0', '--ready-file', simReady,
      '--ttft-ms', '0', '--itl-ms', '0', '--tokens', '8', '--log-level', 'warn', ...simArgs], dir);
    children.push(sim);
    const simUrl = `http://127.0.0.1:${await sim.port(simReady)}`;

    const config = join(dir, 'gateway.yaml');
    writeFileSync(config, gatewayConfig({ simUrl, upstreams }));
    const gatewayReady = join(dir, 'gateway.ready');
    const gatewayBin = process.env.SWITCHYARD_GATEWAY_BIN || binary('SWITCHYARD_BIN');
    const gateway = new Child('gateway', [gatewayBin, 'serve', '--config', config,
      '--ready-file', gatewayReady, '--log-level', 'warn'], dir);
    children.push(gateway);
    const root = `http://127.0.0.1:${await gateway.port(gatewayReady)}`;
    return {
      root,                   // for the Anthropic SDK, which appends /v1/messages
      openaiBase: `${root}/v1`, // for the OpenAI SDK
      simUrl,
      key: KEY,
      gatewayLog: () => gateway.log(),
      simStats: async () => (await fetch(`${simUrl}/sim/stats`)).json(),
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

// Headers that script the simulator to answer with one call of the tool `name`.
export function toolCallHeaders(name, args) {
  return { 'x-sim-tool-call': name, 'x-sim-tool-arguments': JSON.stringify(args) };
}
