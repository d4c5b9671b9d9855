/**
 * The small-block fast path: per-class caches of free blocks (chunk-space.ts), refilled from
 * and spilled to the runs in batches. A cached block is just free, so every test here ends in
 * check(), and the crash tests recover images cut in the middle of cache traffic.
 */
import { expect } from 'chai'
import { Heap, SimRegion, InvalidPointerError, mulberry32 } from '../src'
import { ChunkSpace } from '../src/chunk-space'
import { churnWorkload } from './support/workloads'
import { runCrashes } from './support/crash-harness'

const SMALL = { chunkSize: 4096, logSize: 8192, rootCapacity: 16 }

function expectClean(h: Heap, what: string): void {
  expect(h.check().violations, what).to.deep.equal([])
}

/** A shadow of what is allocated: start → size; asserts no two live blocks overlap. */
class Shadow {
  readonly live = new Map<number, number>()
  add(h: Heap, p: number, size: number): void {
    expect(this.live.has(p), `block ${p} handed out twice`).to.equal(false)
    expect(h.usableSize(p)).to.be.at.least(size)
    this.live.set(p, h.usableSize(p))
  }
  noOverlap(): void {
    const spans = [...this.live].sort((a, b) => a[0] - b[0])
    for (let i = 1; i < spans.length; i++) {
      expect(spans[i][0], `blocks ${spans[i - 1][0]} and ${spans[i][0]} overlap`).to.be.at.least(spans[i - 1][0] + spans[i - 1][1])
    }
  }
}

describe('free-block caches (the small-block fast path)', function () {
  this.timeout(120_000)

  it('refills and spills across many runs: every block of 60 runs freed in random order, then the space is whole again', () => {
    const h = Heap.createIn(new SimRegion(1 << 20), SMALL)
    const before = h.stats()
    const r = mulberry32(11)
    const ps: number[] = []
    for (let i = 0; i < 60 * 64; i++) ps.push(h.alloc(64)) // 64 blocks per 4 KiB run
    expect(h.stats().chunks - h.stats().freeChunks).to.be.at.least(60)
    for (let i = ps.length - 1; i > 0; i--) {
      const j = Math.floor(r() * (i + 1))
      const t = ps[i]; ps[i] = ps[j]; ps[j] = t
    }
    for (let i = 0; i < ps.length; i++) {
      h.free(ps[i])
      if (i % 500 === 0) expectClean(h, `after ${i + 1} frees`)
    }
    expectClean(h, 'after every free')
    const s = h.stats()
    expect([s.used, s.liveBlocks]).to.deep.equal([0, 0])
    // Only the current run of the class may stay claimed; nothing is pinned by the cache.
    expect(s.freeChunks).to.be.at.least(before.freeChunks - 1)
    const big = h.alloc(s.largestFree)
    expectClean(h, 'after a large block over the released runs')
    h.free(big)
  })

  it('frees of blocks from many runs, interleaved with allocations of several classes, match a shadow model', () => {
    const h = Heap.createIn(new SimRegion(2 << 20), SMALL)
    const r = mulberry32(5)
    const shadow = new Shadow()
    const order: number[] = []
    for (let step = 0; step < 40_000; step++) {
      if (order.length < 3000 && (order.length === 0 || r() < 0.55)) {
        const size = 1 + Math.floor(r() * 300)
        const p = h.alloc(size)
        shadow.add(h, p, size)
        order.push(p)
      } else {
        const k = Math.floor(r() * order.length)
        const p = order[k]
        order[k] = order[order.length - 1]
        order.pop()
        h.free(p)
        shadow.live.delete(p)
        expect(h.isAllocated(p)).to.equal(false)
      }
      if (step % 4000 === 0) { expectClean(h, `step ${step}`); shadow.noOverlap() }
    }
    expectClean(h, 'at the end')
    shadow.noOverlap()
    expect(h.stats().liveBlocks).to.equal(shadow.live.size)
    expect(h.stats().used).to.equal([...shadow.live.values()].reduce((a, b) => a + b, 0))
  })

  it('a freed block, while it sits in the cache, is refused as a double free, and so are an interior pointer and a foreign one', () => {
    const h = Heap.createIn(new SimRegion(1 << 20), SMALL)
    const p = h.alloc(64)
    const q = h.alloc(64)
    h.free(p)
    expect(() => h.free(p)).to.throw(InvalidPointerError, /heap: free\(\d+\): the block is not allocated \(freed already\?\)/)
    expect(() => h.free(q + 16)).to.throw(InvalidPointerError, /not the start of a block/)
    expect(() => h.free(q + 1)).to.throw(InvalidPointerError, /not the start of a block/)
    expect(() => h.free(h.dataOffset - 16)).to.throw(InvalidPointerError)
    expect(() => h.free(2 ** 31)).to.throw(InvalidPointerError)
    expect(() => h.free(-64)).to.throw(InvalidPointerError)
    expect(() => h.free(q + 0.5)).to.throw(InvalidPointerError)
    expect(() => h.free(String(q) as unknown as number)).to.throw(InvalidPointerError)
    expect(h.isAllocated(q)).to.equal(true)
    expect(h.alloc(64)).to.equal(p) // the cache hands the freed block out again, zeroed
    expectClean(h, 'after the refused frees')
  })

  it('hands out zero-filled blocks of every small class, also when they come back from the cache dirty', () => {
    const h = Heap.createIn(new SimRegion(4 << 20), {})
    for (let size = 1; size <= h.maxSmallSize; size += size < 512 ? 15 : 997) {
      const ps = Array.from({ length: 8 }, () => h.alloc(size))
      for (const p of ps) h.bytes.fill(0xa5, p, p + h.usableSize(p))
      for (const p of ps) h.free(p)
      for (let k = 0; k < 8; k++) {
        const p = h.alloc(size)
        const n = h.usableSize(p)
        expect(h.bytes.subarray(p, p + n).every((b) => b === 0), `a block of ${size} bytes at ${p} is zero`).to.equal(true)
      }
    }
    expectClean(h, 'after the zero checks')
  })

  it('after a clean reopen (runs not yet rebuilt), frees into those runs and new allocations never double-allocate', () => {
    const region = new SimRegion(2 << 20)
    let h = Heap.createIn(region, SMALL)
    const r = mulberry32(9)
    const kept: number[] = []
    for (let i = 0; i < 6000; i++) kept.push(h.alloc(16 + Math.floor(r() * 200)))
    for (let i = 0; i < kept.length; i += 3) h.free(kept[i])
    const live = kept.filter((_, i) => i % 3 !== 0)
    h.close()
    const reopened = new SimRegion(region.durableImage())
    h = Heap.openIn(reopened)
    expect(h.recovery.clean).to.equal(true)
    const shadow = new Shadow()
    for (const p of live) shadow.live.set(p, h.usableSize(p))
    // Free half of the survivors (blocks of many unbuilt runs go through the caches and spill),
    // then allocate: the rebuilt free lists must not hold a block the cache holds, or one still live.
    for (let i = 0; i < live.length; i += 2) { h.free(live[i]); shadow.live.delete(live[i]) }
    expectClean(h, 'after the frees into unbuilt runs')
    for (let i = 0; i < 6000; i++) {
      const size = 16 + Math.floor(r() * 200)
      shadow.add(h, h.alloc(size), size)
    }
    shadow.noOverlap()
    expectClean(h, 'after the allocations')
    h.close()
    const again = Heap.openIn(new SimRegion(reopened.durableImage()))
    expect(again.recovery.reason).to.equal('clean')
    expect(again.stats().liveBlocks).to.equal(shadow.live.size)
  })

  it('keeps working across growth of the region (new views): dirty blocks come back zeroed, frees span old and new chunks', () => {
    const region = new SimRegion(256 * 1024)
    const h = Heap.createIn(region, { ...SMALL, maxSize: 2 << 20 })
    const ps: number[] = []
    while (region.size === 256 * 1024) ps.push(h.alloc(64))
    for (let i = 0; i < 8000; i++) ps.push(h.alloc(64)) // grows again, probably
    for (const p of ps) h.bytes.fill(0x5a, p, p + 64)
    for (let i = 0; i < ps.length; i += 2) h.free(ps[i])
    for (let i = 0; i < ps.length; i += 2) {
      const p = h.alloc(64)
      expect(h.bytes.subarray(p, p + 64).every((b) => b === 0), `block ${p} is zero`).to.equal(true)
    }
    expectClean(h, 'after the churn across growth')
    expect(h.stats().liveBlocks).to.equal(ps.length)
  })

  it('check() after heavy churn of mixed sizes, and after a crash image of it', () => {
    const region = new SimRegion(4 << 20)
    const h = Heap.createIn(region, SMALL)
    const r = mulberry32(3)
    const live = new Uint32Array(2000)
    for (let i = 0; i < live.length; i++) live[i] = h.alloc(16 + Math.floor(r() * 241))
    for (let i = 0; i < 200_000; i++) {
      const k = Math.floor(r() * live.length)
      h.free(live[k])
      live[k] = h.alloc(16 + Math.floor(r() * 241))
    }
    expectClean(h, 'after 200k pairs')
    // Nothing is reachable from a root: recovery of a crash image frees everything.
    h.drain()
    const after = Heap.openIn(new SimRegion(region.crash({ mode: 'strict' })))
    expect(after.recovery.liveBlocks).to.equal(0)
    expectClean(after, 'after recovery')
  })

  it('inside a transaction: frees wait for the commit, a block allocated and freed inside is reusable at once, an abort frees what it allocated', () => {
    const h = Heap.createIn(new SimRegion(1 << 20), SMALL)
    const old = h.alloc(64)
    h.transaction(() => {
      h.free(old)
      expect(h.isAllocated(old), 'a free inside a transaction waits for the commit').to.equal(true)
      expect(() => h.free(old)).to.throw(InvalidPointerError, /freed twice in this transaction/)
      const a = h.alloc(64)
      h.free(a)
      expect(h.alloc(64)).to.equal(a)
    })
    expect(h.isAllocated(old)).to.equal(false)
    const before = h.stats().liveBlocks
    expect(() => h.transaction(() => { for (let i = 0; i < 500; i++) h.alloc(48); throw new Error('abort') })).to.throw('abort')
    expect(h.stats().liveBlocks).to.equal(before)
    expectClean(h, 'after the abort')
  })

  it('check() reports a cache that breaks its invariant (a planted allocated block in it)', () => {
    const h = Heap.createIn(new SimRegion(1 << 20), SMALL)
    const p = h.alloc(64)
    const q = h.alloc(64)
    h.free(q)
    const chunks = (h as unknown as { chunks: ChunkSpace }).chunks
    const sc = chunks.classes.classOf(64)
    chunks.cache[sc * 256 + chunks.cacheTop[sc] - 1] = p // the cached q becomes the live p
    expect(h.check().violations.join('\n')).to.match(/cache of class \d+: block \d+ allocated/)
  })

  it('check() reports a chunk that is not a run but has a class (the fast free would take it for one)', () => {
    const h = Heap.createIn(new SimRegion(1 << 20), SMALL)
    h.free(h.alloc(64))
    const chunks = (h as unknown as { chunks: ChunkSpace }).chunks
    const free = chunks.kind.indexOf(0) // a FREE chunk
    chunks.cls[free] = 3
    expect(h.check().violations.join('\n')).to.match(new RegExp(`chunk ${free}: volatile kind 0 but class 3`))
  })

  describe('crash recovery over churn (SimRegion, every drain)', () => {
    it('recovers at every drain, strict and random survivors', () => {
      expect(runCrashes({ workload: churnWorkload, seed: 1, ops: 40, at: 'every', randomImages: 1 })).to.be.greaterThan(40)
    })
    it('with a precise tracer, and on an at-drain region', () => {
      runCrashes({ workload: churnWorkload, seed: 2, ops: 30, at: 'every', randomImages: 1, precise: true })
      runCrashes({ workload: churnWorkload, seed: 3, ops: 30, at: 'every', randomImages: 1, writeBack: 'at-drain' })
    })
    const proto = ChunkSpace.prototype as unknown as Record<string, unknown>
    function expectCaught(method: string, planted: unknown): string {
      const original = proto[method]
      proto[method] = planted
      let failure: unknown = null
      try {
        runCrashes({ workload: churnWorkload, seed: 7, ops: 40, at: 'every', randomImages: 1 })
      } catch (e) {
        failure = e
      } finally {
        proto[method] = original
      }
      expect(failure, 'the planted bug was not found').to.be.instanceOf(Error)
      expect(failure).not.to.be.instanceOf(TypeError)
      return String(failure)
    }
    it('finds a planted bug: a run claimed by a refill whose table entry is never flushed', () => {
      const writeEntry = proto.writeEntry as (...a: number[]) => void
      const msg = expectCaught('writeEntry', function (this: ChunkSpace, c: number, kind: number, cls: number, arg: number) {
        const region = (this as unknown as { mem: { region: { flush: unknown } } }).mem.region
        const flush = region.flush
        region.flush = () => {}
        try { writeEntry.call(this, c, kind, cls, arg) } finally { region.flush = flush }
      })
      expect(msg).to.match(/after recovery/)
    })
    it('finds a planted bug: a run released while the cache still holds some of its blocks (no purge)', () => {
      expectCaught('purge', () => {})
    })
  })
})
