// Building the page without ever parsing data as HTML: every value goes in as a text node or an
// attribute (never innerHTML), so a name like <img src=x onerror=alert(1)> shows as those characters.
const SVG = 'http://www.w3.org/2000/svg';

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function set(node, attrs) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith('on')) {
      if (typeof value === 'function') node.addEventListener(name.slice(2), value);  // never a string handler
    } else if (name === 'class') node.setAttribute('class', value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  return node;
}

// h('td', {class: 'num'}, 'text', child, ...)
export function h(tag, attrs, ...children) {
  return append(set(document.createElement(tag), attrs), children);
}

export function svg(tag, attrs, ...children) {
  return append(set(document.createElementNS(SVG, tag), attrs), children);
}

export function clear(node) {
  while (node.firstChild) node.firstChild.remove();
  return node;
}

// A table from column definitions {title, value(row) -> text or node, num}.
export function table(columns, rows, { empty = 'nothing yet', onRow } = {}) {
  const head = h('tr', null, columns.map((c) => h('th', { class: c.num ? 'num' : null }, c.title)));
  const body = rows.length
    ? rows.map((row) => {
      const tr = h('tr', { class: onRow ? 'clickable' : null },
        columns.map((c) => h('td', { class: c.num ? 'num' : c.nowrap ? 'nowrap' : null }, c.value(row))));
      if (onRow) {
        tr.tabIndex = 0;
        tr.addEventListener('click', () => onRow(row));
        tr.addEventListener('keydown', (e) => { if (e.key === 'Enter') onRow(row); });
      }
      return tr;
    })
    : [h('tr', null, h('td', { class: 'empty', colspan: columns.length }, empty))];
  return h('table', null, h('thead', null, head), h('tbody', null, body));
}

export function fmtNumber(n, digits = 0) {
  if (n === null || n === undefined || Number.isNaN(n)) return '–';
  return Number(n).toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

export function fmtMs(ms) {
  if (ms === null || ms === undefined || ms < 0) return '–';
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(ms < 10 ? 1 : 0)} ms`;
}

export function fmtUsd(usd) {
  if (usd === null || usd === undefined) return '–';
  return usd >= 1 ? `$${usd.toFixed(2)}` : `$${usd.toFixed(4)}`;
}

export function fmtBytes(n) {
  if (!n && n !== 0) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

export function fmtDuration(s) {
  if (s === null || s === undefined) return '–';
  if (s < 60) return `${Math.round(s)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

export function fmtTime(ms) {
  const d = new Date(ms);
  return d.toLocaleTimeString('en-GB', { hour12: false });
}
