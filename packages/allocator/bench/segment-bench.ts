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
import { execFileSync } from 'child_process'
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

/**
 * One heap kind per process (`narrow` or `wide`): the allocator's fast path is then monomorphic,
 * as in a program that uses one kind (a process using both sees both array types at the same
 * sites: ~20 % slower churn in either). Prints its rows as JSON.
 */
function measure(kind: 'narrow' | 'wide'): Record<string, number> {
  const out: Record<string, number> = {}
  try {
    const h = setUp(kind === 'wide')
    const segs = h.heap.segments.map((b) => new Uint32Array(b.buffer, b.byteOffset, b.length / 4))
    if (kind === 'narrow') {
      out.readOne = nsPer(() => readOneView(segs[0], h.blocks, h.order), ACCESSES)
      out.read4One = nsPer(() => readPerBlockOneView(segs[0], h.blocks, h.order), ACCESSES / 4)
      out.writeOne = nsPer(() => writeOneView(segs[0], h.blocks, h.order), ACCESSES)
    }
    out.readSegs = nsPer(() => readSegments(segs, h.blocks, h.order), ACCESSES)
    out.read4Segs = nsPer(() => readPerBlock(segs, h.blocks, h.order), ACCESSES / 4)
    out.writeSegs = nsPer(() => writeSegments(segs, h.blocks, h.order), ACCESSES)
    out.churn = nsPer(() => churn(h.heap), CHURN)
    if (kind === 'wide' && h.heap.alloc(64) < SEG) throw new Error('segment-bench: churn left segment 1')
    h.heap.close()
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
  return out
}

const kind = process.argv[2]
if (kind === 'narrow' || kind === 'wide') {
  console.log(JSON.stringify(measure(kind)))
} else {
  fs.rmSync(dir, { recursive: true, force: true })
  const run = (k: string): Record<string, number> =>
    JSON.parse(execFileSync(process.execPath, [__filename, k], { encoding: 'utf8' }).trim().split('\n').pop()!) as Record<string, number>
  const n = run('narrow')
  const w = run('wide')
  const rows: Array<[string, number, number]> = [
    ['read a word, one view (narrow heap)', n.readOne, n.readOne],
    ['read a word, segment array (narrow heap: 1 segment)', n.readSegs, n.readOne],
    ['read a word, segment array (wide heap, blocks in segment 1)', w.readSegs, n.readOne],
    ['read 4 words of a block, one view (narrow)', n.read4One, n.read4One],
    ['read 4 words of a block, view chosen per block (wide, segment 1)', w.read4Segs, n.read4One],
    ['write a word, one view (narrow heap)', n.writeOne, n.writeOne],
    ['write a word, segment array (wide heap, segment 1)', w.writeSegs, n.writeOne],
    ['churn alloc(64)+free, narrow heap', n.churn, n.churn],
    ['churn alloc(64)+free, wide heap (blocks past 4 GiB)', w.churn, n.churn],
  ]
  console.log(`\n### segment access (node ${process.version}; ns per access, per block or per pair; median of ${RUNS}; ` +
    `${ACCESSES} accesses over ${BLOCKS} blocks; each heap kind in its own process)\n`)
  console.log('| path | ns | × narrow, one view |')
  console.log('|---|---:|---:|')
  for (const [name, ns, ref] of rows) console.log(`| ${name} | ${ns.toFixed(2)} | ${(ns / ref).toFixed(2)} |`)
}
if (sink === 0.5) console.log(sink)
