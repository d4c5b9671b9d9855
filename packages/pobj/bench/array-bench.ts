/**
 * Growable array benchmarks (a script, not a test):
 *
 *   node packages/pobj/dist/bench/array-bench.js [--quick]
 *
 * - push/s of f64: 1M pushes in transactions of 1000, and one durable push per call, on an mmap
 *   heap file in 'process' durability; against a JS array. (PersistentList is in
 *   @makalu/examples, which depends on this package: its row is in
 *   packages/examples/dist/bench/array-vs-list.js, so that pobj's bench has no dependency cycle.)
 * - get/set ns per element, and what index access `a[i]` through a Proxy would cost: the
 *   Proxy's traps run on every property access, `a.get(i)` included.
 * Medians of 3 runs.
 */
import 'reflect-metadata'
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { SimRegion } from '@makalu/allocator'
import { PHeap, PArray } from '../src'

const quick = process.argv.includes('--quick')
const N = quick ? 100_000 : 1_000_000
const TX = 1000

interface Row { what: string; value: string; note: string }
const rows: Row[] = []

function median(xs: number[]): number { const s = [...xs].sort((a, b) => a - b); return s[s.length >> 1] }
function perSec(ms: number, n: number): string {
  const r = (n / ms) * 1000
  return r >= 1e6 ? `${(r / 1e6).toFixed(2)} M/s` : r >= 1e3 ? `${(r / 1e3).toFixed(1)} k/s` : `${r.toFixed(0)} /s`
}
function runs(fn: () => number): number[] { return [fn(), fn(), fn()] }

/** A fresh mmap heap file in 'process' durability, removed after `fn`. */
function withHeap<T>(fn: (heap: PHeap) => T): T {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pobj-array-bench-'))
  const heap = PHeap.create(path.join(dir, 'a.heap'), { size: 64 << 20, durability: 'process', gc: false })
  try { return fn(heap) } finally { heap.close(); fs.rmSync(dir, { recursive: true, force: true }) }
}

function benchPush(): void {
  const inTx = runs(() => withHeap((heap) => {
    const a = heap.newArray('f64', [])
    heap.setRoot('a', a)
    const t0 = performance.now()
    for (let i = 0; i < N; i += TX) heap.transaction(() => { for (let j = 0; j < TX; j++) a.push(i + j) })
    const ms = performance.now() - t0
    if (a.length !== N) throw new Error('lost pushes')
    return ms
  }))
  rows.push({ what: `PArray<f64>.push, ${N / 1e6}M in transactions of ${TX} ('process', mmap)`, value: perSec(median(inTx), N), note: `runs: ${inTx.map((m) => perSec(m, N)).join(', ')}` })
  const single = runs(() => withHeap((heap) => {
    const a = heap.newArray('f64', [])
    heap.setRoot('a', a)
    const t0 = performance.now()
    for (let i = 0; i < N; i++) a.push(i)
    return performance.now() - t0
  }))
  rows.push({ what: `PArray<f64>.push, ${N / 1e6}M, each durable on return ('process', mmap)`, value: perSec(median(single), N), note: 'two drains per push (elements, then length); free on mmap in process durability' })
  const js = runs(() => {
    const a: number[] = []
    const t0 = performance.now()
    for (let i = 0; i < N; i++) a.push(i)
    const ms = performance.now() - t0
    if (a.length !== N) throw new Error('?')
    return ms
  })
  rows.push({ what: `JS array push, ${N / 1e6}M`, value: perSec(median(js), N), note: 'volatile' })
  // Persists per push on SimRegion (what 'power' durability pays: each drain is an msync/fdatasync).
  const region = new SimRegion(8 << 20)
  const heap = PHeap.createIn(region, { gc: false })
  const a = heap.newArray('f64', [])
  heap.setRoot('a', a)
  for (let i = 0; i < 64; i++) a.push(i)
  region.resetCounters()
  const K = 10_000
  for (let i = 0; i < K; i++) a.push(i)
  const drains = region.counters.drains // the counters object is reset in place
  region.resetCounters()
  heap.transaction(() => { for (let i = 0; i < TX; i++) a.push(i) })
  rows.push({ what: 'persists per push (SimRegion)', value: `${(drains / K).toFixed(2)} drains`, note: `outside a transaction; a transaction of ${TX} pushes: ${region.counters.drains} drains in all` })
  heap.close()
}

/** get/set through the PArray methods, and what a Proxy for `a[i]` would cost on them. */
function benchAccess(): void {
  const M = quick ? 1_000_000 : 10_000_000
  const heap = PHeap.createIn(new SimRegion(16 << 20), { gc: false })
  const a = heap.newArray('f64', 1024)
  const proxied = new Proxy(a, {
    get(t, k, r) {
      if (typeof k === 'string') { const i = Number(k); if (Number.isInteger(i) && i >= 0) return t.get(i) }
      const v = Reflect.get(t, k, r)
      return typeof v === 'function' ? v.bind(t) : v
    },
  }) as PArray<number> & { [i: number]: number }
  let sink = 0
  const loop = (read: (i: number) => number): number[] => {
    read(0)
    return runs(() => { const t0 = performance.now(); let s = 0; for (let i = 0; i < M; i++) s += read(i & 1023); sink += s; return performance.now() - t0 })
  }
  const ns = (xs: number[]): string => `${((median(xs) * 1e6) / M).toFixed(1)} ns`
  const direct = loop((i) => a.get(i))
  const viaProxyGet = loop((i) => proxied.get(i))
  const viaIndex = loop((i) => proxied[i])
  const js = new Float64Array(1024)
  const plain = loop((i) => js[i])
  heap.transaction(() => {
    const w = runs(() => { const t0 = performance.now(); for (let i = 0; i < M; i++) a.set(i & 1023, i); return performance.now() - t0 })
    rows.push({ what: 'PArray<f64>.set (inside one transaction)', value: ns(w), note: '' })
  })
  rows.push({ what: 'PArray<f64>.get(i)', value: ns(direct), note: 'the length and the elements block are read from the heap at each call' })
  rows.push({ what: 'the same PArray behind a Proxy: .get(i)', value: ns(viaProxyGet), note: 'every method call goes through the get trap' })
  rows.push({ what: 'the same PArray behind a Proxy: a[i]', value: ns(viaIndex), note: 'index access through the trap' })
  rows.push({ what: 'Float64Array[i] (volatile)', value: ns(plain), note: '' })
  heap.close()
  if (sink === 42) console.log('')
}

export function main(): void {
  benchPush()
  benchAccess()
  console.log(`pobj array benchmarks (node ${process.version}, ${os.cpus().length} CPUs${quick ? ', --quick' : ''}; medians of 3)\n`)
  console.log('| what | result | notes |')
  console.log('|---|---|---|')
  for (const r of rows) console.log(`| ${r.what} | ${r.value} | ${r.note} |`)
}

if (require.main === module) main()
