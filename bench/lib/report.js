'use strict';
// Markdown table and a hand-written SVG chart for bench/peers.js results.
const { fmtRate, fmtMs, fmtBytes } = require('./util');

const WORKLOADS = [
  { key: 'putEach', label: '(a) puts, each atomic, process durability', settings: 'process' },
  { key: 'putAll', label: "(a') puts in one transaction", settings: 'bulk' },
  { key: 'durableEach', label: '(b) durable puts, one sync per put', settings: 'power' },
  { key: 'durableGroup', label: "(b') durable puts, group commit of 100", settings: 'group' },
  { key: 'get', label: '(c) random gets', settings: 'get' },
];
const TIMES = [
  { key: 'reopenMs', label: '(d) reopen after clean close' },
  { key: 'recoveryMs', label: "(d') recovery after kill -9" },
];

function rate(sys, key) { return sys[key] ? sys[key].opsPerSec : undefined; }
function timeOf(sys, key) {
  if (key === 'recoveryMs') return sys.recovery ? sys.recovery.ms : undefined;
  return sys[key];
}

function markdown(doc) {
  const { meta, systems } = doc;
  const ok = systems.filter((s) => !s.skipped && !s.failed);
  const L = [];
  L.push(`## Peer benchmarks: N = ${meta.n.toLocaleString('en-US')}${meta.quick ? ' (quick mode)' : ''}, 16-byte keys, 64-byte values`);
  L.push('');
  L.push(`${meta.date}, node ${meta.node}, ${meta.cpus}, ${meta.memGiB} GiB, ${meta.platform}. ` +
    `Load average ${meta.loadavgAtStart.join(' ')} at start, ${meta.loadavgAtEnd ? meta.loadavgAtEnd.join(' ') : '?'} at end.`);
  L.push('');
  L.push(`> ${meta.note}`);
  L.push('');
  L.push('| system | (a) puts, each atomic | (a\') one txn | (b) durable, sync/put | (b\') durable, group 100 | (c) random gets | (d) reopen | (d\') recover kill -9 | on disk |');
  L.push('|---|--:|--:|--:|--:|--:|--:|--:|--:|');
  for (const s of ok) {
    L.push(`| ${s.name} | ${fmtRate(rate(s, 'putEach'))} | ${fmtRate(rate(s, 'putAll'))} | ${fmtRate(rate(s, 'durableEach'))} | ` +
      `${fmtRate(rate(s, 'durableGroup'))} | ${fmtRate(rate(s, 'get'))} | ${fmtMs(s.reopenMs)} | ${fmtMs(timeOf(s, 'recoveryMs'))} | ` +
      `${s.diskBytes ? fmtBytes(s.diskBytes) : '—'} |`);
  }
  for (const s of systems.filter((x) => x.skipped || x.failed)) {
    L.push(`| ${s.name || s.id} | ${s.skipped ? 'skipped: ' + s.skipped : s.failed} | | | | | | | |`);
  }
  L.push('');
  L.push(`Every store first ran the same workloads twice, untimed, on scratch stores of ${meta.warmup} entries (warm JIT for every store's JS; 0: cold). ` +
    `Durable puts ran for at most ${meta.durableBudget.secs} s or ${meta.durableBudget.maxPuts} puts ` +
    `(group commit: ${meta.durableBudget.groupMaxPuts} puts) on an empty store; counts and other details below. ` +
    '(d) and (d\') time open + the first get; (d) is the median of 3, (d\') one run, with a warm page cache. ' +
    '(d\') child: loads N entries in commits of 10 000, then keeps overwriting one put per commit until SIGKILL; after recovery 1000 sampled keys are checked.');
  L.push('');
  L.push('| system | (b) puts done / s | (b\') puts done / s | (d) reopen, 3 runs | close after (a)+(c) | 1-min load avg start → end |');
  L.push('|---|--:|--:|--:|--:|--:|');
  for (const s of ok) {
    const b = s.durableEach, g = s.durableGroup;
    L.push(`| ${s.name} | ${b ? `${b.puts} / ${b.secs.toFixed(2)}` : '—'} | ${g ? `${g.puts} / ${g.secs.toFixed(2)}` : '—'} | ` +
      `${s.reopenAllMs ? s.reopenAllMs.map((x) => x.toFixed(2)).join(', ') + ' ms' : '—'} | ${fmtMs(s.closeMs)} | ` +
      `${s.load1AtStart ?? '?'} → ${s.load1AtEnd ?? '?'} |`);
  }
  L.push('');
  L.push('### Exact settings');
  L.push('');
  L.push('| system | workload | settings |');
  L.push('|---|---|---|');
  for (const s of ok) {
    for (const [k, v] of Object.entries(s.settings || {})) {
      L.push(`| ${s.name} | ${k} | ${String(v).replace(/\|/g, '\\|')} |`);
    }
  }
  return L.join('\n');
}

// ---------------------------------------------------------------- SVG

const COLORS = ['#d62728', '#1f77b4', '#2ca02c', '#ff7f0e', '#7f7f7f', '#9467bd', '#8c564b'];

function esc(s) {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function superscript(e) {
  const map = { '-': '⁻', 0: '⁰', 1: '¹', 2: '²', 3: '³', 4: '⁴', 5: '⁵', 6: '⁶', 7: '⁷', 8: '⁸', 9: '⁹' };
  return '10' + String(e).split('').map((c) => map[c]).join('');
}

/** One panel of grouped horizontal bars on a log axis. Returns { svg, height }. */
function panel({ y0, title, groups, systems, value, fmt, unit, W, labelW, colorOf }) {
  const barH = 14, barGap = 3, groupGap = 14, headH = 18, axisH = 30;
  const plotX = labelW, plotW = W - labelW - 110;
  const vals = [];
  for (const g of groups) for (const s of systems) { const v = value(s, g.key); if (v > 0) vals.push(v); }
  if (!vals.length) return { svg: '', height: 0 };
  const lo = Math.floor(Math.log10(Math.min(...vals)));
  const hi = Math.ceil(Math.log10(Math.max(...vals)) + 1e-9);
  const hiE = hi === lo ? lo + 1 : hi;
  const x = (v) => plotX + ((Math.log10(v) - lo) / (hiE - lo)) * plotW;
  const out = [];
  out.push(`<text x="10" y="${y0 + 16}" class="h">${esc(title)}</text>`);
  let y = y0 + 28;
  const top = y;
  for (const g of groups) {
    const present = systems.filter((s) => value(s, g.key) > 0);
    if (!present.length) continue;
    out.push(`<text x="10" y="${y + 13}" class="g">${esc(g.label)}</text>`);
    y += headH;
    for (const s of systems) {
      const v = value(s, g.key);
      out.push(`<text x="${plotX - 6}" y="${y + barH - 3}" class="l" text-anchor="end">${esc(s.short)}</text>`);
      if (v > 0) {
        const w = Math.max(1, x(v) - plotX);
        out.push(`<rect x="${plotX}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${colorOf(s)}"><title>${esc(s.name)}: ${esc(fmt(v))}</title></rect>`);
        out.push(`<text x="${(plotX + w + 4).toFixed(1)}" y="${y + barH - 3}" class="v">${esc(fmt(v))}</text>`);
      } else {
        out.push(`<text x="${plotX + 4}" y="${y + barH - 3}" class="na">n/a</text>`);
      }
      y += barH + barGap;
    }
    y += groupGap;
  }
  const bottom = y - groupGap + 4;
  const grid = [];
  for (let e = lo; e <= hiE; e++) {
    const gx = x(10 ** e);
    grid.push(`<line x1="${gx.toFixed(1)}" y1="${top}" x2="${gx.toFixed(1)}" y2="${bottom}" class="grid"/>`);
    out.push(`<text x="${gx.toFixed(1)}" y="${bottom + 14}" class="ax" text-anchor="middle">${superscript(e)}</text>`);
  }
  out.splice(1, 0, ...grid); // grid under the bars
  out.push(`<text x="${plotX + plotW / 2}" y="${bottom + 28}" class="ax" text-anchor="middle">${esc(unit)}</text>`);
  return { svg: out.join('\n'), height: bottom + axisH - y0 };
}

function svg(doc) {
  const { meta } = doc;
  const systems = doc.systems.filter((s) => !s.skipped && !s.failed)
    .map((s) => ({ ...s, short: s.name.replace(/ \(.*\)$/, '') }));
  const W = 900, labelW = 300;
  const colorOf = (s) => COLORS[systems.indexOf(s) % COLORS.length];
  const parts = [];
  let y = 0;
  const title = `Map peers: throughput per system, N = ${meta.n.toLocaleString('en-US')}${meta.quick ? ' (quick)' : ''}, 16 B keys, 64 B values`;
  const load = meta.loadavgAtEnd ? `, load avg ${meta.loadavgAtStart[0]} → ${meta.loadavgAtEnd[0]}` : '';
  const sub = `${meta.date.slice(0, 10)}, node ${meta.node}, ${meta.cpus}; single runs on a shared 2-vCPU machine${load}: noisy. Log scale.`;
  parts.push(`<text x="10" y="22" class="t">${esc(title)}</text>`);
  parts.push(`<text x="10" y="40" class="s">${esc(sub)}</text>`);
  y = 50;
  const p1 = panel({ y0: y, title: 'Throughput (operations per second, higher is better)', groups: WORKLOADS, systems,
    value: rate, fmt: fmtRate, unit: 'operations / s (log scale)', W, labelW, colorOf });
  parts.push(p1.svg);
  y += p1.height + 10;
  const p2 = panel({ y0: y, title: `Open + first get with ${meta.n.toLocaleString('en-US')} entries (milliseconds, lower is better)`, groups: TIMES,
    systems: systems.filter((s) => s.persistent), value: timeOf, fmt: fmtMs, unit: 'milliseconds (log scale)', W, labelW, colorOf });
  parts.push(p2.svg);
  y += p2.height + 10;
  const H = Math.ceil(y);
  return `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">
<style>
.t { font-size: 16px; font-weight: bold; fill: #222; }
.s { font-size: 11px; fill: #555; }
.h { font-size: 13px; font-weight: bold; fill: #222; }
.g { font-size: 12px; fill: #222; font-style: italic; }
.l { font-size: 11px; fill: #333; }
.v { font-size: 11px; fill: #111; paint-order: stroke; stroke: #fff; stroke-width: 3px; }
.na { font-size: 11px; fill: #999; }
.ax { font-size: 11px; fill: #555; }
.grid { stroke: #ddd; stroke-width: 1; }
</style>
<rect x="0" y="0" width="${W}" height="${H}" fill="#fff"/>
${parts.join('\n')}
</svg>
`;
}

module.exports = { markdown, svg, WORKLOADS };
