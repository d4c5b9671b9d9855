/**
 * Single-thread churn against the JS limit, in one run (a script, not a test):
 *   node packages/allocator/dist/bench/churn-bench.js      (BENCH_QUICK=1 for a smoke run)
 *
 * Rows, each the median of 5 runs (one warm-up run first):
 *   bare     a Uint32Array stack of 64-B slot offsets: push the oldest of a window of K, pop one
 *   heap     heap.alloc(64) / heap.free(p), same window, outside transactions (mmap, 'process');
 *            one heap per workload, kept open, each run freeing what it allocated
 *   mixed    Larson-style: a live set of L blocks of random sizes 16..256; free a random one,
 *            allocate a random size in its place; against bare segregated stacks (one per
 *            16-byte size step) doing the same pushes and pops with the same random stream
 * Times are ns per alloc+free pair; ratios are to the bare row of the same workload.
 *
 * Last, the same two workloads in 1 and 2 worker_threads on one shared heap (churn-workers.ts).
 *
 * Then the 64-B pair again, both rows, after a heap was closed: closing an mmap or file region
 * detaches its ArrayBuffer, and from the first detach on V8 checks every typed-array access in
 * the process for a detached buffer (its "detaching protector" is gone), bare code included.
 */
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { Heap, loadNative, mulberry32 } from '../src'
import { workerChurn } from './churn-workers'

const QUICK = process.env.BENCH_QUICK === '1'
const N = QUICK ? 200_000 : 2_000_000
const RUNS = 5
const K = 64
const LIVE = 10_000

const median = (xs: number[]): number => xs.slice().sort((a, b) => a - b)[xs.length >> 1]
function nsPerOp<S>(s: S, run: (s: S) => void, n: number): number {
  const ns: number[] = []
  for (let i = 0; i <= RUNS; i++) {
    const t = process.hrtime.bigint()
    run(s)
    const dt = Number(process.hrtime.bigint() - t)
    if (i > 0) ns.push(dt / n) // run 0 warms up
  }
  return median(ns)
}

const tmpdir = fs.mkdtempSync(path.join(os.tmpdir(), 'makalu-churn-'))
let fileNo = 0
function heap(): Heap {
  return Heap.create(path.join(tmpdir, `h${fileNo++}.heap`), { size: 32 << 20, durability: 'process', backend: loadNative() ? 'mmap' : 'file' })
}

// ── 64 B, a window of K live blocks: free the oldest, allocate a new one ───────
function bare64(): void {
  const stack = new Uint32Array(4096 + K)
  let top = 0
  for (let i = 0; i < 4096; i++) stack[top++] = i * 64
  const ring = new Uint32Array(K)
  for (let i = 0; i < K; i++) ring[i] = stack[--top]
  for (let i = 0; i < N; i++) {
    const k = i & (K - 1)
    stack[top++] = ring[k]
    ring[k] = stack[--top]
  }
}
function heap64(h: Heap): void {
  const ring = new Uint32Array(K)
  for (let i = 0; i < K; i++) ring[i] = h.alloc(64)
  for (let i = 0; i < N; i++) {
    const k = i & (K - 1)
    h.free(ring[k])
    ring[k] = h.alloc(64)
  }
  for (let i = 0; i < K; i++) h.free(ring[i])
}

// ── Larson-style mixed sizes 16..256, random frees among LIVE blocks ──────────
// Sizes and victims come from one precomputed stream, so both rows do the same work.
const rnd = mulberry32(7)
const sizes = new Uint16Array(N + LIVE)
const victims = new Uint32Array(N)
for (let i = 0; i < sizes.length; i++) sizes[i] = 16 + Math.floor(rnd() * 241)
for (let i = 0; i < N; i++) victims[i] = Math.floor(rnd() * LIVE)

function bareMixed(): void {
  // 16 stacks (16, 32, … 256 B), each preloaded with distinct slot offsets.
  const per = LIVE + 64
  const stacks = new Uint32Array(16 * per)
  const tops = new Int32Array(16)
  for (let s = 0; s < 16; s++) {
    for (let j = 0; j < per; j++) stacks[s * per + tops[s]++] = (s * per + j) * 256
  }
  const live = new Uint32Array(LIVE)
  const liveCls = new Uint8Array(LIVE)
  for (let i = 0; i < LIVE; i++) {
    const s = (sizes[i] - 1) >>> 4
    live[i] = stacks[s * per + --tops[s]]
    liveCls[i] = s
  }
  for (let i = 0; i < N; i++) {
    const k = victims[i]
    const f = liveCls[k]
    stacks[f * per + tops[f]++] = live[k]
    const s = (sizes[LIVE + i] - 1) >>> 4
    live[k] = stacks[s * per + --tops[s]]
    liveCls[k] = s
  }
}
function heapMixed(h: Heap): void {
  const live = new Uint32Array(LIVE)
  for (let i = 0; i < LIVE; i++) live[i] = h.alloc(sizes[i])
  for (let i = 0; i < N; i++) {
    const k = victims[i]
    h.free(live[k])
    live[k] = h.alloc(sizes[LIVE + i])
  }
  for (let i = 0; i < LIVE; i++) h.free(live[i])
}
// Setting up and freeing the live set is timed alone and subtracted.
function mixedSetupHeap(h: Heap): void {
  const live = new Uint32Array(LIVE)
  for (let i = 0; i < LIVE; i++) live[i] = h.alloc(sizes[i])
  for (let i = 0; i < LIVE; i++) h.free(live[i])
}

const rows: Array<[string, number, number]> = []
const ha = heap()
const hb = heap()
const b64 = nsPerOp(null, bare64, N)
const h64 = nsPerOp(ha, heap64, N)
rows.push([`bare Uint32Array free list, 64 B, window ${K}`, b64, b64])
rows.push([`heap.alloc(64) + heap.free, window ${K}`, h64, b64])
const bm = nsPerOp(null, bareMixed, N)
const hm = nsPerOp(hb, heapMixed, N) - nsPerOp(hb, mixedSetupHeap, N)
rows.push([`bare segregated stacks, 16..256 B random, ${LIVE} live`, bm, bm])
rows.push([`heap, Larson-style 16..256 B random, ${LIVE} live`, hm, bm])
if (ha.stats().liveBlocks !== 0 || hb.stats().liveBlocks !== 0) throw new Error('churn-bench: a run left blocks allocated')
hb.close() // detaches its buffer (mmap, file)
const b64d = nsPerOp(null, bare64, N)
const h64d = nsPerOp(ha, heap64, N)
rows.push([`after a heap was closed: bare free list, 64 B`, b64d, b64d])
rows.push([`after a heap was closed: heap.alloc(64) + heap.free`, h64d, b64d])
ha.close()
fs.rmSync(tmpdir, { recursive: true, force: true })

console.log(`\n### single-thread churn (node ${process.version}; ns per alloc+free pair, median of ${RUNS}; N = ${N})\n`)
console.log('| workload | ns/pair | × bare |')
console.log('|---|---:|---:|')
for (const [what, ns, base] of rows) console.log(`| ${what} | ${ns.toFixed(1)} | ${(ns / base).toFixed(1)} |`)

workerChurn(N, RUNS).then((table) => console.log(table), (e) => { console.error(e); process.exitCode = 1 })
