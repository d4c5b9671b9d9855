/**
 * Issue 15.3: no misuse loses the whole heap. A block freed while a root or another block
 * still points to it leaves a stale pointer; once its chunk is released, no open or
 * recovery may fail because of it: the pointer is treated as null and reported.
 */
import { expect } from 'chai'
import { Heap, SimRegion, Tracer, WriteBack } from '../src'
import { SMALL_HEAP, SMALL_REGION } from './support/crash-harness'

const u32 = (h: Heap): Uint32Array => new Uint32Array(h.bytes.buffer, h.bytes.byteOffset, h.bytes.length >>> 2)
const readPtr = (h: Heap, off: number): number => u32(h)[off >>> 2]
const writePtr = (h: Heap, off: number, p: number): void => { const u = u32(h); u[(off >>> 2) + 1] = 0; u[off >>> 2] = p }

/** The test's blocks of 64 bytes hold a pointer in their first word; no other block holds one. */
const tracer: Tracer = {
  trace(bytes, ptr, size, visit) {
    if (size === 64) visit(new Uint32Array(bytes.buffer, bytes.byteOffset + ptr, 1)[0], ptr)
  },
}

interface Misused { region: SimRegion; heap: Heap; a: number; b: number; gone: number }

/**
 * Root 'a' → a (64 B) → b (48 B); root 'gone' → g (a large block). Then b is freed while a
 * still points to it, and g while 'gone' still names it; both chunks are released.
 */
function misuse(writeBack: WriteBack = 'any-time', staleRoot = true): Misused {
  const region = new SimRegion(SMALL_REGION, { writeBack })
  const heap = Heap.createIn(region, SMALL_HEAP)
  const a = heap.alloc(64)
  const b = heap.alloc(48)
  const g = heap.alloc(5000)
  writePtr(heap, a, b)
  heap.persist(a, 64)
  heap.persist(b, 48)
  heap.setRoot('a', a)
  heap.setRoot('gone', g)
  // Free b while referenced, then the rest of its run, until the run's chunk is released:
  // fill the run so that allocation moves on to a new chunk, then free the first chunk.
  const chunkOf = (p: number): number => Math.floor((p - heap.dataOffset) / SMALL_HEAP.chunkSize!)
  const sameRun = [b]
  for (;;) {
    const p = heap.alloc(48)
    if (chunkOf(p) !== chunkOf(b)) break
    sameRun.push(p)
  }
  const chunksBefore = heap.stats().freeChunks
  for (const p of sameRun) heap.free(p) // b first: freed while a points to it
  if (staleRoot) heap.free(g) // freed while the root 'gone' names it
  else heap.setRoot('gone', 0)
  expect(heap.stats().freeChunks, 'the chunks of b and g are released').to.equal(chunksBefore + (staleRoot ? 3 : 1)) // b's run, g's two chunks
  expect(heap.getRoot('gone')).to.equal(staleRoot ? g : 0)
  expect(readPtr(heap, a)).to.equal(b)
  heap.drain()
  return { region, heap, a, b, gone: g }
}

function expectOpened(heap: Heap, m: Misused, staleRoots: string[][] = [['gone']]): void {
  expect(heap.check().violations).to.deep.equal([])
  expect(heap.getRoot('a')).to.equal(m.a)
  expect(heap.isAllocated(m.a)).to.equal(true)
  expect(heap.getRoot('gone'), 'the stale root is dropped').to.equal(0)
  expect(heap.roots().map(([n]) => n)).to.deep.equal(['a'])
  expect(staleRoots, `staleRoots ${JSON.stringify(heap.recovery.staleRoots)}`).to.deep.include(heap.recovery.staleRoots)
  // The heap works: new blocks never overlap a.
  for (let i = 0; i < 200; i++) {
    const p = heap.alloc(16 + (i % 100))
    expect(p + heap.usableSize(p) <= m.a || p >= m.a + 64).to.equal(true)
  }
  expect(heap.check().violations).to.deep.equal([])
}

describe('heap: stale pointers left by a misuse never make the heap unopenable', () => {
  for (const writeBack of ['any-time', 'at-drain'] as WriteBack[]) {
    describe(`on an '${writeBack}' region`, () => {
      it('after a clean close: the stale root is dropped durably and reported by name (conservative and precise)', () => {
        const m = misuse(writeBack)
        m.heap.close()
        const image = m.region.durableImage()
        for (const opts of [{}, { tracer }]) {
          const region = new SimRegion(image, { writeBack })
          const heap = Heap.openIn(region, opts)
          expect(heap.recovery.reason).to.equal('clean')
          // A clean open traces nothing: a's field is still stale; a precise check reports
          // it (not as a violation), a conservative one cannot tell it from data.
          expect(heap.check().stalePointers).to.equal('tracer' in opts ? 1 : 0)
          expectOpened(heap, m)
          expect(heap.recovery.stalePointers).to.equal(1)
          // Dropped durably: a crash right after the open finds no root 'gone'.
          const after = Heap.openIn(new SimRegion(region.crash({ mode: 'strict' }), { writeBack }), opts)
          expect(after.getRoot('gone')).to.equal(0)
          expect(after.recovery.staleRoots).to.deep.equal([])
        }
      })

      it('after a crash: conservative recovery drops the stale root; precise recovery also nulls the stale field, durably', () => {
        const m = misuse(writeBack)
        const image = m.region.crash({ mode: 'strict' })
        const cons = Heap.openIn(new SimRegion(image, { writeBack }))
        expect(cons.recovery.reason).to.equal('crash')
        expectOpened(cons, m)
        expect(cons.recovery.stalePointers).to.equal(1) // a conservative scan cannot tell a stale word from data
        const region = new SimRegion(image, { writeBack })
        const prec = Heap.openIn(region, { tracer })
        expectOpened(prec, m)
        expect(prec.recovery.stalePointers).to.equal(2)
        expect(readPtr(prec, m.a), "a's stale field is null").to.equal(0)
        const after = Heap.openIn(new SimRegion(region.crash({ mode: 'strict' }), { writeBack }), { tracer })
        expect(readPtr(after, m.a), 'nulled durably').to.equal(0)
        expect(after.recovery.stalePointers).to.equal(0)
      })

      it('a stale field alone (root a → a → freed b): precise recovery after a crash treats it as null', () => {
        const m = misuse(writeBack, false)
        const prec = Heap.openIn(new SimRegion(m.region.crash({ mode: 'strict' }), { writeBack }), { tracer })
        expect(prec.recovery.stalePointers).to.equal(1)
        expect(prec.recovery.staleRoots).to.deep.equal([])
        expect(readPtr(prec, m.a)).to.equal(0)
        expectOpened(prec, m, [[]])
      })

      it('a recovery crashed at each of its drains is recovered by the next open', () => {
        const m = misuse(writeBack)
        const image = m.region.crash({ mode: 'strict' })
        for (const opts of [{}, { tracer }]) {
          const region = new SimRegion(image, { writeBack })
          const images: Uint8Array[] = []
          region.onDrain = () => { images.push(region.crash({ mode: 'strict' }), region.crash({ mode: 'random', seed: images.length })) }
          Heap.openIn(region, opts)
          region.onDrain = null
          expect(images.length).to.be.greaterThan(0)
          for (const img of images) expectOpened(Heap.openIn(new SimRegion(img, { writeBack }), opts), m, [['gone'], []])
        }
      })
    })
  }
})
