/**
 * Clean opens of a big heap ([scale] item 4, "instant opens"). A script, not a test:
 *   node packages/allocator/dist/bench/open-bench.js [heapMiB] [objects]     (default 1024 1000000)
 * BENCH_QUICK=1: a 256 MiB heap with 200k objects, 3 runs.
 *
 * Builds a heap of `heapMiB` (mmap backend, durability 'process') holding `objects` live 64-B
 * blocks, closes it, then times clean opens, each in a fresh child process run with
 * --trace-gc (the restart a program does), medians of RUNS:
 *   fresh:    a bare process opens the heap, then allocates short-lived JS objects for a
 *             while (200 x 20k), as a program does after its open;
 *   live JS:  the same in a process that first builds ~150 MB of live JS objects.
 * Each child reports the open's wall time (total), the heap's own work in it
 * (`heap.recovery.ms`: everything after the region is mapped), and the full GCs
 * (Mark-Compact lines of --trace-gc) during the open and during the work after it. A child
 * that does the same work without opening gives the baseline count of full GCs. Then
 * warm opens: open + close repeated in one process, medians. Then growth, in a child with
 * ~150 MB of live JS: a heap of 64 MiB with maxSize `heapMiB` filled with 1 MiB blocks until
 * it is full (each growth adds half the heap): time in the allocations that grew it, and the
 * full GCs during the fill.
 */
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { execFileSync } from 'child_process'
import { Heap, loadNative } from '../src'

const QUICK = process.env.BENCH_QUICK === '1'
const RUNS = QUICK ? 3 : 7
const median = (xs: number[]): number => xs.slice().sort((a, b) => a - b)[xs.length >> 1]
const ms = (t: bigint): number => Number(process.hrtime.bigint() - t) / 1e6
const mark = (what: string): void => { fs.writeSync(1, `@@ ${what}\n`) }

interface ChildResult { openMs: number; heapMs: number; liveJsMB: number; grows?: number; gcOpen: number; gcAfter: number; gcBefore: number }

/** The child: [file, liveJsMB, open(1)/baseline(0)]. Prints `@@` markers between --trace-gc lines, then RESULT json. */
function child(file: string, liveMB: number, open: boolean): void {
  const keep: unknown[] = []
  // ~150 bytes per entry: an object with a number, a short string and a one-element array.
  for (let i = 0; i < liveMB * 6_300; i++) keep.push({ a: i, b: 'k' + i, c: [i] })
  ;(globalThis as Record<string, unknown>).keep = keep
  const liveJsMB = process.memoryUsage().heapUsed / 1e6
  mark('open-start')
  let openMs = 0
  let heapMs = 0
  let h: Heap | null = null
  if (open) {
    const t = process.hrtime.bigint()
    h = Heap.open(file, { durability: 'process', backend: 'mmap' })
    openMs = ms(t)
    heapMs = h.recovery.ms
    if (!h.recovery.clean) throw new Error('not a clean open: ' + JSON.stringify(h.recovery))
  }
  mark('open-end')
  let sink = 0
  for (let b = 0; b < 200; b++) {
    const batch: { x: number }[] = []
    for (let i = 0; i < 20_000; i++) batch.push({ x: i })
    sink += batch.length
  }
  mark('work-end')
  h?.close()
  fs.writeSync(1, `RESULT ${JSON.stringify({ openMs, heapMs, liveJsMB, sink })}\n`)
}

/** The growth child: [file, liveJsMB, maxMiB]. */
function growChild(file: string, liveMB: number, maxMiB: number): void {
  const keep: unknown[] = []
  for (let i = 0; i < liveMB * 6_300; i++) keep.push({ a: i, b: 'k' + i, c: [i] })
  ;(globalThis as Record<string, unknown>).keep = keep
  const h = Heap.create(file, { size: 64 << 20, maxSize: maxMiB << 20, durability: 'process', backend: 'mmap' })
  let grows = 0
  h.onGrow(() => grows++)
  let growMs = 0
  mark('open-start')
  const t0 = process.hrtime.bigint()
  for (;;) {
    const before = grows
    const t = process.hrtime.bigint()
    try { h.bytes[h.alloc(1 << 20)] = 1 } catch { break } // HeapFullError: full
    if (grows !== before) growMs += ms(t)
  }
  const totalMs = ms(t0)
  mark('open-end')
  const size = h.region.size
  h.close()
  fs.writeSync(1, `RESULT ${JSON.stringify({ openMs: totalMs, heapMs: growMs, liveJsMB: process.memoryUsage().heapUsed / 1e6, grows, size })}\n`)
}

function runChild(file: string, liveMB: number, open: boolean): ChildResult {
  return parseChild(execFileSync(process.execPath, ['--trace-gc', __filename, 'child', file, String(liveMB), open ? '1' : '0'],
    { maxBuffer: 64 << 20 }).toString())
}

function parseChild(out: string): ChildResult {
  let phase = 'before'
  const gcs: Record<string, number> = { before: 0, open: 0, after: 0 }
  let result: Omit<ChildResult, 'gcOpen' | 'gcAfter' | 'gcBefore'> | null = null
  for (const line of out.split('\n')) {
    if (line === '@@ open-start') phase = 'open'
    else if (line === '@@ open-end') phase = 'after'
    else if (line === '@@ work-end') phase = 'end'
    else if (line.startsWith('RESULT ')) result = JSON.parse(line.slice(7))
    else if (/Mark-Compact/.test(line) && phase in gcs) gcs[phase]++
  }
  if (!result) throw new Error('child printed no result:\n' + out.slice(-2000))
  return { ...result, gcOpen: gcs.open, gcAfter: gcs.after, gcBefore: gcs.before }
}

function main(): void {
  if (!loadNative()) { console.log('open-bench: the mmap addon is not built; nothing to measure'); return }
  const heapMiB = Number(process.argv[2] ?? (QUICK ? 256 : 1024))
  const objects = Number(process.argv[3] ?? (QUICK ? 200_000 : 1_000_000))
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'makalu-open-'))
  const file = path.join(dir, 'open.heap')
  try {
    const h = Heap.create(file, { size: heapMiB * 1024 * 1024, durability: 'process', backend: 'mmap' })
    for (let i = 0; i < objects; i++) h.alloc(64)
    h.close()
    console.log(`# open-bench: ${heapMiB} MiB heap, ${objects} live 64-B blocks, mmap, node ${process.version}, medians of ${RUNS} fresh processes`)
    for (const liveMB of [0, 150]) {
      const runs = Array.from({ length: RUNS }, () => runChild(file, liveMB, true))
      const base = Array.from({ length: RUNS }, () => runChild(file, liveMB, false))
      const sum = (xs: number[]): string => xs.join(',')
      console.log(`${liveMB ? `live JS ${median(runs.map((r) => r.liveJsMB)).toFixed(0)} MB` : 'fresh process'}: ` +
        `open ${median(runs.map((r) => r.openMs)).toFixed(2)} ms total, heap work ${median(runs.map((r) => r.heapMs)).toFixed(2)} ms; ` +
        `full GCs during the open [${sum(runs.map((r) => r.gcOpen))}], during the work after it [${sum(runs.map((r) => r.gcAfter))}]` +
        `; the same work without an open: [${sum(base.map((r) => r.gcAfter))}]`)
    }
    const warm: number[] = []
    const warmHeap: number[] = []
    for (let i = 0; i < RUNS + 2; i++) {
      const t = process.hrtime.bigint()
      const h2 = Heap.open(file, { durability: 'process', backend: 'mmap' })
      const total = ms(t)
      if (i >= 2) { warm.push(total); warmHeap.push(h2.recovery.ms) }
      h2.close()
    }
    console.log(`warm (one process, open + close repeated): open ${median(warm).toFixed(2)} ms total, heap work ${median(warmHeap).toFixed(2)} ms`)
    const grown = Array.from({ length: RUNS }, (_, i) => {
      const f = path.join(dir, `grow${i}.heap`)
      const r = parseChild(execFileSync(process.execPath, ['--trace-gc', __filename, 'grow', f, '150', String(heapMiB)],
        { maxBuffer: 64 << 20 }).toString())
      fs.rmSync(f, { force: true })
      return r
    })
    console.log(`growth 64 MiB -> ${heapMiB} MiB (1 MiB blocks, live JS ${median(grown.map((r) => r.liveJsMB)).toFixed(0)} MB, ${grown[0].grows} grows): fill ` +
      `${median(grown.map((r) => r.openMs)).toFixed(1)} ms, in the allocations that grew ${median(grown.map((r) => r.heapMs)).toFixed(2)} ms; ` +
      `full GCs during the fill [${grown.map((r) => r.gcOpen).join(',')}]`)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

if (process.argv[2] === 'child') child(process.argv[3], Number(process.argv[4]), process.argv[5] === '1')
else if (process.argv[2] === 'grow') growChild(process.argv[3], Number(process.argv[4]), Number(process.argv[5]))
else main()
