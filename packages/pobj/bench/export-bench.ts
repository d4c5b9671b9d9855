/**
 * Whole-heap export and import benchmark (a script, not a test): node dist/bench/export-bench.js [--quick]
 *
 * 1M small objects (a linked list of 24-byte objects: an i32, an f64, a ref; plus, in a second
 * run, a short string each) on mmap heap files:
 * - exportHeap to an NDJSON file (objects/s, file bytes, JS heap growth);
 * - importHeap of that file into a new heap with the classes, and with types: 'from-export'.
 * Medians of 3 runs (1 quick).
 */
import 'reflect-metadata'
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { Persistent, field, PHeap, exportHeap, importHeap } from '../src'

@Persistent('bench.Small')
export class Small {
  @field.i32 a!: number
  @field.f64 b!: number
  @field.ref(() => Small) next!: Small | null
}
@Persistent('bench.Labelled')
export class Labelled {
  @field.i32 a!: number
  @field() label!: string
  @field.ref(() => Labelled) next!: Labelled | null
}

const quick = process.argv.includes('--quick')
const N = quick ? 100_000 : 1_000_000
const RUNS = quick ? 1 : 3
const median = (xs: number[]): number => { const s = [...xs].sort((x, y) => x - y); return s[Math.floor(s.length / 2)] }
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'export-bench-'))
const f = (n: string): string => path.join(dir, n)
const SIZE = 256 << 20

function build(file: string, labelled: boolean): void {
  const heap = PHeap.create(file, { size: SIZE, types: [Small, Labelled], gc: false })
  let prev: Small | Labelled | null = null
  for (let i = 0; i < N; i++) {
    prev = labelled ? heap.new(Labelled, { a: i, label: `n${i}`, next: prev as Labelled }) : heap.new(Small, { a: i, b: i / 3, next: prev as Small })
  }
  heap.setRoot('list', prev)
  heap.close()
}

try {
  for (const labelled of [false, true]) {
    const what = labelled ? 'Labelled (i32, string, ref)' : 'Small (i32, f64, ref)'
    const src = f(`src-${labelled}.heap`)
    build(src, labelled)
    const ex: number[] = []
    const im: number[] = []
    const raw: number[] = []
    let bytes = 0
    for (let r = 0; r < RUNS; r++) {
      const out = f(`x-${labelled}-${r}.ndjson`)
      const h = PHeap.open(src, { readOnly: true, types: [], gc: false })
      const x = exportHeap(h, out)
      h.close()
      if (x.objects !== N) throw new Error(`exported ${x.objects}`)
      ex.push(x.ms); bytes = x.bytes
      for (const [list, types] of [[im, [Small, Labelled]], [raw, 'from-export']] as const) {
        const dst = f(`dst-${labelled}-${r}-${list === im}.heap`)
        const d = PHeap.create(dst, { size: SIZE, types: [], gc: false })
        const t0 = performance.now()
        importHeap(d, out, { types: types as never })
        list.push(performance.now() - t0)
        d.close()
        fs.rmSync(dst)
      }
      fs.rmSync(out)
    }
    const rate = (ms: number): string => `${(N / ms * 1000 / 1e6).toFixed(2)} M objects/s (${ms.toFixed(0)} ms)`
    console.log(`${N} ${what}: file ${(bytes / 1e6).toFixed(1)} MB`)
    console.log(`  export                     ${rate(median(ex))}`)
    console.log(`  import, classes            ${rate(median(im))}`)
    console.log(`  import, types from-export  ${rate(median(raw))}`)
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true })
}
