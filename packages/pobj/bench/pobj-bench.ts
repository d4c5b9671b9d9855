/**
 * pobj benchmarks (a script, not a test). Run after `npx tsc -b packages/pobj`:
 *
 *   node packages/pobj/dist/bench/pobj-bench.js [--quick]
 *
 * Prints a markdown table:
 * - field read and write through a handle vs a plain JS object vs a raw DataView;
 * - read/write ns per field of each value kind (date, enums, optional/nullable) beside i32/f64;
 * - heap.new of a 4-field object per second;
 * - a 2-field transaction per second in 'process' and 'power' durability (mmap heap file; and
 *   'power' on the file backend, where snapshots need no drain of their own);
 * - recovery of 1M objects, precise (pobj tracer) vs conservative (no tracer); and of
 *   100k objects each holding a number array.
 */
import 'reflect-metadata'
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { Heap, SimRegion, Durability } from '@makalu/allocator'
import { Persistent, field, PHeap, PArray } from '../src'

@Persistent('bench.Point')
export class Point {
  @field.i32 x!: number
  @field.i32 y!: number
  @field.f64 w!: number
  @field.f64 z!: number
}

@Persistent('bench.Account')
export class BAccount {
  @field.i32 balance!: number
  @field.i32 ops!: number
}

@Persistent('bench.Node')
export class BNode {
  @field.f64 value!: number
  @field.i32 id!: number
  @field.ref(() => BNode) next!: BNode | null
  @field.array('f64') data!: PArray<number> | null
}

enum BLevel { Low = 1, Mid = 2, High = 3 }
enum BPhase { Open = 'open', Done = 'done', Blocked = 'blocked' }

@Persistent('bench.Values')
export class BValues {
  @field.i32 i!: number
  @field.f64 d!: number
  @field.date at!: Date
  @field.enum(BLevel) level!: BLevel
  @field.enum(BPhase) phase!: BPhase
  @field.optional.i32 oi?: number
  @field.optional.f64 od?: number
  @field.nullable.bool nb!: boolean | null
  @field.optional.date oat?: Date
  @field.optional.enum(BPhase) ophase?: BPhase
  @field.optional.string os?: string
  @field.bytes bb!: Uint8Array
}

interface Row { what: string; value: string; note: string }
const rows: Row[] = []
const quick = process.argv.includes('--quick')

function time(fn: () => void): number {
  const t0 = process.hrtime.bigint()
  fn()
  return Number(process.hrtime.bigint() - t0) / 1e6
}
function nsPerOp(ms: number, n: number): string { return `${((ms * 1e6) / n).toFixed(1)} ns/op` }
function perSec(ms: number, n: number): string {
  const r = (n / ms) * 1000
  return r >= 1e6 ? `${(r / 1e6).toFixed(2)} M/s` : r >= 1e3 ? `${(r / 1e3).toFixed(1)} k/s` : `${r.toFixed(0)} /s`
}

function tmpFile(name: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pobj-bench-'))
  return path.join(dir, name)
}
function removeFile(file: string): void {
  fs.rmSync(path.dirname(file), { recursive: true, force: true })
}

/** Read/write of one i32 field: handle, plain object, raw DataView. */
function benchFieldAccess(): void {
  const N = quick ? 2_000_000 : 20_000_000
  const heap = PHeap.createIn(new SimRegion(8 << 20), { types: [Point] })
  const h = heap.new(Point, { x: 1, y: 2 })
  const plain = { x: 1, y: 2, w: 0, z: 0 }
  const ptr = (h as unknown as { _$ptr: number })._$ptr
  const dv = new DataView(heap.raw.bytes.buffer)
  let sink = 0
  const run = (_label: string, fn: () => void): number => { fn(); const ms = time(fn); return ms } // one warm-up
  const rH = run('h', () => { let s = 0; for (let i = 0; i < N; i++) s += h.x; sink += s })
  const rP = run('p', () => { let s = 0; for (let i = 0; i < N; i++) s += plain.x; sink += s })
  const rD = run('d', () => { let s = 0; for (let i = 0; i < N; i++) s += dv.getInt32(ptr + 8, true); sink += s })
  rows.push({ what: 'read i32 field: handle', value: nsPerOp(rH, N), note: `${perSec(rH, N)}` })
  rows.push({ what: 'read i32 field: plain JS object', value: nsPerOp(rP, N), note: `${perSec(rP, N)}` })
  rows.push({ what: 'read i32 field: raw DataView', value: nsPerOp(rD, N), note: `${perSec(rD, N)}` })
  // Writes through a handle are logged inside a transaction (once per block) or persisted outside one.
  const M = quick ? 1_000_000 : 5_000_000
  const wT = run('wt', () => heap.transaction(() => { for (let i = 0; i < M; i++) h.x = i }))
  const wP = run('wp', () => { for (let i = 0; i < M; i++) plain.x = i })
  const wD = run('wd', () => { for (let i = 0; i < M; i++) dv.setInt32(ptr + 8, i, true) })
  rows.push({ what: 'write i32 field: handle, inside one transaction', value: nsPerOp(wT, M), note: 'logged once per block; durable at commit' })
  rows.push({ what: 'write i32 field: plain JS object', value: nsPerOp(wP, M), note: '' })
  rows.push({ what: 'write i32 field: raw DataView', value: nsPerOp(wD, M), note: '' })
  const K = quick ? 20_000 : 200_000
  heap.raw.region.resetCounters()
  const wO = run('wo', () => { for (let i = 0; i < K; i++) h.y = i })
  const c = heap.raw.region.counters
  rows.push({ what: 'write i32 field: handle, outside a transaction (SimRegion)', value: nsPerOp(wO, K), note: `${(c.drains / (2 * K)).toFixed(2)} drains/write: store, flush, drain` })
  heap.close()
  if (sink === 42) console.log('')
}

/**
 * Read and write (inside one transaction) of one field per value kind, through a handle, each
 * loop a closure of its own so every accessor stays monomorphic. Reads of a value that alternates
 * present/absent are not measured: each loop reads one stored value (present).
 */
function benchValueKinds(): void {
  const N = quick ? 1_000_000 : 10_000_000
  const M = quick ? 500_000 : 5_000_000
  const heap = PHeap.createIn(new SimRegion(8 << 20), { types: [BValues] })
  const D = new Date('2026-12-02T00:00:00Z')
  const h = heap.new(BValues, { i: 1, d: 1.5, at: D, level: BLevel.Mid, phase: BPhase.Done, oi: 3, od: 2.5, nb: true, oat: D, ophase: BPhase.Open, os: 'x' })
  const dates = [D, new Date(0)]
  const phases = [BPhase.Open, BPhase.Done]
  const levels = [BLevel.Low, BLevel.High]
  let sink = 0
  const kinds: Array<[string, () => number, () => void]> = [
    ['i32', () => { let s = 0; for (let i = 0; i < N; i++) s += h.i; return s }, () => { for (let i = 0; i < M; i++) h.i = i }],
    ['f64', () => { let s = 0; for (let i = 0; i < N; i++) s += h.d; return s }, () => { for (let i = 0; i < M; i++) h.d = i * 0.5 }],
    ['date (a new Date per read)', () => { let s = 0; for (let i = 0; i < N; i++) s += h.at.getTime(); return s }, () => { for (let i = 0; i < M; i++) h.at = dates[i & 1] }],
    ['numeric enum', () => { let s = 0; for (let i = 0; i < N; i++) s += h.level; return s }, () => { for (let i = 0; i < M; i++) h.level = levels[i & 1] }],
    ['string enum', () => { let s = 0; for (let i = 0; i < N; i++) s += h.phase.length; return s }, () => { for (let i = 0; i < M; i++) h.phase = phases[i & 1] }],
    ['optional i32', () => { let s = 0; for (let i = 0; i < N; i++) s += h.oi ?? 0; return s }, () => { for (let i = 0; i < M; i++) h.oi = (i & 1) === 0 ? i : undefined }],
    ['optional f64', () => { let s = 0; for (let i = 0; i < N; i++) s += h.od ?? 0; return s }, () => { for (let i = 0; i < M; i++) h.od = (i & 1) === 0 ? i * 0.5 : undefined }],
    ['nullable bool', () => { let s = 0; for (let i = 0; i < N; i++) s += h.nb ? 1 : 0; return s }, () => { for (let i = 0; i < M; i++) h.nb = (i & 1) === 0 ? true : null }],
    ['optional date', () => { let s = 0; for (let i = 0; i < N; i++) s += h.oat?.getTime() ?? 0; return s }, () => { for (let i = 0; i < M; i++) h.oat = (i & 1) === 0 ? D : undefined }],
    ['optional string enum', () => { let s = 0; for (let i = 0; i < N; i++) s += h.ophase?.length ?? 0; return s }, () => { for (let i = 0; i < M; i++) h.ophase = (i & 1) === 0 ? BPhase.Blocked : undefined }],
  ]
  for (const [what, read, write] of kinds) {
    read(); const r = time(() => { sink += read() })
    heap.transaction(write); const w = time(() => heap.transaction(write))
    // Leave the fields present for the next read loop.
    h.oi = 3; h.od = 2.5; h.nb = true; h.oat = D; h.ophase = BPhase.Open
    rows.push({ what: `${what} field: read / write in a transaction, handle`, value: `${nsPerOp(r, N)} / ${nsPerOp(w, M)}`, note: what.startsWith('optional') || what.startsWith('nullable') ? 'writes alternate present / absent' : '' })
  }
  // Bytes: a copy per read and a new block per write (the old one freed at commit), so fewer and in batches.
  const sixteen = new Uint8Array(16).fill(7)
  h.bb = sixteen
  const NB = N / 10
  const rb = time(() => { let s = 0; for (let i = 0; i < NB; i++) s += h.bb.length; sink += s })
  const WB = M / 50
  const wb = time(() => { for (let i = 0; i < WB; i += 1000) heap.transaction(() => { for (let j = 0; j < 1000; j++) h.bb = sixteen }) })
  rows.push({ what: 'bytes field (16 B): read / write in transactions of 1000, handle', value: `${nsPerOp(rb, NB)} / ${nsPerOp(wb, WB)}`, note: 'a copy per read; a new block per write' })
  const str = 'sixteen chars ok'
  h.os = str
  const rs = time(() => { let x = 0; for (let i = 0; i < NB; i++) x += (h.os as string).length; sink += x })
  const ws = time(() => { for (let i = 0; i < WB; i += 1000) heap.transaction(() => { for (let j = 0; j < 1000; j++) h.os = str }) })
  rows.push({ what: 'string field (16 chars), the same way, for comparison', value: `${nsPerOp(rs, NB)} / ${nsPerOp(ws, WB)}`, note: 'a decode per read; a new block per write' })
  heap.close()
  if (sink === 42) console.log('')
}

/** heap.new of a 4-field object, outside transactions (flush, no drain) and batched in transactions. */
function benchNew(durability: Durability): void {
  const N = quick ? 50_000 : 300_000
  const file = tmpFile('new.heap')
  const heap = PHeap.create(file, { size: 256 << 20, durability, types: [Point] })
  try {
    const region = heap.raw.region
    region.resetCounters()
    let ms = time(() => { for (let i = 0; i < N; i++) heap.new(Point, { x: i, y: i, w: 1.5, z: 2.5 }) })
    rows.push({ what: `heap.new 4-field object, outside a transaction ('${durability}')`, value: perSec(ms, N),
      note: `${nsPerOp(ms, N)}, ${(region.counters.flushes / N).toFixed(2)} flushes and ${(region.counters.drains / N).toFixed(3)} drains per new` })
    region.resetCounters()
    const B = 1000
    ms = time(() => { for (let b = 0; b < N / B; b++) heap.transaction(() => { for (let i = 0; i < B; i++) heap.new(Point, { x: i, y: i, w: 1.5, z: 2.5 }) }) })
    rows.push({ what: `heap.new 4-field object, ${B} per transaction ('${durability}')`, value: perSec(ms, N),
      note: `${nsPerOp(ms, N)}, ${(region.counters.drains / (N / B)).toFixed(1)} drains per transaction` })
  } finally {
    heap.close()
    removeFile(file)
  }
}

/** A 2-field transaction (a transfer between two accounts), on an mmap heap file. */
function benchTransactions(durability: Durability, backend: 'mmap' | 'file' = 'mmap'): void {
  const file = tmpFile('tx.heap')
  const heap = PHeap.create(file, { size: 16 << 20, durability, backend, types: [BAccount] })
  try {
    const a = heap.new(BAccount, { balance: 1_000_000 })
    const b = heap.new(BAccount, { balance: 0 })
    heap.setRoot('a', a); heap.setRoot('b', b)
    const budgetMs = quick ? 300 : 1500
    const region = heap.raw.region
    let n = 0
    region.resetCounters()
    const t0 = performance.now()
    while (performance.now() - t0 < budgetMs) {
      for (let i = 0; i < 16; i++, n++) heap.transaction(() => { a.balance -= 1; b.balance += 1 })
    }
    const ms = performance.now() - t0
    rows.push({ what: `2-field transaction ('${durability}', ${region.kind})`, value: perSec(ms, n),
      note: `${nsPerOp(ms, n).replace(' ns/op', ' ns')} each, ${(region.counters.drains / n).toFixed(1)} drains per transaction` })
    region.resetCounters()
    let m = 0
    const t1 = performance.now()
    while (performance.now() - t1 < budgetMs) { for (let i = 0; i < 16; i++, m++) { a.ops = m; b.ops = m } }
    const ms2 = performance.now() - t1
    rows.push({ what: `2 field writes outside a transaction ('${durability}', ${region.kind})`, value: perSec(ms2, m),
      note: `pairs/s; ${(region.counters.drains / m).toFixed(1)} drains per pair (not atomic together)` })
  } finally {
    heap.close()
    removeFile(file)
  }
}

/**
 * Recovery of a crashed heap holding N reachable objects: precise tracer vs
 * conservative scan (min of 3 alternating runs, each on a fresh copy of the image).
 * With `arrays`, each object also points to a 64-element f64 array, which the
 * precise tracer never scans and the conservative one scans word by word.
 */
function benchRecovery(N: number, arrays: boolean): void {
  const region = new SimRegion(Math.max(64 << 20, N * (arrays ? 800 : 64) + (8 << 20)))
  const heap = PHeap.createIn(region, { types: [BNode] })
  const B = 10_000
  let head: BNode | null = null
  for (let b = 0; b < N / B; b++) {
    heap.transaction(() => {
      for (let i = 0; i < B; i++) {
        head = heap.new(BNode, { value: i * 1.5, id: b * B + i, next: head })
        if (arrays) head.data = heap.newArray('f64', 64)
      }
      heap.setRoot('list', head)
    })
  }
  const image = region.durableImage() // as after a crash: the heap was never closed
  heap.close()
  let pMs = Infinity, cMs = Infinity, pLive = 0, cLive = 0
  for (let k = 0; k < 3; k++) {
    const precise = PHeap.openIn(new SimRegion(image), { types: [BNode] })
    pMs = Math.min(pMs, precise.recovery.ms); pLive = precise.recovery.liveBlocks
    precise.close()
    const conservative = Heap.openIn(new SimRegion(image), { owner: PHeap.OWNER })
    cMs = Math.min(cMs, conservative.recovery.ms); cLive = conservative.recovery.liveBlocks
    conservative.close()
  }
  const what = `recovery, ${N / 1e6}M objects${arrays ? ' each with a 64-f64 array' : ' (48-byte blocks in a list)'}`
  rows.push({ what: `${what}: precise (pobj type table)`, value: `${pMs.toFixed(0)} ms`, note: `${pLive} live blocks` })
  rows.push({ what: `${what}: conservative (no tracer)`, value: `${cMs.toFixed(0)} ms`, note: `${cLive} live blocks${cLive > pLive ? ` (${cLive - pLive} kept by false pointers)` : ''}` })
}

export function main(): void {
  benchFieldAccess()
  benchValueKinds()
  benchNew('process')
  benchTransactions('process')
  benchTransactions('power')
  benchTransactions('power', 'file')
  benchRecovery(quick ? 100_000 : 1_000_000, false)
  benchRecovery(quick ? 20_000 : 100_000, true)
  console.log(`pobj benchmarks (node ${process.version}, ${os.cpus().length} CPUs${quick ? ', --quick' : ''})\n`)
  console.log('| what | result | notes |')
  console.log('|---|---|---|')
  for (const r of rows) console.log(`| ${r.what} | ${r.value} | ${r.note} |`)
}

if (require.main === module) main()
