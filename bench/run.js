#!/usr/bin/env node
'use strict';
// Root benchmark entry (`npm run bench` at the repository root runs `node bench/run.js`).
//  (i)  runs each workspace's built benchmark, packages/<pkg>/dist/bench/run.js,
//       skipping the ones not built yet;
//  (ii) installs the peer stores into bench/node_modules if missing (bench/ is its
//       own npm package, not a workspace, so the root `npm ci` never builds
//       better-sqlite3) and runs bench/peers.js.
// Environment: BENCH_QUICK=1 (smoke sizes), BENCH_N, BENCH_STORES=lmdb,sqlite,...,
// BENCH_WORKSPACES=0 or BENCH_PEERS=0 to skip a part.
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const BENCH = __dirname;
const ROOT = path.resolve(BENCH, '..');
const WORKSPACES = ['allocator', 'pobj', 'examples'];
const PEER_DEPS = ['lmdb', 'classic-level', 'better-sqlite3'];
const failures = [];

function say(msg) { process.stderr.write(`bench: ${msg}\n`); }

function run(cmd, args, opts) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', env: process.env, ...opts });
  if (r.error) return { ok: false, why: r.error.message };
  return { ok: r.status === 0, why: `exit ${r.status}${r.signal ? ` (${r.signal})` : ''}` };
}

if (process.env.BENCH_WORKSPACES !== '0') {
  for (const ws of WORKSPACES) {
    const dir = path.join(ROOT, 'packages', ws);
    const script = path.join(dir, 'dist', 'bench', 'run.js');
    if (!fs.existsSync(script)) {
      say(`@makalu/${ws}: no built benchmark at packages/${ws}/dist/bench/run.js yet (not written, or run \`npm run build\` first); skipped`);
      continue;
    }
    say(`@makalu/${ws}: node dist/bench/run.js`);
    const r = run(process.execPath, [script], { cwd: dir });
    if (!r.ok) { failures.push(`@makalu/${ws} benchmark: ${r.why}`); say(`@makalu/${ws}: failed, ${r.why}`); }
  }
}

if (process.env.BENCH_PEERS !== '0') {
  const missing = PEER_DEPS.filter((d) => !fs.existsSync(path.join(BENCH, 'node_modules', d, 'package.json')));
  let installed = true;
  if (missing.length) {
    say(`installing the peer stores into bench/node_modules (missing: ${missing.join(', ')}); ` +
      'better-sqlite3 compiles SQLite, about a minute...');
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const r = run(npm, ['--prefix', BENCH, 'ci', '--no-audit', '--no-fund'], { cwd: BENCH });
    if (!r.ok) { installed = false; failures.push(`npm ci in bench/: ${r.why}`); say(`peer install failed (${r.why}); peers skipped`); }
  }
  if (installed) {
    say('peers: node bench/peers.js');
    const r = run(process.execPath, [path.join(BENCH, 'peers.js')], { cwd: ROOT });
    if (!r.ok) failures.push(`bench/peers.js: ${r.why}`);
  }
}

if (failures.length) {
  say(`finished with ${failures.length} failure(s):\n  ${failures.join('\n  ')}`);
  process.exit(1);
}
say('done');
