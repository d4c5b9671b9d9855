/**
 * Schema evolution benchmark (a script, not a test): node dist/bench/schema-bench.js [--quick]
 *
 * A heap of 1M objects (a ref array of Point v1 objects, each 3 numbers) on an mmap file:
 * - open with the same classes (a clean open) against the first open with an additive change
 *   (a field added: a type-table append, no object rewritten), each on a fresh copy of the file;
 * - reads of old-version objects through their view against reads of current objects;
 * - lazy upgrades: the first write to each old object, in transactions of 1000;
 * - a migration rewriting all 1M objects at open, against toPlain + fromPlain of the same graph
 *   into a new heap (the export/import route).
 * Medians of 5 runs (3 quick) for the opens; one run for the rest (each rewrites the heap).
 */
import 'reflect-metadata'
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { Persistent, field, PHeap, PArray } from '../src'

@Persistent('bench.Point') class PointV1 { @field.f64 x!: number; @field.f64 y!: number; @field.i32 id!: number }
@Persistent('bench.Point') class PointV2 { @field.f64 x!: number; @field.f64 y!: number; @field.i32 id!: number; @field.optional.string label?: string }
@Persistent('bench.Point') class PointV3 { @field.f64 x!: number; @field.f64 y!: number; @field() id!: string } // i32 → string: a migration
@Persistent('bench.Points') class PointsV1 { @field.array(() => PointV1) all!: PArray<PointV1> }
@Persistent('bench.Points') class PointsV2 { @field.array(() => PointV2) all!: PArray<PointV2> }
@Persistent('bench.Points') class PointsV3 { @field.array(() => PointV3) all!: PArray<PointV3> }

const quick = process.argv.includes('--quick')
const N = quick ? 100_000 : 1_000_000
const RUNS = quick ? 3 : 5
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'makalu-schema-bench-'))
const base = path.join(dir, 'v1.heap')
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const time = (fn: () => void) => { const t0 = performance.now(); fn(); return performance.now() - t0 }
let copies = 0
const copy = () => { const f = path.join(dir, `c${copies++}.heap`); fs.copyFileSync(base, f); return f }
const opts = { durability: 'process' as const, gc: false as const }

const h0 = PHeap.create(base, { ...opts, size: 64 << 20, maxSize: 1 << 30, types: [PointsV1, PointV1] })
const pts: PointV1[] = []
h0.transaction(() => {
  for (let i = 0; i < N; i++) pts.push(h0.new(PointV1, { x: i, y: -i, id: i }))
  h0.setRoot('points', h0.new(PointsV1, { all: h0.newArray(PointV1, pts) }))
})
pts.length = 0
h0.close()

const clean: number[] = []
const additive: number[] = []
for (let r = 0; r < RUNS; r++) {
  const a = copy(); const b = copy()
  const c = () => clean.push(time(() => PHeap.open(a, { ...opts, types: [PointsV1] }).close()))
  const d = () => additive.push(time(() => PHeap.open(b, { ...opts, types: [PointsV2] }).close()))
  if (r % 2 === 0) { c(); d() } else { d(); c() }
}

// Reads through the view (old objects) and through the current layout (upgraded ones), and lazy upgrades.
const f = copy()
const h = PHeap.open(f, { ...opts, types: [PointsV2] })
const all = h.root('points', PointsV2)!.all
let sum = 0
const viewMs = time(() => { for (let i = 0; i < N; i++) sum += all.get(i).x })
const upgradeMs = time(() => {
  for (let i = 0; i < N; i += 1000) h.transaction(() => { for (let j = i; j < Math.min(N, i + 1000); j++) all.get(j).label = 'up' })
})
const currentMs = time(() => { for (let i = 0; i < N; i++) sum += all.get(i).x })
h.close()

// A migration at open, against toPlain + fromPlain into a new heap.
const m = copy()
const migrateMs = time(() => PHeap.open(m, {
  ...opts, types: [PointsV3], migrations: [{ to: PointV3, migrate(old, p: PointV3) { p.id = `#${old.id as number}` } }],
}).close())
let exportImport = 'n/a'
try {
  const src = PHeap.open(copy(), { ...opts, types: [PointsV1] })
  const dst = PHeap.create(path.join(dir, 'import.heap'), { ...opts, size: 64 << 20, maxSize: 1 << 30, types: [PointsV1, PointV1] })
  const ms = time(() => {
    const plain = src.toPlain(src.root('points', PointsV1))
    dst.setRoot('points', dst.fromPlain(PointsV1, plain))
  })
  exportImport = `${ms.toFixed(0)} ms (${Math.round(N / (ms / 1000)).toLocaleString('en')} objects/s)`
  src.close(); dst.close()
} catch (e) { exportImport = `failed: ${(e as Error).message.slice(0, 80)}` }

console.log(`\nschema evolution, ${N.toLocaleString('en')} objects (medians of ${RUNS} opens):`)
console.log(`| row | result |\n|---|---|`)
console.log(`| clean open | ${median(clean).toFixed(1)} ms |`)
console.log(`| first open after a field was added | ${median(additive).toFixed(1)} ms (${(median(additive) - median(clean)).toFixed(1)} ms more) |`)
console.log(`| read x of an old-version object (view) | ${(viewMs * 1e6 / N).toFixed(0)} ns |`)
console.log(`| read x of an upgraded object | ${(currentMs * 1e6 / N).toFixed(0)} ns |`)
console.log(`| lazy upgrade by a first write, tx of 1000 | ${Math.round(N / (upgradeMs / 1000)).toLocaleString('en')} objects/s |`)
console.log(`| migration at open (i32 → string, every object) | ${migrateMs.toFixed(0)} ms (${Math.round(N / (migrateMs / 1000)).toLocaleString('en')} objects/s) |`)
console.log(`| toPlain + fromPlain into a new heap | ${exportImport} |`)
void sum
fs.rmSync(dir, { recursive: true, force: true })
