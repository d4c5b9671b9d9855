/**
 * PersistentMap / PersistentList micro-benchmarks: persists per operation on SimRegion
 * (flushes and drains: the cost model of 'power' durability) and op rates on an mmap heap
 * in 'process' durability. The peer comparison is bench/peers.js at the repository root.
 *   node packages/examples/dist/bench/run.js      (N = BENCH_N or 200 000)
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { SimRegion } from '@makalu/allocator'
import { PHeap, Persistent, field } from '@makalu/pobj'
import { PersistentMap, PersistentList } from '../src'

@Persistent('bench.Payload')
class Payload {
  @field() text!: string
}

const N = Number(process.env.BENCH_N || (process.env.BENCH_QUICK === '1' ? 20000 : 200000))
const key = (i: number): string => 'key-' + ((i * 2654435761) >>> 0).toString(16).padStart(8, '0') + '-x'
const value = (i: number): string => 'v'.repeat(48) + String(i).padStart(16, '0')

function persists(): void {
  const region = new SimRegion(64 << 20)
  const heap = PHeap.createIn(region, {})
  const m = PersistentMap.open<string, string>(heap, 'm')
  const l = PersistentList.open<string>(heap, 'l')
  const n = 2000
  for (let i = 0; i < n; i++) m.set(key(i), value(i)) // warm: table grown
  const rows: Array<[string, () => void]> = [
    ['map.set (update)', () => { for (let i = 0; i < n; i++) m.set(key(i), value(i + 1)) }],
    ['map.set (insert)', () => { for (let i = n; i < 2 * n; i++) m.set(key(i), value(i)) }],
    ['map.get', () => { for (let i = 0; i < n; i++) m.get(key(i)) }],
    ['map.delete', () => { for (let i = n; i < 2 * n; i++) m.delete(key(i)) }],
    ['tx of 100 map.set', () => { for (let g = 0; g < n; g += 100) heap.transaction(() => { for (let i = g; i < g + 100; i++) m.set(key(i), value(i)) }) }],
    ['list.push', () => { for (let i = 0; i < n; i++) l.push(value(i)) }],
    ['list.set', () => { for (let i = 0; i < n; i++) l.set(i, value(i)) }],
    ['list.pop', () => { for (let i = 0; i < n; i++) l.pop() }],
  ]
  console.log(`persists per operation (SimRegion, ${n} ops each; a tx row is per put)`)
  console.log('| operation | drains/op | flushes/op | flushed bytes/op |\n|---|--:|--:|--:|')
  for (const [name, fn] of rows) {
    region.resetCounters()
    fn()
    const c = region.counters
    console.log(`| ${name} | ${(c.drains / n).toFixed(2)} | ${(c.flushes / n).toFixed(2)} | ${(c.flushedBytes / n).toFixed(0)} |`)
  }
  heap.close()
}

function rates(): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pmap-bench-'))
  const heap = PHeap.create(path.join(dir, 'h.heap'), { size: 64 << 20, maxSize: 2 ** 32 - 4096, durability: 'process' })
  const m = PersistentMap.open<string, string>(heap, 'm')
  const keys = Array.from({ length: N }, (_, i) => key(i))
  const vals = Array.from({ length: N }, (_, i) => value(i))
  const time = (name: string, fn: () => void): void => {
    const t = performance.now()
    fn()
    const s = (performance.now() - t) / 1000
    console.log(`| ${name} | ${(N / s / 1000).toFixed(0)} k/s |`)
  }
  console.log(`\nrates, mmap heap, 'process' durability, N = ${N}\n| operation | rate |\n|---|--:|`)
  time('map.set, new keys, each atomic', () => { for (let i = 0; i < N; i++) m.set(keys[i], vals[i]) })
  time('map.set, updates, each atomic', () => { for (let i = 0; i < N; i++) m.set(keys[i], vals[(i + 1) % N]) })
  time('map.get, random order', () => { for (let i = 0; i < N; i++) m.get(keys[(i * 7919) % N]) })
  time('map.delete', () => { for (let i = 0; i < N; i++) m.delete(keys[i]) })
  heap.close()
  fs.rmSync(dir, { recursive: true, force: true })
}

/** heap.gc() over a map of N entries (string keys, string values): against the crash-recovery mark of the same heap. */
function collection(): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pmap-gc-bench-'))
  const file = path.join(dir, 'h.heap')
  const heap = PHeap.create(file, { size: 64 << 20, maxSize: 2 ** 32 - 4096, durability: 'process', gc: false })
  const m = PersistentMap.open<string, string>(heap, 'm')
  heap.transaction(() => { for (let i = 0; i < N; i++) m.set(key(i), value(i)) })
  const median = (xs: number[]): number => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]
  const gcMs: number[] = []
  let marked = 0
  for (let r = 0; r < 5; r++) { const g = heap.gc(); gcMs.push(g.ms); marked = g.markedBlocks }
  const recMs: number[] = []
  for (let r = 0; r < 3; r++) {
    const copy = path.join(dir, `crash-${r}.heap`)
    fs.copyFileSync(file, copy) // taken while open: a crash image
    const again = PHeap.open(copy, { gc: false })
    recMs.push(again.recovery.ms)
    again.close()
    fs.rmSync(copy)
  }
  heap.close()
  fs.rmSync(dir, { recursive: true, force: true })
  const g = median(gcMs), rec = median(recMs)
  console.log(`
heap.gc() over a PersistentMap of N = ${N} (mmap, 'process'); medians`)
  console.log('| what | ms | note |\n|---|--:|---|')
  console.log(`| heap.gc() | ${g.toFixed(1)} | ${marked} blocks marked (one record per entry, the slot array, the header); ${(g / rec).toFixed(2)}× the recovery |`)
  console.log(`| recovery after a crash (open of a dirty copy) | ${rec.toFixed(1)} | whole open |`)
}

/** The cost of automatic collection: puts of string values and of object values, each atomic, gc on and off. */
function autoGcCost(): void {
  console.log(`\nautomatic collection on map puts (mmap, 'process', N = ${N}); the same run\n| workload | gc: default | gc: false |\n|---|--:|--:|`)
  for (const objects of [false, true]) {
    const rate: Record<string, string> = {}
    for (const gc of [undefined, false] as const) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pmap-autogc-'))
      const heap = PHeap.create(path.join(dir, 'h.heap'), { size: 64 << 20, maxSize: 2 ** 32 - 4096, durability: 'process', types: [Payload], gc })
      const m = PersistentMap.open<string, string | Payload>(heap, 'm')
      const t = performance.now()
      // Each key is written 4 times: three of every four values become garbage.
      for (let i = 0; i < N; i++) {
        const k = key(i % (N / 4))
        m.set(k, objects ? heap.new(Payload, { text: value(i) }) : value(i))
      }
      const s = (performance.now() - t) / 1000
      rate[String(gc)] = `${(N / s / 1000).toFixed(0)} k/s (${heap.stats().gc.collections} gcs, ${(heap.stats().used / 2 ** 20).toFixed(0)} MiB used)`
      heap.close()
      fs.rmSync(dir, { recursive: true, force: true })
    }
    console.log(`| map.set of ${objects ? '@Persistent object values (heap.new each)' : 'string values'} | ${rate.undefined} | ${rate.false} |`)
  }
}

persists()
rates()
collection()
autoGcCost()
