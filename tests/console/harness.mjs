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
