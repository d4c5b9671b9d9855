/**
 * Region benchmark (a script, not a test):
 *   node packages/allocator/dist/bench/region-bench.js [--quick]
 *
 * 1. random 8-byte writes through a mapped region's Float64Array / DataView,
 *    against the same over a plain ArrayBuffer (M writes/s);
 * 2. flush + drain cost per backend and durability mode, for 1 dirty page and
 *    for 16 scattered dirty pages (µs per drain).
 * Prints markdown tables; main() also returns the numbers.
 */
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { Durability, Region, RegionBackend, openRegion, loadNative } from '../src'

export interface WriteRate { target: string, view: string, mWritesPerSec: number }
export interface DrainCost { backend: RegionBackend, durability: Durability, pages: number, usPerDrain: number, drains: number }
export interface RegionBenchResult { writes: WriteRate[], drains: DrainCost[], markdown: string }

export interface RegionBenchOptions {
  /** Directory for the heap files (default: the OS temp dir). */
  dir?: string
  /** Shorter runs, for a smoke check. */
  quick?: boolean
  /** Print the tables (default true). */
  print?: boolean
}

const REGION_SIZE = 64 * 1024 * 1024
const DRAIN_REGION_SIZE = 16 * 1024 * 1024
const PAGE = 4096

export function main(opts: RegionBenchOptions = {}): RegionBenchResult {
  const dir = fs.mkdtempSync(path.join(opts.dir ?? os.tmpdir(), 'makalu-region-bench-'))
  const quick = opts.quick ?? false
  const backends: RegionBackend[] = loadNative() ? ['mmap', 'file'] : ['file']
  try {
    const writes = benchWrites(dir, backends, quick)
    const drains: DrainCost[] = []
    for (const backend of backends) {
      for (const durability of ['power', 'process'] as const) {
        for (const pages of [1, 16]) drains.push(benchDrain(dir, backend, durability, pages, quick))
      }
    }
    const markdown = formatTables(writes, drains)
    if (opts.print ?? true) console.log(markdown)
    return { writes, drains, markdown }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

function benchWrites(dir: string, backends: RegionBackend[], quick: boolean): WriteRate[] {
  const n = quick ? 2_000_000 : 20_000_000
  const words = REGION_SIZE / 8
  const index = new Uint32Array(1 << 20)
  let x = 12345
  for (let i = 0; i < index.length; i++) { x = (Math.imul(x, 1103515245) + 12345) >>> 0; index[i] = x % words }

  const out: WriteRate[] = []
  const targets: { name: string, buffer: () => { buf: ArrayBuffer, done(): void } }[] = [
    { name: 'plain ArrayBuffer', buffer: () => ({ buf: new ArrayBuffer(REGION_SIZE), done() { /* GC */ } }) },
  ]
  for (const backend of backends) {
    targets.push({
      name: `${backend} region`,
      buffer: () => {
        const p = path.join(dir, `writes-${backend}`)
        const r = openRegion(p, { create: true, size: REGION_SIZE, backend, durability: 'process' })
        return { buf: r.bytes.buffer as ArrayBuffer, done() { r.close(); fs.rmSync(p) } }
      },
    })
  }
  for (const t of targets) {
    const { buf, done } = t.buffer()
    const f64 = new Float64Array(buf)
    const dv = new DataView(buf)
    writeF64(f64, index, n / 10) // warm up (and fault the pages in)
    writeDV(dv, index, n / 10)
    out.push({ target: t.name, view: 'Float64Array', mWritesPerSec: rate(n, () => writeF64(f64, index, n)) })
    out.push({ target: t.name, view: 'DataView', mWritesPerSec: rate(n, () => writeDV(dv, index, n)) })
    done()
  }
  return out
}

function writeF64(a: Float64Array, index: Uint32Array, n: number): void {
  const mask = index.length - 1
  for (let i = 0; i < n; i++) a[index[i & mask]] = i
}

function writeDV(d: DataView, index: Uint32Array, n: number): void {
  const mask = index.length - 1
  for (let i = 0; i < n; i++) d.setFloat64(index[i & mask] * 8, i, true)
}

/** Millions of operations per second for `n` operations done by `fn` (best of 3). */
function rate(n: number, fn: () => void): number {
  let best = Infinity
  for (let k = 0; k < 3; k++) {
    const t0 = process.hrtime.bigint()
    fn()
    best = Math.min(best, Number(process.hrtime.bigint() - t0))
  }
  return n / best * 1e3
}

function benchDrain(dir: string, backend: RegionBackend, durability: Durability, pages: number, quick: boolean): DrainCost {
  const p = path.join(dir, `drain-${backend}-${durability}-${pages}`)
  // Allocate every block first: the steady state of a heap file, not first writes into a sparse file.
  fs.writeFileSync(p, Buffer.alloc(DRAIN_REGION_SIZE, 0), { flag: 'wx' })
  const fd = fs.openSync(p, 'r+'); fs.fsyncSync(fd); fs.closeSync(fd)
  const r: Region = openRegion(p, { backend, durability })
  try {
    const pageCount = DRAIN_REGION_SIZE / PAGE
    let x = 777
    const dirty = (round: number) => {
      for (let k = 0; k < pages; k++) {
        x = (Math.imul(x, 1103515245) + 12345) >>> 0
        const off = (x % pageCount) * PAGE + (round % 512) * 8
        r.bytes[off] = round & 0xff
        r.flush(off, 8)
      }
      r.drain()
    }
    for (let i = 0; i < 10; i++) dirty(i) // warm up
    const budgetNs = (quick ? 0.15 : 1.0) * 1e9
    const t0 = process.hrtime.bigint()
    let drains = 0
    let elapsed = 0
    while (drains < 20 || elapsed < budgetNs) {
      dirty(drains)
      drains++
      elapsed = Number(process.hrtime.bigint() - t0)
      if (drains >= 2_000_000) break
    }
    return { backend, durability, pages, usPerDrain: elapsed / drains / 1e3, drains }
  } finally {
    r.close()
    fs.rmSync(p)
  }
}

function formatTables(writes: WriteRate[], drains: DrainCost[]): string {
  const lines: string[] = []
  lines.push('Random 8-byte writes (64 MiB region)', '', '| target | view | M writes/s |', '|---|---|---:|')
  for (const w of writes) lines.push(`| ${w.target} | ${w.view} | ${w.mWritesPerSec.toFixed(1)} |`)
  lines.push('', 'flush + drain (µs per drain; dirty pages chosen at random in a 16 MiB preallocated region)', '',
    '| backend | durability | 1 dirty page | 16 scattered pages |', '|---|---|---:|---:|')
  const key = (d: DrainCost) => `${d.backend}/${d.durability}`
  for (const k of [...new Set(drains.map(key))]) {
    const [one, sixteen] = [1, 16].map((n) => drains.find((d) => key(d) === k && d.pages === n)!)
    lines.push(`| ${one.backend} | ${one.durability} | ${fmtUs(one.usPerDrain)} | ${fmtUs(sixteen.usPerDrain)} |`)
  }
  lines.push('', `(${os.cpus().length} CPUs, ${os.cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}, files in ${os.tmpdir()})`)
  return lines.join('\n')
}

function fmtUs(us: number): string {
  return us < 10 ? us.toFixed(2) : us.toFixed(0)
}

if (require.main === module) main({ quick: process.argv.includes('--quick') })
