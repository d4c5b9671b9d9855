/**
 * Power-failure crash images of the map + list workload on SimRegion: the region
 * builds a possible post-crash image at a drain (strict: nothing unflushed
 * survives; random: each dirty 8-byte word survives or not, seeded), the image is
 * reopened with `new SimRegion(image)` and must hold the state after the ops done
 * or after the op in flight, with check() clean and nothing leaked.
 */
import { expect } from 'chai'
import { SimRegion, mulberry32, CrashMode } from '@makalu/allocator'
import { PHeap } from '@makalu/pobj'
import { Item, Model, emptyModel, cloneModel, applyModel, applyHeap, opAt, matchModel, checkHeapSound, LIST } from './workload'
import { PersistentList, PersistentMap, testHooks } from '@makalu/examples'

const { BlockIO } = testHooks
type BlockIO = InstanceType<typeof BlockIO>

const REGION = 1 << 20
const HEAP_OPTS = { chunkSize: 4096, logSize: 16 * 1024, rootCapacity: 16 }

interface Run { crashes: number; drains: number; inFlight: number }

/** Runs `ops` ops of workload `seed`, crashing at the drains `pick` chooses, verifying every image. */
function crashRun(seed: number, ops: number, mode: CrashMode, pick: (i: number) => boolean, crashSeed: number): Run {
  const region = new SimRegion(REGION)
  const heap = PHeap.createIn(region, { ...HEAP_OPTS, types: [Item] })
  const list = PersistentList.open(heap, LIST)
  let model: Model = emptyModel()
  let done = 0
  const run: Run = { crashes: 0, drains: 0, inFlight: 0 }
  const rand = mulberry32(crashSeed)
  let failure: Error | null = null
  region.onDrain = (i) => {
    run.drains++
    if (failure || !pick(i)) return
    const img = region.crash({ mode, seed: Math.floor(rand() * 2 ** 31) })
    run.crashes++
    try {
      const h = PHeap.openIn(new SimRegion(img), { types: [Item] })
      try {
        if (matchModel(h, cloneModel(model), seed, done) > done) run.inFlight++
        checkHeapSound(h)
      } finally { h.close() }
    } catch (e) {
      failure = e as Error
      failure.message = `seed ${seed}, ${mode} crash at drain ${i} after ${done} ops (op ${done}: ${JSON.stringify(opAt(seed, done, model.list.length))}): ${failure.message}`
    }
  }
  for (let k = 0; k < ops && !failure; k++) {
    const op = opAt(seed, k, list.length)
    applyHeap(heap, op)
    applyModel(model, op)
    done++
  }
  region.onDrain = null
  heap.close()
  if (failure) throw failure
  model = emptyModel()
  return run
}

describe('crash images (SimRegion, power-failure semantics)', function () {
  this.timeout(0)

  it('crashes at every drain (strict), 3 short runs', () => {
    let crashes = 0
    for (const seed of [11, 12, 13]) crashes += crashRun(seed, 70, 'strict', () => true, seed).crashes
    expect(crashes).to.be.greaterThan(500)
  })

  it('crashes at every drain with random survivors, 4 short runs', () => {
    for (const seed of [21, 22, 23, 24]) crashRun(seed, 80, 'random', () => true, seed * 3)
  })

  it('crashes at random drains with random survivors, 20 seeds x 300 ops', () => {
    let crashes = 0
    let inFlight = 0
    for (let seed = 100; seed < 120; seed++) {
      const r = mulberry32(seed)
      const run = crashRun(seed, 300, 'random', () => r() < 0.08, seed)
      crashes += run.crashes
      inFlight += run.inFlight
    }
    expect(crashes).to.be.greaterThan(300)
    expect(inFlight, 'some images hold the op in flight').to.be.greaterThan(0)
  })
})

describe('the crash images find planted bugs in the map and list', function () {
  this.timeout(0)

  /** Plants a bug: inside `proto[method]`, the first BlockIO drain is skipped. Returns the restore. */
  function skipFirstDrainIn(proto: Record<string, unknown>, method: string): () => void {
    const io = BlockIO.prototype as unknown as Record<string, unknown>
    const drain = io.drain as () => void
    const wrapped = proto[method] as (...a: unknown[]) => unknown
    let skip = false
    io.drain = function (this: BlockIO) { if (skip) { skip = false; return } drain.call(this) }
    proto[method] = function (this: unknown, ...a: unknown[]) { skip = true; try { return wrapped.apply(this, a) } finally { skip = false } }
    return () => { io.drain = drain; proto[method] = wrapped }
  }

  function expectCaught(restore: () => void): void {
    let failure: unknown = null
    try {
      for (const seed of [11, 12, 13]) crashRun(seed, 70, 'strict', () => true, seed)
      for (const seed of [21, 22, 23, 24]) crashRun(seed, 80, 'random', () => true, seed * 3)
    } catch (e) {
      failure = e
    } finally {
      restore()
    }
    expect(failure, 'the planted bug was not found').to.be.instanceOf(Error)
    if (process.env.MAKALU_DEBUG) console.log(String(failure).slice(0, 300))
    expect(failure).not.to.be.instanceOf(TypeError)
  }

  it('finds a map insert that publishes its entry before the entry is durable', () => {
    expectCaught(skipFirstDrainIn(PersistentMap.prototype as unknown as Record<string, unknown>, 'publish'))
  })

  it('finds a list push that publishes its item before the item is durable', () => {
    expectCaught(skipFirstDrainIn(PersistentList.prototype as unknown as Record<string, unknown>, 'push'))
  })
})
