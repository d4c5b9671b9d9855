/**
 * What a heap over 4 GiB costs per access (a script, not a test):
 *   node packages/allocator/dist/bench/segment-bench.js      (BENCH_QUICK=1 for a smoke run)
 *
 * Two mmap heaps ('process'): `narrow` of 64 MiB (one segment), and `wide` (maxSize 8 GiB) whose
 * segment 0 is filled with large objects that touch no page, so that its blocks lie in segment 1
 * (past 4 GiB). In each, BLOCKS blocks of 64 B; then, each the median of 5 runs after a warm-up:
 *   read    sum of one 4-byte word of a random block, ACCESSES times
 *   write   store one 4-byte word into a random block, ACCESSES times
 *   churn   heap.alloc(64) / heap.free(p), a window of 64 live blocks (churn-bench's 64-B row)
 * Access paths (ns per access):
 *   one view     `u32[p >>> 2]` over heap.bytes: what a heap of one segment allows
 *   segments     `segs[(p / 2 ** 32) | 0][p >>> 2]`: the view chosen per access
 *   per block    the view chosen once per block, then 4 words read through it
 * The file of the wide heap is ~6 GiB (fallocated, sparse in use) and is deleted at the end.
 */
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { Heap, loadNative, mulberry32 } from '../src'

const QUICK = process.env.BENCH_QUICK === '1'
const BLOCKS = 100_000
const ACCESSES = QUICK ? 500_000 : 4_000_000
const CHURN = QUICK ? 200_000 : 2_000_000
const RUNS = 5
const SEG = 2 ** 32
const GiB = 2 ** 30

const median = (xs: number[]): number => xs.slice().sort((a, b) => a - b)[xs.length >> 1]
function nsPer(run: () => void, n: number): number {
  const ns: number[] = []
  for (let i = 0; i <= RUNS; i++) {
    const t = process.hrtime.bigint()
    run()
    if (i > 0) ns.push(Number(process.hrtime.bigint() - t) / n) // run 0 warms up
  }
  return median(ns)
}

if (!loadNative()) {
  console.log('segment-bench: the native addon is not built; heaps over 4 GiB need mmap. Skipped.')
  process.exit(0)
}
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'makalu-segment-'))
let sink = 0

function setUp(wide: boolean): { heap: Heap; blocks: Float64Array; order: Uint32Array } {
  const heap = wide
    ? Heap.create(path.join(dir, 'wide.heap'), { size: GiB, maxSize: 8 * GiB, durability: 'process', backend: 'mmap' })
    : Heap.create(path.join(dir, 'narrow.heap'), { size: 64 << 20, durability: 'process', backend: 'mmap' })
  if (wide) {
    // Segment 0 filled with large objects (fresh chunks: no page touched).
    let next = -1
    for (;;) {
      const size = next < 0 ? GiB : Math.min(GiB, SEG - next)
      if (size <= 0) break
      next = heap.alloc(size) + size
    }
  }
  const blocks = new Float64Array(BLOCKS)
  for (let i = 0; i < BLOCKS; i++) blocks[i] = heap.alloc(64)
  if (wide && blocks[0] < SEG) throw new Error('segment-bench: the wide heap\'s blocks are not past 4 GiB')
  const rnd = mulberry32(11)
  const order = new Uint32Array(ACCESSES)
  for (let i = 0; i < ACCESSES; i++) order[i] = Math.floor(rnd() * BLOCKS)
  return { heap, blocks, order }
}

function readOneView(u: Uint32Array, blocks: Float64Array, order: Uint32Array): void {
  let s = 0
  for (let i = 0; i < order.length; i++) s += u[(blocks[order[i]] >>> 2) + 2]
  sink += s
}
function readSegments(segs: Uint32Array[], blocks: Float64Array, order: Uint32Array): void {
  let s = 0
  for (let i = 0; i < order.length; i++) {
    const p = blocks[order[i]]
    s += segs[(p / 4294967296) | 0][(p >>> 2) + 2]
  }
  sink += s
}
function readPerBlock(segs: Uint32Array[], blocks: Float64Array, order: Uint32Array): void {
  let s = 0
  for (let i = 0; i < order.length; i += 4) {
    const p = blocks[order[i]]
    const u = segs[(p / 4294967296) | 0]
    const w = p >>> 2
    s += u[w] + u[w + 1] + u[w + 2] + u[w + 3]
  }
  sink += s
}
function readPerBlockOneView(u: Uint32Array, blocks: Float64Array, order: Uint32Array): void {
  let s = 0
  for (let i = 0; i < order.length; i += 4) {
    const w = blocks[order[i]] >>> 2
    s += u[w] + u[w + 1] + u[w + 2] + u[w + 3]
  }
  sink += s
}
function writeOneView(u: Uint32Array, blocks: Float64Array, order: Uint32Array): void {
  for (let i = 0; i < order.length; i++) u[(blocks[order[i]] >>> 2) + 3] = i
}
function writeSegments(segs: Uint32Array[], blocks: Float64Array, order: Uint32Array): void {
  for (let i = 0; i < order.length; i++) {
    const p = blocks[order[i]]
    segs[(p / 4294967296) | 0][(p >>> 2) + 3] = i
  }
}
function churn(h: Heap): void {
  const ring = new Float64Array(64)
  for (let i = 0; i < 64; i++) ring[i] = h.alloc(64)
  for (let i = 0; i < CHURN; i++) {
    const k = i & 63
    h.free(ring[k])
    ring[k] = h.alloc(64)
  }
  for (let i = 0; i < 64; i++) h.free(ring[i])
}

const rows: Array<[string, number, number]> = []
try {
  const n = setUp(false)
  const w = setUp(true)
  const views = (h: Heap): Uint32Array[] => h.segments.map((b) => new Uint32Array(b.buffer, b.byteOffset, b.length / 4))
  const nSegs = views(n.heap)
  const wSegs = views(w.heap)
  const per = ACCESSES / 4
  rows.push(['read, one view (narrow heap)', nsPer(() => readOneView(nSegs[0], n.blocks, n.order), ACCESSES), NaN])
  rows.push(['read, segments (narrow heap: 1 segment)', nsPer(() => readSegments(nSegs, n.blocks, n.order), ACCESSES), NaN])
  rows.push(['read, segments (wide heap, blocks in segment 1)', nsPer(() => readSegments(wSegs, w.blocks, w.order), ACCESSES), NaN])
  rows.push(['read 4 words per block, one view (narrow)', nsPer(() => readPerBlockOneView(nSegs[0], n.blocks, n.order), per), NaN])
  rows.push(['read 4 words per block, view per block (wide, segment 1)', nsPer(() => readPerBlock(wSegs, w.blocks, w.order), per), NaN])
  rows.push(['write, one view (narrow heap)', nsPer(() => writeOneView(nSegs[0], n.blocks, n.order), ACCESSES), NaN])
  rows.push(['write, segments (wide heap, blocks in segment 1)', nsPer(() => writeSegments(wSegs, w.blocks, w.order), ACCESSES), NaN])
  rows.push(['churn alloc(64)+free, narrow heap', nsPer(() => churn(n.heap), CHURN), NaN])
  rows.push(['churn alloc(64)+free, wide heap (blocks past 4 GiB)', nsPer(() => churn(w.heap), CHURN), NaN])
  if (w.heap.alloc(64) < SEG) throw new Error('segment-bench: churn left segment 1')
  n.heap.close()
  w.heap.close()
} finally {
  fs.rmSync(dir, { recursive: true, force: true })
}
const base = new Map([[0, rows[0][1]], [5, rows[5][1]], [7, rows[7][1]]])
console.log(`\n### segment access (node ${process.version}; ns per access or per pair, median of ${RUNS}; ${ACCESSES} accesses over ${BLOCKS} blocks)\n`)
console.log('| path | ns | × one view / narrow |')
console.log('|---|---:|---:|')
rows.forEach(([name, ns], i) => {
  const ref = i < 3 ? base.get(0)! : i < 5 ? rows[3][1] : i < 7 ? base.get(5)! : base.get(7)!
  console.log(`| ${name} | ${ns.toFixed(2)} | ${(ns / ref).toFixed(2)} |`)
})
if (sink === 0.5) console.log(sink)
