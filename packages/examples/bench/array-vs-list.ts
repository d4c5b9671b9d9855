/**
 * push/s of numbers: pobj's growable PArray<f64> against PersistentList<number> (and a JS
 * array), 1M pushes in transactions of 1000 and one durable push per call, on an mmap heap
 * file in 'process' durability. Here rather than in pobj's bench because this package
 * depends on pobj (pobj's bench importing it would be a cycle). Medians of 3 runs.
 *   node packages/examples/dist/bench/array-vs-list.js [--quick]
 */
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { PHeap } from '@makalu/pobj'
import { PersistentList } from '../src'

const quick = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1'
const N = quick ? 100_000 : 1_000_000
const TX = 1000

function median(xs: number[]): number { const s = [...xs].sort((a, b) => a - b); return s[s.length >> 1] }
function rate(ms: number): string { const r = (N / ms) * 1000; return r >= 1e6 ? `${(r / 1e6).toFixed(2)} M/s` : `${(r / 1e3).toFixed(1)} k/s` }

function withHeap(fn: (heap: PHeap) => number): number {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'array-vs-list-'))
  const heap = PHeap.create(path.join(dir, 'h.heap'), { size: 128 << 20, durability: 'process', gc: false })
  try { return fn(heap) } finally { heap.close(); fs.rmSync(dir, { recursive: true, force: true }) }
}

type Push = { push(...xs: number[]): number; readonly length: number }
const subjects: Array<[string, (heap: PHeap) => Push]> = [
  ['PArray<f64> (pobj)', (heap) => { const a = heap.newArray('f64', []); heap.setRoot('a', a); return a }],
  ['PersistentList<number> (examples)', (heap) => PersistentList.open<number>(heap, 'l')],
]

const rows: string[] = []
for (const [name, make] of subjects) {
  for (const inTx of [true, false]) {
    const ms = [0, 1, 2].map(() => withHeap((heap) => {
      const a = make(heap)
      const t0 = performance.now()
      if (inTx) for (let i = 0; i < N; i += TX) heap.transaction(() => { for (let j = 0; j < TX; j++) a.push(i + j) })
      else for (let i = 0; i < N; i++) a.push(i)
      const t = performance.now() - t0
      if (a.length !== N) throw new Error(`${name}: ${a.length} elements, not ${N}`)
      return t
    }))
    rows.push(`| ${name}.push, ${inTx ? `transactions of ${TX}` : 'each durable on return'} | ${rate(median(ms))} | ${ms.map(rate).join(', ')} |`)
  }
}
const js = [0, 1, 2].map(() => { const a: number[] = []; const t0 = performance.now(); for (let i = 0; i < N; i++) a.push(i); return performance.now() - t0 })
rows.push(`| JS array push | ${rate(median(js))} | volatile |`)
console.log(`push/s, ${N / 1e6}M numbers, mmap heap file, 'process' durability (node ${process.version}, ${os.cpus().length} CPUs; medians of 3)\n`)
console.log('| what | median | runs |')
console.log('|---|---|---|')
for (const r of rows) console.log(r)
