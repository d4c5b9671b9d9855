'use strict';
const fs = require('node:fs');
const path = require('node:path');

function now() { return process.hrtime.bigint(); }
function secsSince(t0) { return Number(process.hrtime.bigint() - t0) / 1e9; }

/** Time an (optionally async) section once; returns seconds. */
async function timed(fn) {
  if (typeof global.gc === 'function') global.gc();
  const t0 = now();
  await fn();
  return secsSince(t0);
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function freshDir(root, name) {
  const dir = path.join(root, name);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

function rmDir(dir) { fs.rmSync(dir, { recursive: true, force: true }); }

/** Bytes used on disk by everything under dir (allocated blocks, so sparse files count as used). */
function diskBytes(dir) {
  let total = 0;
  for (const ent of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, ent.name);
    if (ent.isDirectory()) total += diskBytes(p);
    else { const st = fs.statSync(p); total += st.blocks * 512; }
  }
  return total;
}

function fmtRate(x) {
  if (x === null || x === undefined || !Number.isFinite(x)) return '—';
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)} M/s`;
  if (x >= 1e3) return `${(x / 1e3).toFixed(x >= 1e5 ? 0 : x >= 1e4 ? 1 : 2)} k/s`;
  return `${x.toFixed(0)} /s`;
}

function fmtMs(x) {
  if (x === null || x === undefined || !Number.isFinite(x)) return '—';
  if (x >= 100) return `${x.toFixed(0)} ms`;
  if (x >= 10) return `${x.toFixed(1)} ms`;
  return `${x.toFixed(2)} ms`;
}

function fmtBytes(b) {
  if (!Number.isFinite(b)) return '—';
  if (b >= 1 << 30) return `${(b / (1 << 30)).toFixed(2)} GiB`;
  if (b >= 1 << 20) return `${(b / (1 << 20)).toFixed(1)} MiB`;
  return `${(b / 1024).toFixed(0)} KiB`;
}

function log(...a) { process.stderr.write(a.join(' ') + '\n'); }

module.exports = { now, secsSince, timed, median, freshDir, rmDir, diskBytes, fmtRate, fmtMs, fmtBytes, log };
