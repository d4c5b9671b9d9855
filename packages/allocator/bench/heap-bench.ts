/**
 * Heap benchmarks (issue 3). A script, not a test:
 *   node packages/allocator/dist/bench/heap-bench.js        (BENCH_QUICK=1 for a smoke run)
 * Times are medians of 5 runs in one process; persists per operation come from
 * SimRegion counters for the same workload.
 */
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { execFileSync } from 'child_process'
import { Heap, SimRegion, WriteBack, mulberry32, loadNative } from '../src'

const QUICK = process.env.BENCH_QUICK === '1'
const N = QUICK ? 100_000 : 1_000_000
const RUNS = QUICK ? 3 : 5

const median = (xs: number[]): number => xs.slice().sort((a, b) => a - b)[xs.length >> 1]
function time(fn: () => void): number {
  const t = process.hrtime.bigint()
  fn()
  return Number(process.hrtime.bigint() - t) / 1e6
}
/** Median ms of `runs` runs, each on a fresh setup. */
function bench<S>(setup: () => S, run: (s: S) => void, teardown?: (s: S) => void, runs = RUNS): number {
  const ms: number[] = []
  for (let i = 0; i < runs; i++) {
    const s = setup()
    ms.push(time(() => run(s)))
    teardown?.(s)
  }
  return median(ms)
}

const tmpdir = fs.mkdtempSync(path.join(os.tmpdir(), 'makalu-bench-'))
let fileNo = 0
const HEAP_BYTES = 256 * 1024 * 1024
function mmapHeap(size = HEAP_BYTES, durability: 'process' | 'power' = 'process'): Heap {
  return fileHeap(loadNative() ? 'mmap' : 'file', size, durability)
}
function fileHeap(backend: 'mmap' | 'file', size: number, durability: 'process' | 'power'): Heap {
  return Heap.create(path.join(tmpdir, `h${fileNo++}.heap`), { size, durability, backend })
}
function closeAndRemove(h: Heap): void {
  const file = (h.region as unknown as { path?: string }).path
  h.close()
  if (file) fs.rmSync(file, { force: true })
}
/** Flushes and drains per op, for a workload run on a SimRegion heap. */
function persists(run: (h: Heap) => number, writeBack: WriteBack = 'any-time'): { flushes: number; drains: number } {
  const h = Heap.createIn(new SimRegion(HEAP_BYTES, { writeBack }))
  const region = h.region as SimRegion
  region.resetCounters()
  const ops = run(h)
  return { flushes: region.counters.flushes / ops, drains: region.counters.drains / ops }
}

interface Row { what: string; ns: number; flushes: number | string; drains: number | string; makalu: string }
const rows: Row[] = []
const fmt = (x: number | string): string => typeof x === 'string' ? x : x === 0 ? '0' : x < 0.01 ? x.toExponential(1) : x.toFixed(3)

// ── 1. steady churn: alloc+free 64 B ─────────────────────────────────────────
function churn(h: Heap, n: number): number {
  const ring = new Uint32Array(64)
  for (let i = 0; i < 64; i++) ring[i] = h.alloc(64)
  for (let i = 0; i < n; i++) {
    const k = i & 63
    h.free(ring[k])
    ring[k] = h.alloc(64)
  }
  return n
}
{
  const ms = bench(() => mmapHeap(), (h) => churn(h, N), closeAndRemove)
  // The JS limit: a bare free list in a typed array, same pattern.
  const bare = bench(() => new Uint32Array(N + 64), (stack) => {
    let top = 0
    for (let i = 0; i < 4096; i++) stack[top++] = i * 64
    const ring = new Uint32Array(64)
    for (let i = 0; i < 64; i++) ring[i] = stack[--top]
    for (let i = 0; i < N; i++) {
      const k = i & 63
      stack[top++] = ring[k]
      ring[k] = stack[--top]
    }
  })
  const p = persists((h) => churn(h, N / 10))
  rows.push({ what: 'alloc+free 64 B, steady churn (per pair)', ns: (ms * 1e6) / N, flushes: p.flushes, drains: p.drains, makalu: '16-22 ns, 0.0001 flush' })
  rows.push({ what: '  bare typed-array free list, same pattern (JS limit)', ns: (bare * 1e6) / N, flushes: '-', drains: '-', makalu: 'glibc 5-54 ns' })
}

// ── 2. fresh 64-B allocations ───────────────────────────────────────────────
function fresh(h: Heap, n: number): number { for (let i = 0; i < n; i++) h.alloc(64); return n }
{
  const ms = bench(() => mmapHeap(), (h) => fresh(h, N), closeAndRemove)
  const p = persists((h) => fresh(h, N))
  rows.push({ what: `${N / 1e6}M fresh 64-B allocations (per alloc)`, ns: (ms * 1e6) / N, flushes: p.flushes, drains: p.drains, makalu: '167 ns, ~1.0 flush' })
}

// ── 3. alloc 64 B + pointer stored durably (process durability: drains are free on mmap) ─
function stored(h: Heap, n: number): number {
  const slot = h.alloc(8)
  for (let i = 0; i < n; i++) {
    const p = h.alloc(64)
    h.persist(p, 64)
    new Uint32Array(h.bytes.buffer, slot, 2)[0] = p
    h.persist(slot, 8)
  }
  return n
}
{
  const n = N / 10
  const ms = bench(() => mmapHeap(), (h) => stored(h, n), closeAndRemove)
  const p = persists((h) => stored(h, n / 10))
  rows.push({ what: 'alloc 64 B, init + pointer stored durably (process)', ns: (ms * 1e6) / n, flushes: p.flushes, drains: p.drains, makalu: '315 ns' })
}

// ── 4. mixed 16-1024 B with 100k live ──────────────────────────────────────
function mixed(h: Heap, n: number): number {
  const r = mulberry32(42)
  const live = new Uint32Array(100_000)
  for (let i = 0; i < live.length; i++) live[i] = h.alloc(16 + Math.floor(r() * 1009))
  for (let i = 0; i < n; i++) {
    const k = Math.floor(r() * live.length)
    h.free(live[k])
    live[k] = h.alloc(16 + Math.floor(r() * 1009))
  }
  return n
}
{
  const ms = bench(() => mmapHeap(), (h) => mixed(h, N), closeAndRemove)
  const p = persists((h) => mixed(h, N / 10))
  // Subtract the setup (100k allocations) measured alone.
  const setup = bench(() => mmapHeap(), (h) => mixed(h, 0), closeAndRemove)
  rows.push({ what: 'mixed 16-1024 B, 100k live (per alloc+free)', ns: ((ms - setup) * 1e6) / N, flushes: p.flushes, drains: p.drains, makalu: '192 ns' })
}

// ── 5. large alloc/free ─────────────────────────────────────────────────────
function large(h: Heap, n: number): number {
  for (let i = 0; i < n; i++) h.free(h.alloc(256 * 1024))
  return n
}
{
  const n = QUICK ? 2000 : 20_000
  const ms = bench(() => mmapHeap(), (h) => large(h, n), closeAndRemove)
  const p = persists((h) => large(h, n / 10))
  rows.push({ what: 'large 256 KiB alloc+free (per pair; includes zeroing)', ns: (ms * 1e6) / n, flushes: p.flushes, drains: p.drains, makalu: '54-67 + 13-15 flushes' })
}

// ── 6. 8-byte transactions ─────────────────────────────────────────────────
function tx8(h: Heap, n: number): number {
  const p = h.alloc(64)
  const u = new Uint32Array(h.bytes.buffer)
  for (let i = 0; i < n; i++) h.transaction(() => { h.snapshot(p, 8); u[p >>> 2] = i })
  return n
}
{
  const n = N / 10
  const ms = bench(() => mmapHeap(), (h) => tx8(h, n), closeAndRemove)
  const p = persists((h) => tx8(h, 1000))
  rows.push({ what: '8-byte transaction, process durability', ns: (ms * 1e6) / n, flushes: p.flushes, drains: p.drains, makalu: 'PMDK 699 ns (pmem)' })
  const m = QUICK ? 50 : 300
  for (const backend of loadNative() ? ['mmap', 'file'] as const : ['file'] as const) {
    const msPower = bench(() => fileHeap(backend, 16 << 20, 'power'), (h) => tx8(h, m), closeAndRemove, 3)
    const c = persists((h) => tx8(h, 100), backend === 'file' ? 'at-drain' : 'any-time')
    rows.push({ what: `8-byte transaction, power durability, ${backend}`, ns: (msPower * 1e6) / m, flushes: c.flushes, drains: c.drains, makalu: 'PMDK ~400 µs (msync)' })
  }
  // A larger transaction: 16 snapshots of 8 bytes in 16 blocks.
  const tx16 = (h: Heap, n: number): number => {
    const ps = Array.from({ length: 16 }, () => h.alloc(64))
    const u = new Uint32Array(h.bytes.buffer)
    for (let i = 0; i < n; i++) h.transaction(() => { for (const q of ps) { h.snapshot(q, 8); u[q >>> 2] = i } })
    return n
  }
  for (const backend of loadNative() ? ['mmap', 'file'] as const : ['file'] as const) {
    const msPower = bench(() => fileHeap(backend, 16 << 20, 'power'), (h) => tx16(h, m), closeAndRemove, 3)
    const c = persists((h) => tx16(h, 100), backend === 'file' ? 'at-drain' : 'any-time')
    rows.push({ what: `16-block transaction, power durability, ${backend}`, ns: (msPower * 1e6) / m, flushes: c.flushes, drains: c.drains, makalu: '' })
  }
}

console.log('\n### @makalu/allocator: heap operations\n')
console.log('| workload | ns/op | flushes/op | drains/op | Makalu / PMDK (DESIGN §9) |')
console.log('|---|---:|---:|---:|---|')
for (const r of rows) console.log(`| ${r.what} | ${r.ns.toFixed(1)} | ${fmt(r.flushes)} | ${fmt(r.drains)} | ${r.makalu} |`)

// ── 7. recovery after a crash: 1M live 64-B objects in a list ───────────────
{
  const n = N
  const h = Heap.createIn(new SimRegion(Math.ceil((n * 64 * 1.1) / 65536) * 65536 + 8 * 1024 * 1024))
  const u = new Uint32Array(h.bytes.buffer)
  let head = 0
  for (let i = 0; i < n; i++) {
    const p = h.alloc(64)
    u[p >>> 2] = head
    u[(p + 8) >>> 2] = i
    head = p
  }
  h.setRoot('list', head)
  const image = (h.region as SimRegion).bytes.slice() // every store survived: as after kill -9 on mmap
  const walk = median(Array.from({ length: RUNS }, () => time(() => {
    let k = 0
    for (let p = head; p !== 0; p = u[p >>> 2]) k++
    if (k !== n) throw new Error('walk')
  })))
  const listTracer = { trace(bytes: Uint8Array, ptr: number, _s: number, visit: (p: number) => void) { visit(bytes[ptr] | (bytes[ptr + 1] << 8) | (bytes[ptr + 2] << 16) | (bytes[ptr + 3] << 24) >>> 0) } }
  const recover = (precise: boolean): number => median(Array.from({ length: RUNS }, () => {
    const r = new SimRegion(image)
    const again = Heap.openIn(r, precise ? { tracer: listTracer } : {})
    if (again.recovery.liveBlocks !== n) throw new Error(`recovered ${again.recovery.liveBlocks} blocks`)
    return again.recovery.ms
  }))
  const cons = recover(false)
  const prec = recover(true)
  console.log(`\n### recovery after a crash, ${n / 1e6}M live 64-B objects in a list\n`)
  console.log('| what | ms | ratio to a bare walk |')
  console.log('|---|---:|---:|')
  console.log(`| bare walk of the list (JS limit) | ${walk.toFixed(1)} | 1.0 |`)
  console.log(`| recovery, conservative (default) | ${cons.toFixed(1)} | ${(cons / walk).toFixed(1)} |`)
  console.log(`| recovery, precise tracer | ${prec.toFixed(1)} | ${(prec / walk).toFixed(1)} |`)
  console.log('| Makalu (C), same machine kind | 24-28 | |')
}

// ── 8. clean restart of a 1 GiB heap ───────────────────────────────────────
{
  const size = QUICK ? 128 << 20 : 1 << 30
  const file = path.join(tmpdir, 'restart.heap')
  const h = Heap.create(file, { size, durability: 'process' })
  for (let i = 0; i < 100_000; i++) h.alloc(64 + (i % 7) * 16)
  h.close()
  // Each restart in a fresh process, as a real restart is (in one process, every
  // 1 GiB external buffer adds GC pressure that a real restart never sees).
  const script = `const { Heap } = require(${JSON.stringify(path.join(__dirname, '../src'))});
    const t = process.hrtime.bigint();
    const h = Heap.open(${JSON.stringify(file)}, { durability: 'process' });
    const ms = Number(process.hrtime.bigint() - t) / 1e6;
    if (!h.recovery.clean) throw new Error('not clean');
    h.close();
    console.log(ms + ' ' + h.recovery.ms);`
  const runs = Array.from({ length: RUNS + 2 }, () => execFileSync(process.execPath, ['-e', script]).toString().trim().split(' ').map(Number))
  const ms = median(runs.map((r) => r[0]))
  const inner = median(runs.map((r) => r[1]))
  fs.rmSync(file)
  console.log(`\n### clean restart of a ${size >> 20} MiB heap (100k live blocks): open, map, verify, rebuild volatile state\n`)
  console.log('| what | ms |\n|---|---:|')
  console.log(`| Heap.open, wall (open file, lock, mmap, verify, rebuild) | ${ms.toFixed(2)} |`)
  console.log(`| of which after the map (recovery.ms) | ${inner.toFixed(2)} |`)
  console.log('| Makalu / PMDK (DESIGN §9) | 0.4-0.6 / 7.7 |')
}
fs.rmSync(tmpdir, { recursive: true, force: true })
