import { expect } from 'chai'
import { Heap, SimRegion, TransactionError } from '../src'
import { SMALL_HEAP, SMALL_REGION } from './support/crash-harness'

const u32 = (h: Heap): Uint32Array => new Uint32Array(h.bytes.buffer, h.bytes.byteOffset, h.bytes.length >>> 2)
const writePtr = (h: Heap, off: number, p: number): void => { u32(h)[(off >>> 2) + 1] = 0; u32(h)[off >>> 2] = p }
/** node: [next u64 | value u32 | filler to 32 bytes]; the tracer follows `next` only. */
const tracer = { trace(bytes: Uint8Array, ptr: number, _size: number, visit: (p: number) => void): void {
  visit(new Uint32Array(bytes.buffer, bytes.byteOffset + ptr, 1)[0])
} }

function buildList(h: Heap, n: number): number[] {
  const nodes: number[] = []
  let head = 0
  for (let i = 0; i < n; i++) {
    const p = h.alloc(32)
    writePtr(h, p, head)
    u32(h)[(p + 8) >>> 2] = i
    head = p
    nodes.push(p)
  }
  h.setRoot('list', head)
  return nodes
}

describe('heap: online collection (collect)', () => {
  for (const precise of [true, false]) {
    it(`frees exactly the unreachable blocks, small and large (${precise ? 'precise' : 'conservative'})`, () => {
      const h = Heap.createIn(new SimRegion(2 << 20), SMALL_HEAP)
      const nodes = buildList(h, 300)
      const junk: number[] = []
      for (let i = 0; i < 500; i++) junk.push(h.alloc(16 + (i % 7) * 40))
      const big = h.alloc(3 * 4096)
      const kept = h.alloc(48) // held by the caller only
      const before = h.stats()
      const r = h.collect({ roots: [kept], tracer: precise ? tracer : undefined })
      expect(r.markedBlocks).to.equal(301)
      expect(r.freedBlocks).to.equal(501)
      expect(r.stalePointers).to.equal(0)
      const after = h.stats()
      expect(after.liveBlocks).to.equal(301)
      expect(after.used).to.equal(300 * 32 + h.usableSize(kept))
      expect(before.used - after.used).to.equal(r.freedBytes)
      for (const p of [...nodes, kept]) expect(h.isAllocated(p)).to.equal(true)
      for (const p of [...junk, big]) expect(h.isAllocated(p)).to.equal(false)
      expect(h.check().violations).to.deep.equal([])
      // The list reads back whole, and a second collection frees nothing.
      let n = 0
      for (let p = h.getRoot('list'); p !== 0; p = u32(h)[p >>> 2]) n++
      expect(n).to.equal(300)
      expect(h.collect({ roots: [kept], tracer: precise ? tracer : undefined }).freedBlocks).to.equal(0)
    })
  }

  it('treats a pointer to no allocated block as null and counts it', () => {
    const h = Heap.createIn(new SimRegion(SMALL_REGION), SMALL_HEAP)
    const [last, first] = buildList(h, 2)
    const gone = h.alloc(32)
    h.free(gone)
    writePtr(h, last, gone) // the tail now points at a freed block
    const r = h.collect({ roots: [first + 16, 0], tracer })
    expect(r.stalePointers).to.equal(2) // the freed block, and the root that is not a block start
    expect(h.stats().liveBlocks).to.equal(2)
    expect(h.check().violations).to.deep.equal([])
  })

  it('refuses to run inside a transaction', () => {
    const h = Heap.createIn(new SimRegion(SMALL_REGION), SMALL_HEAP)
    h.transaction(() => { expect(() => h.collect()).to.throw(TransactionError, /inside a transaction/) })
  })
})
