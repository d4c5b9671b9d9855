import { expect } from 'chai'
import { Heap, WriteBack } from '../src'
import { ChunkSpace } from '../src/chunk-space'
import { workloads, rootsWorkload } from './support/workloads'
import { runCrashes } from './support/crash-harness'

const SOAK = Number(process.env.MAKALU_SOAK ?? 0)

describe('heap crash recovery on SimRegion', function () {
  this.timeout(600_000)
  for (const w of workloads) {
    describe(w.name, () => {
      it('recovers at every drain (strict and random survivors)', () => {
        const n = runCrashes({ workload: w, seed: 1, ops: 60, at: 'every', randomImages: 2 })
        expect(n).to.be.greaterThan(60)
      })
      if (w.tracer) {
        it('recovers at every drain with a precise tracer', () => {
          runCrashes({ workload: w, seed: 2, ops: 40, at: 'every', randomImages: 1, precise: true })
        })
      }
      it(`recovers at random points with random survivors (${SOAK ? 2000 : 150} seeds)`, () => {
        for (let seed = 100; seed < 100 + (SOAK ? 2000 : 150); seed++) {
          runCrashes({ workload: w, seed, ops: 80, at: 'random', randomImages: 3 })
        }
      })
      it(`on an 'at-drain' region (the file backend's model): every drain, and ${SOAK ? 1000 : 60} random seeds`, () => {
        runCrashes({ workload: w, seed: 3, ops: 60, at: 'every', randomImages: 3, writeBack: 'at-drain' })
        for (let seed = 500; seed < 500 + (SOAK ? 1000 : 60); seed++) {
          runCrashes({ workload: w, seed, ops: 80, at: 'random', randomImages: 3, writeBack: 'at-drain' })
        }
      })
    })
  }
})

describe('the crash harness finds planted bugs', function () {
  this.timeout(120_000)
  const heapProto = Heap.prototype as unknown as Record<string, unknown>

  function expectCaught(plant: () => () => void, w: (typeof workloads)[number], writeBack: WriteBack = 'any-time', precise = false): void {
    const restore = plant()
    let failure: unknown = null
    try {
      runCrashes({ workload: w, seed: 7, ops: 40, at: 'every', randomImages: 2, writeBack, precise })
    } catch (e) {
      failure = e
    } finally {
      restore()
    }
    expect(failure, 'the planted bug was not found').to.be.instanceOf(Error)
    if (process.env.MAKALU_DEBUG) console.log(String(failure).slice(0, 300))
    expect(failure).not.to.be.instanceOf(TypeError)
  }

  it('finds a snapshot that does not drain before the change', () => {
    expectCaught(() => {
      const original = heapProto.drain as () => void
      const snapshot = heapProto.snapshot as (p: number, l: number) => void
      let skip = false
      heapProto.drain = function (this: Heap) { if (!skip) original.call(this) }
      heapProto.snapshot = function (this: Heap, p: number, l: number) { skip = true; try { snapshot.call(this, p, l) } finally { skip = false } }
      return () => { heapProto.drain = original; heapProto.snapshot = snapshot }
    }, workloads[1])
  })

  const unflushedClaim = (): () => void => {
    const proto = ChunkSpace.prototype as unknown as Record<string, unknown>
    const writeEntry = proto.writeEntry as (...a: number[]) => void
    proto.writeEntry = function (this: ChunkSpace, c: number, kind: number, cls: number, arg: number) {
      const region = (this as unknown as { mem: { region: { flush: unknown } } }).mem.region
      const flush = region.flush
      region.flush = () => {}
      try { writeEntry.call(this, c, kind, cls, arg) } finally { region.flush = flush }
    }
    return () => { proto.writeEntry = writeEntry }
  }
  it('finds a chunk claim whose table entry is never flushed', () => {
    expectCaught(unflushedClaim, workloads[0])
  })
  it('finds it with a precise tracer too (recovery treats the pointer into the lost chunk as stale)', () => {
    expectCaught(unflushedClaim, workloads[0], 'any-time', true)
  })

  /** Plants a bug: the first drain inside Heap.prototype[method] is skipped. */
  function skipFirstDrainIn(method: string): () => () => void {
    return () => {
      const wrapped = heapProto[method] as (...a: unknown[]) => unknown
      const original = heapProto.drain as () => void
      let skip = false
      heapProto.drain = function (this: Heap) { if (skip) { skip = false; return } original.call(this) }
      heapProto[method] = function (this: Heap, ...a: unknown[]) { skip = true; try { return wrapped.apply(this, a) } finally { skip = false } }
      return () => { heapProto.drain = original; heapProto[method] = wrapped }
    }
  }

  it('finds a commit that does not drain the data before marking the log committed', () => {
    expectCaught(skipFirstDrainIn('commit'), workloads[1])
  })

  it("finds, on an 'at-drain' region, a commit that does not drain the undo entries before the data", () => {
    expectCaught(skipFirstDrainIn('commit'), workloads[1], 'at-drain')
  })

  it('finds a root slot reused in a transaction whose old name is not logged (only its pointer)', () => {
    const plant = () => {
      const snapshot = heapProto.snapshot as (p: number, l: number) => void
      heapProto.snapshot = function (this: Heap, p: number, l: number) {
        snapshot.call(this, p, p < this.dataOffset ? Math.min(l, 8) : l)
      }
      return () => { heapProto.snapshot = snapshot }
    }
    expectCaught(plant, rootsWorkload)
    expectCaught(plant, rootsWorkload, 'at-drain')
  })
})
