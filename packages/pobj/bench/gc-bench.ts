/**
 * Online collection benchmark (a script, not a test): node --expose-gc dist/bench/gc-bench.js [--quick]
 *
 * 1M live 64-byte objects in a linked list under a root, on an mmap heap file:
 * - heap.gc() (precise, from the type table), nothing to free, and with 1 in 4 objects garbage;
 * - the crash-recovery mark+sweep of the same heap (a copy of the file taken while it is open,
 *   opened: it is dirty, so it is traced);
 * - V8's own full collection (global.gc()) over the same graph of plain JS objects.
 * Medians of 5 runs (3 quick); ratios from the same run.
 */
import 'reflect-metadata'
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { Persistent, field, PHeap } from '../src'

@Persistent('bench.GcNode')
export class GcNode {
  @field.ref(() => GcNode) next!: GcNode | null
  @field.f64 a!: number
  @field.f64 b!: number
  @field.f64 c!: number
  @field.f64 d!: number
  @field.f64 e!: number
  @field.f64 f!: number
}

const quick = process.argv.includes('--quick')
const N = quick ? 100_000 : 1_000_000
const RUNS = quick ? 3 : 5
const gcNow = (global as { gc?: () => void }).gc
if (!gcNow) throw new Error('gc-bench: run with node --expose-gc')
const median = (xs: number[]): number => { const s = [...xs].sort((x, y) => x - y); return s[Math.floor(s.length / 2)] }
const tick = (): Promise<void> => new Promise((r) => setImmediate(r))

/** Builds the list in transactions of 10k; returns nothing that holds a handle. */
function build(heap: PHeap, n: number, garbageEvery: number): void {
  const B = 10_000
  for (let done = 0; done < n; done += B) {
    heap.transaction(() => {
      let head = heap.root('list', GcNode)
      for (let i = done; i < done + B && i < n; i++) {
        const node = heap.new(GcNode, { next: head, a: i, b: 1, c: 2, d: 3, e: 4, f: 5 })
        if (garbageEvery > 0 && i % garbageEvery === 0) continue // never linked: garbage
        head = node
      }
      heap.setRoot('list', head)
    })
  }
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pobj-gc-bench-'))
  const file = path.join(dir, 'gc.heap')
  try {
    const heap = PHeap.create(file, { size: Math.max(256 << 20, N * 160), durability: 'process', types: [GcNode], gc: false })
    build(heap, N, 0)
    await tick(); gcNow!(); await tick()
    const s = heap.stats()
    const blockSize = s.used / s.liveBlocks
    const gcMs: number[] = []
    let marked = 0
    for (let r = 0; r < RUNS + 1; r++) {
      const rep = heap.gc()
      if (r > 0) gcMs.push(rep.ms) // the first also drops the dead WeakRefs of the build
      marked = rep.markedBlocks
      await tick()
    }
    // Recovery of the same heap: a copy taken while open is a crash image.
    const recMs: number[] = []
    for (let r = 0; r < RUNS; r++) {
      const copy = path.join(dir, `crash-${r}.heap`)
      fs.copyFileSync(file, copy)
      const again = PHeap.open(copy, { types: [GcNode], gc: false })
      if (again.recovery.clean) throw new Error('gc-bench: the copy was clean; it must be a crash image')
      recMs.push(again.recovery.ms)
      again.close()
      fs.rmSync(copy)
    }
    // With garbage: 1 in 4 of N new objects unlinked.
    const garbageMs: number[] = []
    let freed = 0
    for (let r = 0; r < RUNS; r++) {
      heap.setRoot('list', null)
      heap.gc({ fromHandles: false })
      build(heap, N, 4)
      await tick(); gcNow!(); await tick()
      const rep = heap.gc()
      garbageMs.push(rep.ms)
      freed = rep.freedBlocks
    }
    heap.close()

    // V8: the same graph as plain objects.
    type JsNode = { next: JsNode | null; a: number; b: number; c: number; d: number; e: number; f: number }
    let head: JsNode | null = null
    for (let i = 0; i < N; i++) head = { next: head, a: i, b: 1, c: 2, d: 3, e: 4, f: 5 }
    const v8Ms: number[] = []
    for (let r = 0; r < RUNS; r++) { const t0 = performance.now(); gcNow!(); v8Ms.push(performance.now() - t0) }
    if (head === null) console.log('') // the graph is alive up to here
    head = null
    const v8Empty: number[] = []
    for (let r = 0; r < RUNS; r++) { const t0 = performance.now(); gcNow!(); v8Empty.push(performance.now() - t0) }

    const g = median(gcMs), rec = median(recMs), v8 = median(v8Ms)
    console.log(`\nonline collection, ${N / 1e6}M live objects of ${blockSize.toFixed(0)} B in a list (mmap heap, 'process'); medians of ${RUNS}`)
    console.log('| what | ms | note |\n|---|--:|---|')
    console.log(`| heap.gc(), nothing to free | ${g.toFixed(1)} | ${marked} blocks marked; ${(g / rec).toFixed(2)}× the recovery mark+sweep, ${(g / v8).toFixed(2)}× V8's full GC |`)
    console.log(`| heap.gc(), 1 in 4 of the objects garbage | ${median(garbageMs).toFixed(1)} | ${freed} blocks freed |`)
    console.log(`| recovery after a crash (open of a dirty copy) | ${rec.toFixed(1)} | mark+sweep with the pobj tracer, whole open |`)
    console.log(`| V8 global.gc(), same graph as plain JS objects | ${v8.toFixed(1)} | full mark-compact; ${median(v8Empty).toFixed(1)} ms with the graph dropped |`)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

main().catch((e) => { console.error(e); process.exit(1) })
