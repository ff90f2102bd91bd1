// The console's pages. Each is page(root, context) -> {stop()}: it draws into `root` from the
// API's JSON and polls while it is in view. Values from callers and the config are text only.
import { h, clear, table, fmtNumber, fmtMs, fmtUsd, fmtBytes, fmtDuration, fmtTime } from './dom.js';
import { get, post, patch, del } from './api.js';
import { lineChart, barChart, xyChart } from './chart.js';

// Calls `load` now and every `ms` until stopped; shows its failure in `status`.
function poll(ms, load, context, status) {
  let timer = null;
  let stopped = false;
  const tick = async () => {
    try {
      await load();
      if (status) status.textContent = `updated ${fmtTime(Date.now())}`;
      if (status) status.classList.remove('error');
    } catch (e) {
      if (status) { status.textContent = e.message; status.classList.add('error'); }
      context.failed(e);
    }
    if (!stopped) timer = setTimeout(tick, ms);
  };
  tick();
  return { stop() { stopped = true; clearTimeout(timer); }, now: () => { clearTimeout(timer); return tick(); } };
}

function heading(title, ...extra) {
  const status = h('span', { class: 'status' });
  return { node: h('div', { class: 'heading' }, h('h1', null, title), ...extra, status), status };
}

const isAdmin = (context) => context.session.role === 'admin';

// ---- Overview ----
const WINDOWS = { '15 min': 15, '1 h': 60, '3 h': 180 };

function tile(label, value, id) {
  return h('div', { class: 'tile', id }, h('div', { class: 'tile-value' }, value), h('div', { class: 'tile-label' }, label));
}

function overview(root, context) {
  let minutes = 15;
  const select = h('select', { id: 'window', 'aria-label': 'window' },
    Object.entries(WINDOWS).map(([name, m]) => h('option', { value: m }, name)));
  const { node, status } = heading('Overview', select);
  const tiles = h('div', { class: 'tiles', id: 'tiles' });
  const charts = h('div', { class: 'charts', id: 'charts' });
  root.append(node, tiles, charts);
  let data = null;
  const draw = () => {
    if (!data) return;
    const since = Date.now() - minutes * 60000;
    const samples = data.samples.filter((s) => s.t > since);
    const times = samples.map((s) => s.t);
    const per = (f) => samples.map((s) => (s.seconds > 0 ? f(s) / s.seconds : null));
    const last = samples.slice(-12);  // the last minute or so
    const sum = (f) => last.reduce((a, s) => a + f(s), 0);
    const secs = sum((s) => s.seconds) || 1;
    const served = sum((s) => s.local + s.cloud);
    const latest = [...samples].reverse().find((s) => s.p50_ms !== null) || {};
    clear(tiles).append(
      tile('requests/s', fmtNumber(sum((s) => s.requests) / secs, 2), 'tile-rps'),
      tile('errors (5xx) in window', fmtNumber(samples.reduce((a, s) => a + s.errors, 0)), 'tile-errors'),
      tile('latency p50 / p95', `${fmtMs(latest.p50_ms)} / ${fmtMs(latest.p95_ms)}`, 'tile-latency'),
      tile('TTFT p50', fmtMs(latest.ttft_p50_ms), 'tile-ttft'),
      tile('output tokens/s', fmtNumber(sum((s) => s.completion_tokens) / secs, 1), 'tile-tps'),
      tile('local share', served ? `${Math.round((100 * sum((s) => s.local)) / served)} %` : '–', 'tile-local'),
      tile('spend today', fmtUsd(data.spend_today_usd), 'tile-spend'),
      tile('requests since start', fmtNumber(data.totals.requests), 'tile-total'),
      tile('in flight', fmtNumber(data.in_flight), 'tile-inflight'));
    const rate = (v) => fmtNumber(v, v < 10 ? 1 : 0);
    clear(charts).append(
      lineChart({ title: 'Requests per second', times, format: rate,
        series: [{ name: 'all', values: per((s) => s.requests) }, { name: '5xx', values: per((s) => s.errors) },
          { name: '4xx', values: per((s) => s.client_errors) }] }),
      lineChart({ title: 'Latency (arrival to last byte)', times, format: fmtMs,
        series: [{ name: 'p50', values: samples.map((s) => s.p50_ms) }, { name: 'p95', values: samples.map((s) => s.p95_ms) },
          { name: 'p99', values: samples.map((s) => s.p99_ms) }] }),
      lineChart({ title: 'Time to first token', times, format: fmtMs,
        series: [{ name: 'p50', values: samples.map((s) => s.ttft_p50_ms) }, { name: 'p95', values: samples.map((s) => s.ttft_p95_ms) }] }),
      lineChart({ title: 'Tokens per second', times, format: rate,
        series: [{ name: 'output', values: per((s) => s.completion_tokens) }, { name: 'prompt', values: per((s) => s.prompt_tokens) }] }),
      lineChart({ title: 'Served per second: local engines vs cloud', times, format: rate,
        series: [{ name: 'local', values: per((s) => s.local) }, { name: 'cloud', values: per((s) => s.cloud) }] }),
      lineChart({ title: 'Spend per minute', times, format: fmtUsd,
        series: [{ name: 'USD/min', values: per((s) => s.cost_usd * 60) }] }));
  };
  select.addEventListener('change', () => { minutes = Number(select.value); draw(); });
  // Samples arrive every console.sample_interval; polling at 2 s shows each soon after.
  const poller = poll(2000, async () => {
    data = await get('overview');
    draw();
  }, context, status);
  return poller;
}

// ---- Models ----
function whyNotUsed(d, model) {
  if (!d.healthy) return 'not healthy (health check failing or engine not ready)';
  if (d.breaker === 'open') return 'breaker open after failures; waits for its cooldown';
  if (d.breaker === 'half-open') return 'breaker half-open: a probe request decides';
  const best = Math.min(...model.deployments.filter((x) => x.healthy && x.breaker !== 'open').map((x) => x.tier));
  if (d.tier > best) return `tier ${d.tier}: used when tier ${best} is full or failing`;
  return '';
}

function models(root, context) {
  const { node, status } = heading('Models & deployments');
  const body = h('div', { id: 'models' });
  root.append(node, body);
  return poll(3000, async () => {
    const list = await get('models');
    clear(body);
    for (const model of list.data) {
      body.append(h('h2', { class: 'model-name' }, model.name, h('span', { class: 'muted' }, ` · queued ${model.queued}`)),
        table([
          { title: 'deployment', value: (d) => d.name },
          { title: 'upstream / engine', value: (d) => d.engine || d.upstream },
          { title: 'model', value: (d) => d.model },
          { title: 'tier', value: (d) => d.tier, num: true },
          { title: 'health', value: (d) => h('span', { class: d.healthy ? 'ok' : 'bad' }, d.healthy ? 'healthy' : 'unhealthy') },
          { title: 'breaker', value: (d) => h('span', { class: d.breaker === 'closed' ? 'ok' : 'bad' }, d.breaker) },
          { title: 'in flight', value: (d) => d.in_flight, num: true },
          { title: 'why not used now', value: (d) => whyNotUsed(d, model) },
        ], model.deployments));
    }
    if (!list.data.length) body.append(h('p', { class: 'muted' }, 'no models configured'));
  }, context, status);
}

// ---- Engines ----
function engines(root, context) {
  const { node, status } = heading('Engines');
  const body = h('div', { id: 'engines' });
  root.append(node, body);
  let poller = null;
  // Restart (drained first), stop (drained, then kept stopped) or start; the supervisor carries
  // it out, and the next polls show the states it goes through.
  const act = async (e, verb) => {
    if (verb !== 'start' && !window.confirm(`${verb === 'stop' ? 'Stop' : 'Restart'} engine ${e.name}? Requests in flight finish first.`)) return;
    try {
      await post(`engines/${encodeURIComponent(e.name)}/${verb}`);
      status.textContent = `${verb} of ${e.name} asked`;
      status.classList.remove('error');
      poller.now();
    } catch (error) { status.textContent = error.message; status.classList.add('error'); context.failed(error); }
  };
  const engineActions = (e) => {
    const button = (verb, label, cls) => h('button', { type: 'button', class: cls, 'data-engine': e.name, 'data-action': verb, onclick: () => act(e, verb) }, label);
    const running = e.pid > 0 || e.state === 'loading' || e.state === 'draining';
    return h('span', { class: 'actions' },
      button('restart', 'Restart', 'quiet'),
      running && !e.held ? button('stop', 'Stop', 'danger') : button('start', 'Start', ''));
  };
  poller = poll(3000, async () => {
    const list = await get('engines');
    clear(body);
    if (!list.data.length) { body.append(h('p', { class: 'muted' }, 'no engines: this gateway supervises none (engines: in the config)')); return; }
    body.append(table([
      { title: 'engine', value: (e) => e.name },
      { title: 'state', value: (e) => h('span', { class: e.state === 'ready' ? 'ok' : e.state === 'failed' ? 'bad' : '' }, e.state) },
      { title: 'model', value: (e) => e.model || '' },
      { title: 'pid', value: (e) => e.pid ?? '–', num: true },
      { title: 'port', value: (e) => e.port, num: true },
      { title: 'RSS', value: (e) => fmtBytes(e.rss_bytes), num: true },
      { title: 'GPU', value: (e) => (e.gpu_memory_bytes === null || e.gpu_memory_bytes === undefined ? '–' : fmtBytes(e.gpu_memory_bytes)), num: true },
      { title: 'in flight', value: (e) => e.in_flight, num: true },
      { title: 'restarts', value: (e) => e.restarts, num: true },
      { title: 'uptime', value: (e) => fmtDuration(e.uptime_s), num: true },
      { title: 'detail', value: (e) => e.detail || e.last_error || '' },
      ...(isAdmin(context) ? [{ title: '', value: (e) => engineActions(e) }] : []),
    ], list.data));
    for (const e of list.data) {
      if (e.log_tail && e.log_tail.length) {
        body.append(h('details', null, h('summary', null, `log tail of ${e.name}`), h('pre', { class: 'log' }, e.log_tail.join('\n'))));
      }
    }
  }, context, status);
  return poller;
}

// ---- Keys ----
function keys(root, context) {
  const { node, status } = heading('Keys');
  const created = h('div', { id: 'key-created' });
  const body = h('div', { id: 'keys' });
  root.append(node, created);
  let poller = null;
  if (isAdmin(context)) {
    const name = h('input', { name: 'name', id: 'new-key-name', required: true, placeholder: 'name' });
    const modelsField = h('input', { name: 'models', id: 'new-key-models', placeholder: 'models, comma separated (empty: all)' });
    const role = h('select', { name: 'role', id: 'new-key-role' }, h('option', { value: '' }, 'no console role'),
      h('option', { value: 'viewer' }, 'viewer'), h('option', { value: 'admin' }, 'admin'));
    const daily = h('input', { name: 'daily', id: 'new-key-daily', type: 'number', min: 0, step: 'any', placeholder: 'daily budget $' });
    const error = h('p', { class: 'error', role: 'alert' });
    const form = h('form', { class: 'inline', id: 'new-key' }, name, modelsField, role, daily, h('button', { type: 'submit' }, 'Create key'), error);
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      error.textContent = '';
      const request = { name: name.value.trim() };
      const list = modelsField.value.split(',').map((m) => m.trim()).filter(Boolean);
      if (list.length) request.models = list;
      if (role.value) request.role = role.value;
      if (daily.value) request.budget = { daily: Number(daily.value) };
      try {
        const key = await post('keys', request);
        clear(created).append(h('div', { class: 'secret' },
          h('p', null, 'Key ', h('strong', null, key.name), ' created. Its secret is shown this once:'),
          h('code', { id: 'new-key-secret' }, key.key),
          h('button', { type: 'button', class: 'quiet', onclick: () => clear(created) }, 'I have stored it')));
        form.reset();
        poller.now();
      } catch (e) {
        error.textContent = e.message;
        context.failed(e);
      }
    });
    root.append(form);
  }
  const editor = h('div', { id: 'key-edit' });
  root.append(editor, body);
  // Changing an API key's limits, budgets, models and role (PATCH keys/{name}); the file's keys
  // are changed in the file. An empty number field means no limit.
  const edit = (k) => {
    const number = (name, label, value, step = '1') => {
      const input = h('input', { name, id: `edit-key-${name}`, type: 'number', min: 0, step, value: value || '', placeholder: 'none', class: 'limit' });
      return { input, node: h('label', null, `${label} `, input) };
    };
    const rpm = number('rpm', 'requests/min', k.limits.rpm);
    const tpm = number('tpm', 'tokens/min', k.limits.tpm);
    const concurrent = number('max_concurrent', 'max concurrent', k.max_concurrent);
    const daily = number('daily', 'daily budget $', k.budget.daily, 'any');
    const monthly = number('monthly', 'monthly budget $', k.budget.monthly, 'any');
    const modelsField = h('input', { name: 'models', id: 'edit-key-models', value: k.models.join(', '), placeholder: 'models (empty: all)' });
    const role = h('select', { name: 'role', id: 'edit-key-role' }, h('option', { value: '' }, 'no console role'),
      h('option', { value: 'viewer', selected: k.role === 'viewer' }, 'viewer'), h('option', { value: 'admin', selected: k.role === 'admin' }, 'admin'));
    const error = h('p', { class: 'error', role: 'alert', id: 'edit-key-error' });
    const form = h('form', { class: 'inline', id: 'edit-key' }, h('strong', null, 'Edit ', k.name),
      rpm.node, tpm.node, concurrent.node, daily.node, monthly.node, modelsField, role,
      h('button', { type: 'submit' }, 'Save'), h('button', { type: 'button', class: 'quiet', onclick: () => clear(editor) }, 'Cancel'), error);
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      error.textContent = '';
      const whole = (f) => (f.input.value === '' ? 0 : Number(f.input.value));
      const request = {
        limits: { rpm: whole(rpm), tpm: whole(tpm) },
        max_concurrent: whole(concurrent),
        budget: { daily: whole(daily), monthly: whole(monthly) },
        models: modelsField.value.split(',').map((m) => m.trim()).filter(Boolean),
        role: role.value,
      };
      try {
        await patch(`keys/${encodeURIComponent(k.name)}`, request);
        clear(editor);
        status.textContent = `key ${k.name} changed`;
        status.classList.remove('error');
        poller.now();
      } catch (e) {
        error.textContent = e.message;
        context.failed(e);
      }
    });
    clear(editor).append(form);
  };
  poller = poll(5000, async () => {
    const list = await get('keys');
    clear(body).append(table([
      { title: 'name', value: (k) => k.name },
      { title: 'source', value: (k) => k.source },
      { title: 'role', value: (k) => k.role || '' },
      { title: 'models', value: (k) => (k.models.length ? k.models.join(', ') : 'all') },
      { title: 'rpm / tpm', value: (k) => `${k.limits.rpm || '–'} / ${k.limits.tpm || '–'}`, num: true },
      { title: 'max concurrent', value: (k) => k.max_concurrent || '–', num: true },
      { title: 'spent today', value: (k) => `${fmtUsd(k.spent_today_usd)}${k.budget.daily ? ` of ${fmtUsd(k.budget.daily)}` : ''}`, num: true },
      { title: 'this month', value: (k) => `${fmtUsd(k.spent_this_month_usd)}${k.budget.monthly ? ` of ${fmtUsd(k.budget.monthly)}` : ''}`, num: true },
      { title: 'in flight', value: (k) => k.in_flight, num: true },
      { title: '', value: (k) => (isAdmin(context) && k.source === 'api'
        ? h('span', { class: 'actions' },
          h('button', { type: 'button', class: 'quiet', 'data-edit-key': k.name, onclick: () => edit(k) }, 'Edit'),
          h('button', { type: 'button', class: 'danger', 'data-key': k.name, onclick: async () => {
            if (!window.confirm(`Revoke key ${k.name}?`)) return;
            try { await del(`keys/${encodeURIComponent(k.name)}`); poller.now(); } catch (e) { status.textContent = e.message; status.classList.add('error'); context.failed(e); }
          } }, 'Revoke'))
        : '') },
    ], list.data, { empty: 'no keys' }));
  }, context, status);
  return poller;
}

// ---- Requests ----
function requests(root, context) {
  const { node, status } = heading('Requests');
  const fields = {};
  const input = (name, placeholder) => { fields[name] = h('input', { name, id: `filter-${name}`, placeholder }); return fields[name]; };
  const minutes = h('select', { name: 'minutes', id: 'filter-minutes' },
    [['15', '15 min'], ['60', '1 h'], ['1440', '1 day'], ['10080', '7 days']].map(([v, t]) => h('option', { value: v, selected: v === '60' }, t)));
  const form = h('form', { class: 'inline', id: 'filters' }, input('key', 'key'), input('model', 'model'),
    input('deployment', 'deployment'), input('status', 'status: 200, 4xx, error'), minutes, h('button', { type: 'submit' }, 'Filter'));
  const detail = h('div', { id: 'request-detail' });
  const body = h('div', { id: 'requests' });
  root.append(node, form, detail, body);
  const query = () => {
    const q = new URLSearchParams();
    for (const [name, field] of Object.entries(fields)) if (field.value.trim()) q.set(name, field.value.trim());
    q.set('minutes', minutes.value);
    q.set('limit', '200');
    return q.toString();
  };
  const show = async (row) => {
    try {
      const r = await get(`requests/${encodeURIComponent(row.request_id)}`);
      const items = [['request id', r.request_id], ['time', new Date(r.ts_ms).toISOString()], ['key', r.key], ['labels', JSON.stringify(r.labels)],
        ['model asked', r.model], ['served by model', r.served_model], ['deployment', r.deployment], ['upstream', r.upstream],
        ['tier', r.tier], ['local', r.local ? 'yes' : 'no'], ['status', r.status], ['stream', r.stream ? 'yes' : 'no'],
        ['prompt tokens', r.prompt_tokens], ['cached tokens', r.cached_tokens], ['completion tokens', r.completion_tokens],
        ['usage estimated', r.usage_estimated ? 'yes' : 'no'], ['cost', fmtUsd(r.cost_usd)], ['TTFT', fmtMs(r.ttft_ms)],
        ['total', fmtMs(r.total_ms)], ['gateway overhead', fmtMs(r.overhead_ms)], ['retries', r.retries],
        ['fallback', r.fallback ? 'yes' : 'no'], ['error', r.error]];
      // Content only where the access log keeps it (access_log.content), redacted as there.
      const content = r.prompt === undefined ? [] : [
        h('h3', null, 'prompt'), h('pre', { class: 'content', id: 'request-prompt' }, r.prompt),
        h('h3', null, 'completion'), h('pre', { class: 'content', id: 'request-completion' }, r.completion)];
      clear(detail).append(h('div', { class: 'detail' }, h('h2', null, 'Request ', r.request_id),
        h('dl', null, items.map(([k, v]) => [h('dt', null, k), h('dd', null, String(v ?? ''))])), ...content,
        h('button', { type: 'button', class: 'quiet', onclick: () => clear(detail) }, 'Close')));
    } catch (e) { status.textContent = e.message; status.classList.add('error'); context.failed(e); }
  };
  const poller = poll(5000, async () => {
    const list = await get(`requests?${query()}`);
    if (!list.ledger) { clear(body).append(h('p', { class: 'muted' }, 'no ledger is configured (ledger: in the config): requests are not kept')); return; }
    clear(body).append(table([
      { title: 'time', value: (r) => fmtTime(r.ts_ms) },
      { title: 'request id', value: (r) => r.request_id },
      { title: 'key', value: (r) => r.key },
      { title: 'model', value: (r) => r.model },
      { title: 'deployment', value: (r) => r.deployment },
      { title: 'status', value: (r) => h('span', { class: r.status < 400 ? 'ok' : 'bad' }, String(r.status)), num: true },
      { title: 'tokens in/out', value: (r) => `${r.prompt_tokens} / ${r.completion_tokens}`, num: true },
      { title: 'TTFT', value: (r) => fmtMs(r.ttft_ms), num: true },
      { title: 'total', value: (r) => fmtMs(r.total_ms), num: true },
      { title: 'cost', value: (r) => fmtUsd(r.cost_usd), num: true },
      { title: 'error', value: (r) => r.error },
    ], list.data, { empty: 'no requests match', onRow: show }));
  }, context, status);
  form.addEventListener('submit', (event) => { event.preventDefault(); poller.now(); });
  return poller;
}

// ---- Spend ----
// Tokens a month as "12.5M" or "350k".
function fmtTokens(v) {
  if (v === null || v === undefined) return '–';
  if (v >= 1e9) return `${fmtNumber(v / 1e9, v < 1e10 ? 1 : 0)}B`;
  if (v >= 1e6) return `${fmtNumber(v / 1e6, v < 1e7 ? 1 : 0)}M`;
  if (v >= 1e3) return `${fmtNumber(v / 1e3, 0)}k`;
  return fmtNumber(v);
}

// Chart colours by kind of option, the same on both pictures.
const KIND_SERIES = { cloud: 1, owned: 0, rental: 2, hybrid: 3 };

// `switchyard cost`'s comparison (GET cost): bars of each option's monthly cost, and monthly cost
// against monthly volume with the break-even points and this period's volume marked. Every number
// comes from the API; nothing is priced here.
function costSection(c) {
  const section = h('div', { class: 'compare', id: 'cost' });
  const m = c.monthly;
  const volume = c.curves.volume_tokens_per_month;
  section.append(h('h2', null, 'Local, cloud or hybrid: a month at this period\'s rate',
    h('span', { class: 'muted' }, ` · ${fmtTokens(volume)} tokens a month · reference ${m.reference || '–'}`)));
  const priced = m.options.filter((o) => o.monthly_usd !== null);
  const marks = [];
  for (const line of c.curves.lines) {
    if (line.break_even_tokens_per_month !== null) {
      marks.push({ x: line.break_even_tokens_per_month, y: line.break_even_usd, kind: 'break-even',
        text: `break-even ${fmtTokens(line.break_even_tokens_per_month)}/month: ${line.name}` });
    }
  }
  if (volume > 0) {
    const reference = c.curves.lines.find((l) => l.name === m.reference);
    const at = reference ? reference.points.reduce((best, p) => (Math.abs(p[0] - volume) < Math.abs(best[0] - volume) ? p : best), reference.points[0]) : null;
    marks.push({ x: volume, y: at ? at[1] : 0, kind: 'volume', text: `this period: ${fmtTokens(volume)}/month` });
  }
  section.append(h('div', { class: 'charts' },
    barChart({ id: 'cost-options', title: 'Monthly cost per option', format: fmtUsd,
      rows: priced.map((o) => ({ name: o.name, value: o.monthly_usd, series: KIND_SERIES[o.kind] ?? 4 })) }),
    xyChart({ id: 'cost-curves', title: 'Monthly cost against monthly tokens', xMax: c.curves.limit_tokens_per_month,
      xFormat: fmtTokens, format: fmtUsd, marks,
      lines: c.curves.lines.map((l) => ({ name: l.name, points: l.points, series: KIND_SERIES[l.kind] ?? 4 })) })));
  section.append(table([
    { title: 'option', value: (o) => o.name },
    { title: 'kind', value: (o) => o.kind, nowrap: true },
    { title: 'a month', value: (o) => fmtUsd(o.monthly_usd), num: true },
    { title: '$ / M tokens', value: (o) => fmtUsd(o.usd_per_million), num: true },
    { title: 'machines', value: (o) => (o.machines === null ? '–' : fmtNumber(o.machines)), num: true },
    { title: 'break-even tokens a month', value: (o) => fmtTokens(o.break_even_tokens_per_month), num: true },
    { title: 'payback', value: (o) => (o.payback_months === null ? '–' : `${fmtNumber(o.payback_months, 1)} months`), num: true },
    { title: 'note', value: (o) => o.note },
  ], m.options, { empty: 'no option' }));
  for (const p of c.stale_prices) {
    section.append(h('p', { class: 'error' }, `The price of ${p.model} is dated ${p.date} (${p.age_days} days old): check ${p.source}`));
  }
  section.append(h('details', null, h('summary', null, 'inputs'), table([
    { title: 'input', value: (i) => i.name },
    { title: 'value', value: (i) => (i.value === null ? '' : fmtNumber(i.value, i.value < 10 ? 3 : 0)), num: true },
    { title: 'from', value: (i) => i.note },
  ], c.inputs)));
  return section;
}

function spend(root, context) {
  const hours = h('select', { id: 'spend-hours', 'aria-label': 'period' },
    [['24', 'last 24 h'], ['168', 'last 7 days'], ['720', 'last 30 days']].map(([v, t]) => h('option', { value: v }, t)));
  const { node, status } = heading('Spend', hours);
  const body = h('div', { id: 'spend' });
  root.append(node, body);
  const poller = poll(10000, async () => {
    const s = await get(`spend?hours=${hours.value}`);
    if (!s.ledger) { clear(body).append(h('p', { class: 'muted' }, 'no ledger is configured (ledger: in the config): spend is not kept')); return; }
    let comparison;
    try {
      const c = await get(`cost?hours=${hours.value}`);
      comparison = c.ledger ? costSection(c) : null;
    } catch (e) {
      if (e.status === 401) throw e;
      comparison = h('p', { class: 'error', id: 'cost-error' }, `The comparison could not be made: ${e.message}`);
    }
    const columns = [
      { title: 'name', value: (r) => r.name || '(no key)' },
      { title: 'requests', value: (r) => fmtNumber(r.requests), num: true },
      { title: 'errors', value: (r) => fmtNumber(r.errors), num: true },
      { title: 'prompt tokens', value: (r) => fmtNumber(r.prompt_tokens), num: true },
      { title: 'completion tokens', value: (r) => fmtNumber(r.completion_tokens), num: true },
      { title: 'cost', value: (r) => fmtUsd(r.cost_usd), num: true },
    ];
    const total = s.total[0];
    clear(body).append(
      h('div', { class: 'tiles' }, tile('cost', fmtUsd(total.cost_usd), 'spend-total'), tile('requests', fmtNumber(total.requests)),
        tile('tokens', fmtNumber(total.prompt_tokens + total.completion_tokens))),
      h('div', { class: 'charts' },
        barChart({ title: 'Cost by key', rows: s.by_key.map((r) => ({ name: r.name || '(no key)', value: r.cost_usd })), format: fmtUsd }),
        barChart({ title: 'Cost by model', rows: s.by_model.map((r) => ({ name: r.name, value: r.cost_usd, series: 1 })), format: fmtUsd }),
        barChart({ title: 'Requests: local engines vs cloud', rows: s.by_locality.map((r) => ({ name: r.name, value: r.requests, series: r.name === 'local' ? 0 : 3 })), format: (v) => fmtNumber(v) })),
      comparison,
      h('h2', null, 'By key'), table(columns, s.by_key),
      h('h2', null, 'By label'), table(columns, s.by_label || [], { empty: 'no labels in this period' }),
      h('h2', null, 'By model'), table(columns, s.by_model),
      h('h2', null, 'By tier'), table(columns, s.by_tier),
      h('h2', null, 'Local vs cloud'), table(columns, s.by_locality));
  }, context, status);
  hours.addEventListener('change', () => poller.now());
  return poller;
}

// ---- Config ----
function yamlText(value, indent = '') {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) {
    if (!value.length) return '[]';
    return value.map((v) => `\n${indent}- ${yamlText(v, `${indent}  `).replace(/^\n\s*/, '')}`).join('');
  }
  if (typeof value === 'object') {
    const entries = Object.entries(value);
    if (!entries.length) return '{}';
    return entries.map(([k, v]) => {
      const text = yamlText(v, `${indent}  `);
      return `\n${indent}${k}:${text.startsWith('\n') ? text : ` ${text}`}`;
    }).join('');
  }
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  // A string YAML would read back as the same string goes bare; others (numbers, booleans, null,
  // durations starting with a digit, anything with YAML punctuation) are quoted.
  const text = String(value);
  if (/^[A-Za-z_/][A-Za-z0-9_./:@-]*$/.test(text) && !/^(true|false|yes|no|on|off|null|y|n|~)$/i.test(text)) return text;
  return JSON.stringify(text);
}

function configPage(root, context) {
  const { node, status } = heading('Configuration');
  const result = h('div', { id: 'reload-result' });
  const body = h('pre', { class: 'config', id: 'config-text' });
  const generation = h('p', { id: 'generation', class: 'muted' });
  root.append(node, generation);
  if (isAdmin(context)) {
    const button = h('button', { type: 'button', id: 'reload' }, 'Reload the config file');
    button.addEventListener('click', async () => {
      clear(result);
      try {
        const r = await post('reload');
        result.append(h('p', { class: 'ok' }, `Reloaded: generation ${r.generation}. ${r.summary}`));
      } catch (e) {
        result.append(h('pre', { class: 'error' }, e.message));
        context.failed(e);
      }
      poller.now();
    });
    root.append(button);
  }
  root.append(result, body);
  const poller = poll(15000, async () => {
    const c = await get('config');
    generation.textContent = `generation ${c.generation} · secrets shown as ********`;
    body.textContent = yamlText(c.config).replace(/^\n/, '');
  }, context, status);
  return poller;
}

export const pages = { overview, models, engines, keys, requests, spend, config: configPage };
