// Line charts in SVG, drawn here (no library): a time axis, three value ticks, and each series
// labelled at its last point, so no legend needs reading. Colours come from the stylesheet's
// series classes (s0..s4), which follow the light or dark theme.
import { svg, h, fmtTime } from './dom.js';

const W = 560;
const H = 170;
const PAD = { left: 48, right: 96, top: 10, bottom: 22 };

// An SVG text of at most `max` characters (the rest as '…'), the whole text as its tooltip.
function text(attrs, value, max) {
  const whole = String(value);
  if (whole.length <= max) return svg('text', attrs, whole);
  return svg('text', attrs, svg('title', null, whole), `${whole.slice(0, max - 1)}…`);
}

function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

// series: [{name, values: [number|null]}]; times: [ms]; format: value -> text.
export function lineChart({ title, times, series, format = (v) => String(v) }) {
  const box = h('figure', { class: 'chart' }, h('figcaption', null, title));
  const chart = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': title });
  box.append(chart);
  const x0 = PAD.left;
  const x1 = W - PAD.right;
  const y0 = H - PAD.bottom;
  const y1 = PAD.top;
  let max = 0;
  for (const s of series) for (const v of s.values) if (v !== null && v > max) max = v;
  max = niceMax(max);
  const n = times.length;
  const tMin = n ? times[0] : 0;
  const tMax = n ? times[n - 1] : 1;
  const x = (t) => (tMax === tMin ? x1 : x0 + ((t - tMin) / (tMax - tMin)) * (x1 - x0));
  const y = (v) => y0 - (v / max) * (y0 - y1);
  for (let i = 0; i <= 2; i += 1) {
    const v = (max * i) / 2;
    chart.append(svg('line', { class: 'grid', x1: x0, x2: x1, y1: y(v), y2: y(v) }));
    chart.append(svg('text', { class: 'tick', x: x0 - 4, y: y(v) + 3, 'text-anchor': 'end' }, format(v)));
  }
  if (n) {
    chart.append(svg('text', { class: 'tick', x: x0, y: H - 6 }, fmtTime(tMin)));
    chart.append(svg('text', { class: 'tick', x: x1, y: H - 6, 'text-anchor': 'end' }, fmtTime(tMax)));
  }
  if (!n) chart.append(svg('text', { class: 'tick', x: (x0 + x1) / 2, y: (y0 + y1) / 2, 'text-anchor': 'middle' }, 'waiting for samples'));
  const labels = [];
  series.forEach((s, index) => {
    let d = '';
    let pen = false;
    let last = null;
    s.values.forEach((v, i) => {
      if (v === null || v === undefined) { pen = false; return; }
      d += `${pen ? 'L' : 'M'}${x(times[i]).toFixed(1)},${y(v).toFixed(1)}`;
      pen = true;
      last = { x: x(times[i]), y: y(v), v };
    });
    if (d) chart.append(svg('path', { class: `line s${index}`, d }));
    if (last) {
      chart.append(svg('circle', { class: `dot s${index}`, cx: last.x, cy: last.y, r: 2.5 }));
      labels.push({ y: last.y, text: `${s.name} ${format(last.v)}`, index });
    }
  });
  // Labels at the right edge, pushed apart so they never overlap, and kept inside the chart.
  labels.sort((a, b) => a.y - b.y);
  let floor = PAD.top - 2;
  for (const label of labels) {
    label.y = Math.max(label.y + 3, floor + 11);
    floor = label.y;
  }
  let ceiling = H - 4;
  for (let i = labels.length - 1; i >= 0; i -= 1) {
    labels[i].y = Math.min(labels[i].y, ceiling);
    ceiling = labels[i].y - 11;
  }
  for (const label of labels) {
    chart.append(svg('text', { class: `label s${label.index}`, x: x1 + 6, y: label.y }, label.text));
  }
  return box;
}

// Horizontal bars: [{name, value}] with the value's text at the end of each bar.
export function barChart({ title, rows, format = (v) => String(v), id }) {
  const box = h('figure', { class: 'chart bars', id }, h('figcaption', null, title));
  const rowH = 20;
  const height = Math.max(rows.length, 1) * rowH + 6;
  const chart = svg('svg', { viewBox: `0 0 ${W} ${height}`, role: 'img', 'aria-label': title });
  box.append(chart);
  const max = Math.max(...rows.map((r) => r.value), 0) || 1;
  const left = 170;
  const right = W - 90;
  rows.forEach((r, i) => {
    const yTop = 3 + i * rowH;
    chart.append(text({ class: 'tick', x: left - 6, y: yTop + 13, 'text-anchor': 'end' }, r.name, 30));
    const width = Math.max((r.value / max) * (right - left), r.value > 0 ? 1 : 0);
    chart.append(svg('rect', { class: `bar s${r.series || 0}`, x: left, y: yTop + 2, width, height: rowH - 6 }));
    chart.append(svg('text', { class: 'label', x: left + width + 5, y: yTop + 13 }, format(r.value)));
  });
  if (!rows.length) chart.append(svg('text', { class: 'tick', x: W / 2, y: 16, 'text-anchor': 'middle' }, 'nothing in this period'));
  return box;
}

// Lines over a numeric x axis from 0: lines [{name, points: [[x, y]], series}], each labelled at
// its right end; marks [{x, y, text, kind}] drawn as a dashed drop line and a ring with their text
// (kind 'break-even' or 'volume'). Used for monthly cost against monthly volume.
export function xyChart({ title, lines, marks = [], xMax, xFormat = (v) => String(v), format = (v) => String(v), id }) {
  const box = h('figure', { class: 'chart xy', id }, h('figcaption', null, title));
  const height = H + 40;
  const chart = svg('svg', { viewBox: `0 0 ${W} ${height}`, role: 'img', 'aria-label': title });
  box.append(chart);
  const x0 = PAD.left;
  const x1 = W - PAD.right - 40;
  const y0 = height - PAD.bottom;
  const y1 = PAD.top;
  let yMax = 0;
  let xEnd = xMax || 0;
  for (const line of lines) {
    for (const [px, py] of line.points) {
      if (py > yMax) yMax = py;
      if (!xMax && px > xEnd) xEnd = px;
    }
  }
  for (const m of marks) if (m.y > yMax) yMax = m.y;
  yMax = niceMax(yMax);
  xEnd = xEnd > 0 ? xEnd : 1;
  const x = (v) => x0 + (Math.min(v, xEnd) / xEnd) * (x1 - x0);
  const y = (v) => y0 - (Math.max(0, Math.min(v, yMax)) / yMax) * (y0 - y1);
  for (let i = 0; i <= 2; i += 1) {
    const v = (yMax * i) / 2;
    chart.append(svg('line', { class: 'grid', x1: x0, x2: x1, y1: y(v), y2: y(v) }));
    chart.append(svg('text', { class: 'tick', x: x0 - 4, y: y(v) + 3, 'text-anchor': 'end' }, format(v)));
  }
  for (let i = 0; i <= 4; i += 1) {
    const v = (xEnd * i) / 4;
    chart.append(svg('text', { class: 'tick', x: x(v), y: height - 6, 'text-anchor': i === 0 ? 'start' : i === 4 ? 'end' : 'middle' }, xFormat(v)));
  }
  const labels = [];
  lines.forEach((line, index) => {
    const series = line.series ?? index;
    let d = '';
    for (const [px, py] of line.points) d += `${d ? 'L' : 'M'}${x(px).toFixed(1)},${y(py).toFixed(1)}`;
    if (!d) return;
    chart.append(svg('path', { class: `line s${series}`, d, 'data-option': line.name }));
    labels.push({ y: y(line.points[line.points.length - 1][1]), text: line.name, index: series });
  });
  // Marks: where an option meets the reference (break-even) and this period's volume.
  marks.forEach((m) => {
    const mx = x(m.x);
    const my = y(m.y);
    const kind = m.kind || 'break-even';
    chart.append(svg('line', { class: `mark ${kind}`, x1: mx, x2: mx, y1: y0, y2: my }));
    chart.append(svg('circle', { class: `mark ${kind}`, cx: mx, cy: my, r: 3.5, 'data-mark': kind }));
    // The text on the side with more room, above the point.
    const left = mx > (x0 + x1) / 2;
    chart.append(text({ class: `mark-label ${kind}`, x: left ? mx - 6 : mx + 5, y: Math.max(my - 6, y1 + 9),
      'text-anchor': left ? 'end' : 'start' }, m.text, 48));
  });
  labels.sort((a, b) => a.y - b.y);
  let floor = PAD.top - 2;
  for (const label of labels) {
    label.y = Math.max(label.y + 3, floor + 11);
    floor = label.y;
  }
  let ceiling = y0;
  for (let i = labels.length - 1; i >= 0; i -= 1) {
    labels[i].y = Math.min(labels[i].y, ceiling);
    ceiling = labels[i].y - 11;
  }
  for (const label of labels) {
    chart.append(text({ class: `label s${label.index}`, x: x1 + 6, y: label.y }, label.text, 24));
  }
  if (!lines.length) chart.append(svg('text', { class: 'tick', x: (x0 + x1) / 2, y: (y0 + y1) / 2, 'text-anchor': 'middle' }, 'no option could be costed'));
  return box;
}
