/**
 * Clean close and clean open of a heap of 1M live 64-B objects (issue 15.4: the cost of
 * saving and verifying the clean state). A script, not a test:
 *   node packages/allocator/dist/bench/clean-state-bench.js [objects]
 * Each open and close in a fresh process, as a real restart is (cold code), medians of 7;
 * mmap backend (file backend if the addon is missing), durability 'process'. Then the
 * clean-state hashes alone, warm, against FNV-1a over the same bytes.
 */
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { execFileSync } from 'child_process'
import { Heap, loadNative } from '../src'
import { Memory, fnv1a } from '../src/memory'
import * as recovery from '../src/recovery'

const n = Number(process.argv[2] ?? 1_000_000)
const RUNS = 7
const median = (xs: number[]): number => xs.slice().sort((a, b) => a - b)[xs.length >> 1]
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'makalu-clean-'))
const file = path.join(dir, 'clean.heap')
const backend = loadNative() ? 'mmap' : 'file'
const size = Math.ceil((n * 64 * 1.1) / 65536) * 65536 + 8 * 1024 * 1024
let h = Heap.create(file, { size, durability: 'process', backend })
for (let i = 0; i < n; i++) h.alloc(64)
h.close()

const script = `const { Heap } = require(${JSON.stringify(path.join(__dirname, '../src'))});
  let t = process.hrtime.bigint();
  const h = Heap.open(${JSON.stringify(file)}, { durability: 'process', backend: '${backend}' });
  const open = Number(process.hrtime.bigint() - t) / 1e6;
  if (!h.recovery.clean || h.stats().liveBlocks !== ${n}) throw new Error('not a clean open: ' + JSON.stringify(h.recovery));
  t = process.hrtime.bigint();
  h.close();
  console.log(open + ' ' + h.recovery.ms + ' ' + Number(process.hrtime.bigint() - t) / 1e6);`
const runs = Array.from({ length: RUNS }, () => execFileSync(process.execPath, ['-e', script]).toString().trim().split(' ').map(Number))

// The hashes alone (warm), and FNV-1a (byte-wise) over the same chunk entries and run bitmaps.
h = Heap.open(file, { durability: 'process', backend })
const mem = new Memory(h.region)
const l = h.layout
const chunks = h.stats().chunks
const used = Array.from({ length: chunks }, (_, c) => c).filter((c) => mem.bytes[l.chunkTableOff + 8 * c] !== 0)
const hashes = (recovery as unknown as Record<string, unknown>).cleanStateHashes as
  ((m: Memory, l: unknown, count: number, inUse: number[]) => unknown) | undefined
const hashMs: number[] = []
const fnvMs: number[] = []
for (let r = 0; r < 21; r++) {
  let t = process.hrtime.bigint()
  hashes?.(mem, l, chunks, used)
  hashMs.push(Number(process.hrtime.bigint() - t) / 1e6)
  t = process.hrtime.bigint()
  let x = fnv1a(mem.bytes, l.chunkTableOff, l.chunkTableOff + 8 * chunks)
  for (const c of used) x = fnv1a(mem.bytes, l.bitmapOff + c * (l.chunkSize >>> 7), l.bitmapOff + (c + 1) * (l.chunkSize >>> 7), x)
  fnvMs.push(Number(process.hrtime.bigint() - t) / 1e6)
}
h.close()
fs.rmSync(dir, { recursive: true, force: true })
console.log(`${n} live 64-B objects, ${size >> 20} MiB heap, ${backend}, fresh processes: ` +
  `clean open ${median(runs.map((r) => r[0])).toFixed(2)} ms wall (${median(runs.map((r) => r[1])).toFixed(2)} ms after the map), ` +
  `close ${median(runs.map((r) => r[2])).toFixed(2)} ms; ` +
  (hashes ? `clean-state hashes alone, warm, ${median(hashMs).toFixed(3)} ms; ` : '') +
  `FNV-1a over the same bytes ${median(fnvMs).toFixed(3)} ms`)
