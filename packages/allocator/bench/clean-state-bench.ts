/**
 * Clean close and clean open of a heap of 1M live 64-B objects (issue 15.4: the cost of
 * saving and verifying the clean state). A script, not a test:
 *   node packages/allocator/dist/bench/clean-state-bench.js [objects]
 * Medians of 7 close/open cycles in one process, on the mmap backend (file backend if the
 * addon is missing), durability 'process'.
 */
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { Heap, loadNative } from '../src'
import { Memory, fnv1a } from '../src/memory'
import { cleanStateHashes } from '../src/recovery'

const n = Number(process.argv[2] ?? 1_000_000)
const RUNS = 7
const median = (xs: number[]): number => xs.slice().sort((a, b) => a - b)[xs.length >> 1]
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'makalu-clean-'))
const file = path.join(dir, 'clean.heap')
const backend = loadNative() ? 'mmap' : 'file'
const size = Math.ceil((n * 64 * 1.1) / 65536) * 65536 + 8 * 1024 * 1024
let h = Heap.create(file, { size, durability: 'process', backend })
for (let i = 0; i < n; i++) h.alloc(64)
const closes: number[] = []
const opens: number[] = []
const inner: number[] = []
for (let r = 0; r < RUNS; r++) {
  let t = process.hrtime.bigint()
  h.close()
  closes.push(Number(process.hrtime.bigint() - t) / 1e6)
  t = process.hrtime.bigint()
  h = Heap.open(file, { durability: 'process', backend })
  opens.push(Number(process.hrtime.bigint() - t) / 1e6)
  inner.push(h.recovery.ms)
  if (!h.recovery.clean || h.stats().liveBlocks !== n) throw new Error(`not a clean open of ${n} blocks: ${JSON.stringify(h.recovery)}`)
}
// The hash alone, and FNV-1a (byte-wise) over the same chunk table and run bitmaps, for comparison.
const mem = new Memory(h.region)
const l = h.layout
const chunks = h.stats().chunks
const hashMs: number[] = []
const fnvMs: number[] = []
for (let r = 0; r < 21; r++) {
  let t = process.hrtime.bigint()
  cleanStateHashes(mem, l, chunks)
  hashMs.push(Number(process.hrtime.bigint() - t) / 1e6)
  t = process.hrtime.bigint()
  let x = fnv1a(mem.bytes, l.chunkTableOff, l.chunkTableOff + 8 * chunks)
  for (let c = 0; c < chunks; c++) if (mem.bytes[l.chunkTableOff + 8 * c] === 1) x = fnv1a(mem.bytes, l.bitmapOff + c * (l.chunkSize >>> 7), l.bitmapOff + (c + 1) * (l.chunkSize >>> 7), x)
  fnvMs.push(Number(process.hrtime.bigint() - t) / 1e6)
}
h.close()
fs.rmSync(dir, { recursive: true, force: true })
console.log(`${n} live 64-B objects, ${size >> 20} MiB heap, ${backend}: close ${median(closes).toFixed(2)} ms, ` +
  `clean open ${median(opens).toFixed(2)} ms wall (${median(inner).toFixed(2)} ms after the map); ` +
  `clean-state hash alone ${median(hashMs).toFixed(3)} ms (FNV-1a over the same bytes ${median(fnvMs).toFixed(3)} ms)`)
