/**
 * Issue 15.4: the state saved at a clean close (bitmap, chunk table) is verified at the next
 * open; damage that a per-run bit count cannot see sends the open down the tracing path. The
 * per-run bit counts themselves are proven at close ([scale] 14.4: the open reads no run bitmap
 * but through one CRC).
 */
import { expect } from 'chai'
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { Heap, SimRegion, HeapCorruptError, format as F } from '../src'
import { crc32, crc32js } from '../src/memory'
import { SMALL_HEAP, SMALL_REGION } from './support/crash-harness'

const u32 = (h: Heap): Uint32Array => new Uint32Array(h.bytes.buffer, h.bytes.byteOffset, h.bytes.length >>> 2)
const N = 300

/** Root 'table' → N pointers to 64-B blocks, each filled with its index; every third block freed. */
function build(h: Heap): number[] {
  const table = h.alloc(N * 8)
  const live: number[] = []
  const all = Array.from({ length: N }, () => h.alloc(64))
  all.forEach((p, i) => {
    if (i % 3 === 0) return h.free(p)
    u32(h).fill(0xc0de0000 + i, p >>> 2, (p + 64) >>> 2)
    u32(h)[(table >>> 2) + 2 * live.length] = p
    live.push(p)
  })
  h.persist(table, N * 8)
  for (const p of live) h.persist(p, 64)
  h.setRoot('table', table)
  return live
}

/** New blocks never overlap a live one, and writing them leaves every live block intact. */
function expectNoDoubleAllocation(h: Heap, live: number[]): void {
  const liveSet = new Set(live)
  const fresh: number[] = []
  for (let k = 0; k < 2 * N; k++) fresh.push(h.alloc(64))
  for (const p of fresh) {
    expect(liveSet.has(p), `block ${p} handed out while live`).to.equal(false)
    u32(h).fill(0xffffffff, p >>> 2, (p + 64) >>> 2)
  }
  live.forEach((p) => expect(u32(h)[p >>> 2] >>> 16).to.equal(0xc0de))
  expect(h.check().violations).to.deep.equal([])
}

describe('heap: the clean state is verified at open', () => {
  it('two bits swapped in a run of the bitmap file (count unchanged): traced, no live block handed out twice', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'makalu-clean-'))
    const file = path.join(dir, 'h.heap')
    const h = Heap.create(file, { size: SMALL_REGION, ...SMALL_HEAP, backend: 'file' })
    const live = build(h)
    const { bitmapOff, dataOff } = h.layout
    const victim = live[live.length - 2] // block 298: live; block 297 before it was freed
    const freed = victim - 64
    expect(h.isAllocated(freed)).to.equal(false)
    h.close()
    // Clear the victim's bit, set the freed block's: the run's popcount is unchanged.
    const img = fs.readFileSync(file)
    const flip = (p: number): void => { const g = (p - dataOff) >>> F.GRANULE_SHIFT; img[bitmapOff + (g >>> 3)] ^= 1 << (g & 7) }
    flip(victim)
    flip(freed)
    fs.writeFileSync(file, img)
    const again = Heap.open(file, { backend: 'file' })
    expect(again.recovery.reason).to.equal('inconsistent-clean-state')
    expect(again.recovery.tracing).to.equal('conservative')
    expect(again.isAllocated(victim)).to.equal(true)
    expect(again.isAllocated(freed)).to.equal(false)
    expectNoDoubleAllocation(again, live)
    again.close()
    fs.rmSync(dir, { recursive: true })
  })

  it('any bit flipped in the saved bitmap or a live count is traced; in the chunk table proper, refused', () => {
    const region = new SimRegion(SMALL_REGION)
    const h = Heap.createIn(region, SMALL_HEAP)
    const live = build(h)
    const big = h.alloc(9000) // a large object of 3 chunks
    h.persist(big, 8)
    h.setRoot('big', big)
    const l = h.layout
    const chunks = h.stats().chunks
    h.close()
    const good = region.durableImage()
    expect(Heap.openIn(new SimRegion(good)).recovery.reason).to.equal('clean')
    const entry = (c: number): number => l.chunkTableOff + 8 * c
    const used = Array.from({ length: chunks }, (_, c) => c).filter((c) => good[entry(c)] !== 0)
    // The cache: every used byte of the bitmap, every run's live count.
    const cache: number[] = []
    for (let i = 0; i < (chunks * l.chunkSize) >>> 7; i++) if (good[l.bitmapOff + i] !== 0) cache.push(l.bitmapOff + i)
    for (const c of used) if (good[entry(c)] === F.KIND_RUN) cache.push(entry(c) + 4)
    // The table: kinds and classes of used entries, the large head's span, free entries.
    const bigChunk = (big - l.dataOff) / l.chunkSize
    const table = [...used.map((c) => entry(c)), ...used.map((c) => entry(c) + 1), entry(bigChunk) + 4, entry(chunks - 1)]
    expect(cache.length).to.be.greaterThan(10)
    for (const off of cache) {
      for (let bit = 0; bit < 8; bit++) {
        const img = good.slice()
        img[off] ^= 1 << bit
        const heap = Heap.openIn(new SimRegion(img))
        expect(heap.recovery.reason, `byte ${off} bit ${bit}`).to.equal('inconsistent-clean-state')
        expect(heap.check().violations).to.deep.equal([])
        for (const p of live) expect(heap.isAllocated(p)).to.equal(true)
        expect(heap.usableSize(big)).to.equal(3 * l.chunkSize)
      }
    }
    for (const off of table) {
      for (let bit = 0; bit < 8; bit++) {
        const img = good.slice()
        img[off] ^= 1 << bit
        const r = new SimRegion(img)
        expect(() => Heap.openIn(r), `byte ${off} bit ${bit}`).to.throw(HeapCorruptError)
        expect(r.durableImage()).to.deep.equal(img)
      }
    }
  })

  it('a close whose bitmap disagrees with its counts (a stray store into the heap) leaves the file dirty: the open traces it', () => {
    const region = new SimRegion(SMALL_REGION)
    const h = Heap.createIn(region, SMALL_HEAP)
    const live = build(h)
    const freed = live[live.length - 2] - 64
    expect(h.isAllocated(freed)).to.equal(false)
    const l = h.layout
    // A stray store sets the bit of a free block: the run's popcount is one more than its count.
    const g = (freed - l.dataOff) >>> F.GRANULE_SHIFT
    h.bytes[l.bitmapOff + (g >>> 3)] |= 1 << (g & 7)
    expect(() => h.close()).to.throw(HeapCorruptError, /close\(\): run \d+: its bitmap holds \d+ blocks, its count says \d+; the file is left dirty/)
    const again = Heap.openIn(new SimRegion(region.durableImage()))
    expect(again.recovery.reason).to.equal('crash')
    expect(again.recovery.tracing).to.equal('conservative')
    expect(again.isAllocated(freed)).to.equal(false)
    expectNoDoubleAllocation(again, live)
    again.close()
    expect(Heap.openIn(new SimRegion(region.durableImage())).recovery.reason).to.equal('crash') // the first region
  })

  it('hashes run bitmaps with CRC-32: the JS fallback gives what zlib gives', () => {
    const bytes = new Uint8Array(4099).map((_, i) => (i * 2654435761) >>> 24)
    expect(crc32js(bytes)).to.equal(crc32(bytes))
    expect(crc32js(bytes.subarray(1000), crc32js(bytes.subarray(0, 1000)))).to.equal(crc32(bytes))
    expect(crc32js(new TextEncoder().encode('123456789'))).to.equal(0xcbf43926)
  })
})
