/**
 * Online collection: objects live exactly while reachable from a root or a live handle, and
 * a reference never reads back another object. The fuzzer drops handles for real and lets V8
 * collect them (mocha runs with --expose-gc).
 */
import 'reflect-metadata'
import { expect } from 'chai'
import { SimRegion, TransactionError, mulberry32 } from '@makalu/allocator'
import { PHeap, PArray, Persistent, field, FreedObjectError, PreciseTracer, reachable, settleHandles } from '../src'
import { Account } from './models'

@Persistent('gc.GNode')
class GNode {
  @field.i32 id!: number
  @field() label!: string
  @field.ref(() => GNode) a!: GNode | null
  @field.ref(() => GNode) b!: GNode | null
  @field.array(() => GNode) kids!: PArray<GNode | null> | null
}
const TYPES = [GNode, Account]

/** Ends the job and runs V8's full collection (mocha runs with --expose-gc, see .mocharc.json). */
async function dropHandles(): Promise<void> {
  if (!(global as { gc?: unknown }).gc) throw new Error('run mocha with --expose-gc (see .mocharc.json)')
  await settleHandles()
}

function reopen(region: SimRegion, heap: PHeap, types: Function[] = TYPES): { region: SimRegion; heap: PHeap } {
  heap.close()
  const r = new SimRegion(region.durableImage())
  return { region: r, heap: PHeap.openIn(r, { types: types as never, gc: false }) }
}

describe('pobj gc: references never lie', () => {
  it('a.friend = c, c dropped: gc keeps c through a; unlinked and collected, a new object never shows through a', async () => {
    const region = new SimRegion(1 << 20)
    const heap = PHeap.createIn(region, { types: TYPES, gc: false })
    const a = heap.new(GNode, { id: 1, label: 'a' })
    heap.setRoot('a', a)
    ;(() => { a.a = heap.new(GNode, { id: 3, label: 'c' }) })()
    await dropHandles()
    expect(heap.gc().freedBlocks).to.equal(0)
    expect([a.a!.id, a.a!.label]).to.deep.equal([3, 'c'])
    a.a = null
    await dropHandles()
    const r = heap.gc()
    expect(r.freedBlocks, 'c and its label').to.equal(2)
    const fresh = Array.from({ length: 20 }, (_, i) => heap.new(GNode, { id: 100 + i, label: 'new' }))
    expect(a.a).to.equal(null)
    expect(fresh.length).to.equal(20)
  })

  it('an array element, a root and a live handle each keep an object; across close and reopen too', async () => {
    let { region, heap } = (() => { const region = new SimRegion(1 << 20); return { region, heap: PHeap.createIn(region, { types: TYPES, gc: false }) } })()
    ;(() => {
      const arr = heap.newArray(GNode, [heap.new(GNode, { id: 1, label: 'in array' }), null])
      heap.setRoot('arr', arr)
      heap.setRoot('r', heap.new(GNode, { id: 2, label: 'under a root' }))
    })()
    const held = heap.new(GNode, { id: 3, label: 'held only' })
    await dropHandles()
    heap.gc()
    expect(heap.root('arr', PArray<GNode>)!.get(0)!.label).to.equal('in array')
    expect(heap.root('r', GNode)!.label).to.equal('under a root')
    expect(held.label).to.equal('held only')
    ;({ region, heap } = reopen(region, heap))
    expect(heap.gc().freedBlocks, 'the object only a handle held, and its string, after the reopen').to.equal(2)
    expect(heap.root('arr', PArray<GNode>)!.get(0)!.label).to.equal('in array')
    expect(() => held.label).to.throw(/closed/)
  })

  it('gc({ fromHandles: false }) frees what no root reaches; its handles throw FreedObjectError, never show the new object', () => {
    const heap = PHeap.createIn(new SimRegion(1 << 20), { types: TYPES, gc: false })
    const c = heap.new(Account, { owner: 'c', balance: 5 })
    heap.gc({ fromHandles: false })
    const again = heap.new(Account, { owner: 'new', balance: 9 })
    expect(heap.pointerOf(again)).to.be.greaterThan(0)
    expect(() => c.balance).to.throw(FreedObjectError)
    expect(() => heap.setRoot('x', c)).to.throw(FreedObjectError)
  })

  it('1000 unreachable objects are freed by gc, also after a clean close and reopen', () => {
    const region = new SimRegion(4 << 20)
    let heap = PHeap.createIn(region, { types: TYPES, gc: false })
    heap.setRoot('keep', heap.new(Account, { owner: 'k', balance: 1 }))
    const base = heap.stats().used
    for (let i = 0; i < 1000; i++) heap.new(Account, { owner: `junk ${i}`, balance: i })
    expect(heap.stats().used).to.be.greaterThan(base)
    heap = reopen(region, heap).heap
    const r = heap.gc()
    expect(r.freedBlocks).to.equal(2000)
    expect(heap.stats().used).to.equal(base)
    expect(heap.stats().used).to.equal(reachable(heap).bytes)
    expect(heap.check().violations).to.deep.equal([])
  })

  it('traces objects of classes not loaded in this process (from the type table)', () => {
    const region = new SimRegion(1 << 20)
    const heap = PHeap.createIn(region, { types: TYPES, gc: false })
    const n = heap.new(GNode, { id: 1, label: 'top', a: heap.new(GNode, { id: 2, label: 'child' }) })
    n.kids = heap.newArray(GNode, [heap.new(GNode, { id: 3, label: 'kid' })])
    heap.setRoot('n', n)
    const used = heap.stats().used
    let r = reopen(region, heap, [])
    expect(r.heap.gc({ fromHandles: false }).freedBlocks).to.equal(0)
    expect(r.heap.stats().used).to.equal(used)
    r = reopen(r.region, r.heap)
    const top = r.heap.root('n', GNode)!
    expect([top.a!.label, top.kids!.get(0)!.label]).to.deep.equal(['child', 'kid'])
  })
})

describe('pobj gc: policy, transactions, stats', () => {
  it('refuses gc() inside a transaction; the automatic policy runs after it', () => {
    const heap = PHeap.createIn(new SimRegion(1 << 20), { types: TYPES, gc: { growth: 0, minBytes: 0 } })
    heap.transaction(() => {
      expect(() => heap.gc()).to.throw(TransactionError, /inside a transaction/)
      for (let i = 0; i < 10; i++) heap.new(Account, { owner: 'x', balance: i })
    })
    const after = heap.stats().gc.collections
    expect(after).to.be.greaterThan(0)
    heap.new(Account, { owner: 'y', balance: 0 })
    expect(heap.stats().gc.collections).to.be.greaterThan(after)
  })

  it('collects by allocation volume: garbage made across jobs stays bounded; gc: false never collects', async () => {
    for (const gc of [{ minBytes: 64 << 10 }, false] as const) {
      const heap = PHeap.createIn(new SimRegion(16 << 20), { types: TYPES, gc, maxSize: 16 << 20 })
      let peak = 0
      for (let round = 0; round < 20; round++) {
        for (let i = 0; i < 500; i++) heap.new(Account, { owner: `garbage ${round}/${i}`, balance: i })
        peak = Math.max(peak, heap.stats().used)
        await dropHandles()
      }
      const s = heap.stats()
      if (gc) {
        expect(s.gc.collections).to.be.greaterThan(3)
        expect(s.gc.totalMs).to.be.at.least(s.gc.lastMs)
        expect(peak, 'bounded by the policy, not by the garbage made (20 × 500 objects)').to.be.below(20 * 500 * 64)
      } else {
        expect(s.gc.collections).to.equal(0)
        expect(s.used).to.be.at.least(20 * 500 * 64)
      }
      heap.close()
    }
  })

  it('refuses a bad policy with a typed error', () => {
    for (const bad of [{ growth: -1 }, { growth: NaN }, { minBytes: 1.5 }, 'often']) {
      expect(() => PHeap.createIn(new SimRegion(1 << 20), { types: TYPES, gc: bad as never }), JSON.stringify(bad)).to.throw(/pobj: (the )?gc/)
    }
  })
})

/**
 * The shadow-model fuzzer: random graphs of GNodes (refs, ref arrays, strings, cycles),
 * relinking, roots set and cleared, handles kept and dropped, gc() and reopen at random.
 * After every gc: every object reachable from a root or a kept handle reads back as the
 * model says, and used bytes equal the bytes reachable from them (nothing kept, nothing lost).
 */
interface MNode { label: string; a: number | null; b: number | null; kids: Array<number | null> | null }

/** The fuzzer's world: the heap and its model. Handles are touched only in plain functions,
 *  never across an await (a suspended async frame may keep stale registers alive). */
class FuzzWorld {
  region = new SimRegion(8 << 20)
  heap = PHeap.createIn(this.region, { types: [GNode], gc: false })
  readonly model = new Map<number, MNode>()
  readonly roots = new Map<string, number>()
  kept = new Map<number, GNode>()
  nextId = 1
  gcs = 0
  freed = 0
  constructor(readonly rand: () => number) {}

  pick<T>(xs: T[]): T { return xs[Math.floor(this.rand() * xs.length)] }

  /** The model's live ids: reachable from the roots and the kept handles. */
  live(): Set<number> {
    const seen = new Set<number>()
    const stack = [...this.roots.values(), ...this.kept.keys()]
    while (stack.length > 0) {
      const id = stack.pop()!
      if (seen.has(id)) continue
      seen.add(id)
      const m = this.model.get(id)!
      for (const k of [m.a, m.b, ...(m.kids ?? [])]) if (k !== null) stack.push(k)
    }
    return seen
  }

  /** Handles of every live node, found from the roots and the kept handles through the heap. */
  handles(): Map<number, GNode> {
    const out = new Map<number, GNode>()
    const stack: GNode[] = [...[...this.roots.keys()].map((n) => this.heap.root(n, GNode)!), ...this.kept.values()]
    while (stack.length > 0) {
      const h = stack.pop()!
      if (out.has(h.id)) continue
      out.set(h.id, h)
      for (const k of [h.a, h.b, ...(h.kids?.toArray() ?? [])]) if (k) stack.push(k)
    }
    return out
  }

  verify(where: string): void {
    const want = [...this.live()].sort((x, y) => x - y)
    const got = this.handles()
    expect([...got.keys()].sort((x, y) => x - y), `${where}: the live ids`).to.deep.equal(want)
    for (const [id, h] of got) {
      const view = { label: h.label, a: h.a?.id ?? null, b: h.b?.id ?? null, kids: h.kids ? h.kids.toArray().map((k) => k?.id ?? null) : null }
      expect(view, `${where}: node ${id}`).to.deep.equal(this.model.get(id))
    }
  }

  anyLive(): GNode | null { const hs = [...this.handles().values()]; return hs.length ? this.pick(hs) : null }

  /** One random step; says whether a collection (after the JS engine's) is due. */
  step(step: number): 'gc' | 'none' {
    const { rand, heap, model } = this
    const x = rand()
    if (x < 0.25 || model.size === 0) {
      const id = this.nextId++
      const label = rand() < 0.3 ? '' : `n${id}-${'z'.repeat(Math.floor(rand() * 40))}`
      this.kept.set(id, heap.new(GNode, { id, label }))
      model.set(id, { label, a: null, b: null, kids: null })
    } else if (x < 0.45) {
      const from = this.anyLive(), to = rand() < 0.2 ? null : this.anyLive()
      if (from) {
        const f = rand() < 0.5 ? 'a' : 'b'
        from[f] = to
        model.get(from.id)![f] = to ? to.id : null
      }
    } else if (x < 0.52) {
      const from = this.anyLive()
      if (from) {
        const kids = Array.from({ length: Math.floor(rand() * 4) }, () => (rand() < 0.2 ? null : this.anyLive()))
        heap.transaction(() => { from.kids = heap.newArray(GNode, kids) })
        model.get(from.id)!.kids = kids.map((k) => k?.id ?? null)
      }
    } else if (x < 0.58) {
      const from = this.anyLive()
      if (from) { from.label = `re${step}`; model.get(from.id)!.label = `re${step}` }
    } else if (x < 0.66) {
      const h = this.anyLive()
      const name = `r${Math.floor(rand() * 4)}`
      if (h && rand() < 0.6) { heap.setRoot(name, h); this.roots.set(name, h.id) } else { heap.setRoot(name, null); this.roots.delete(name) }
    } else if (x < 0.80) {
      for (const id of [...this.kept.keys()]) if (rand() < 0.5) this.kept.delete(id) // drop some handles
    } else if (x < 0.96) {
      return 'gc'
    } else {
      this.heap.close()
      this.region = new SimRegion(this.region.durableImage())
      this.heap = PHeap.openIn(this.region, { types: [GNode], gc: false })
      this.kept = new Map()
      this.verify(`step ${step}, after reopen`)
    }
    return 'none'
  }

  /** gc(), then: the model's live objects read back, and used bytes = bytes reachable from roots and kept handles. */
  collectAndVerify(where: string): void {
    const heap = this.heap
    const before = heap.stats().used
    const r = heap.gc()
    this.gcs++
    this.freed += r.freedBlocks
    this.verify(where)
    const expected = reachable(heap, [...this.kept.values()])
    expect(heap.stats().used, `${where}: used bytes after gc = bytes reachable from roots and kept handles`).to.equal(expected.bytes)
    expect(before - heap.stats().used).to.equal(r.freedBytes)
    expect(heap.check().violations).to.deep.equal([])
  }
}

async function fuzz(seed: number, steps: number): Promise<{ gcs: number; freed: number }> {
  const w = new FuzzWorld(mulberry32(seed))
  for (let step = 0; step < steps; step++) {
    if (w.step(step) === 'gc') {
      await dropHandles()
      w.collectAndVerify(`seed ${seed}, step ${step}`)
    }
  }
  w.heap.close()
  return { gcs: w.gcs, freed: w.freed }
}

describe('pobj gc: shadow-model fuzzer', function () {
  this.timeout(120_000)
  it('keeps exactly what roots and live handles reach, over random graphs (8 seeds × 250 steps)', async () => {
    let gcs = 0, freed = 0
    for (let seed = 1; seed <= 8; seed++) {
      const r = await fuzz(seed, 250)
      gcs += r.gcs
      freed += r.freed
    }
    expect(gcs).to.be.greaterThan(100)
    expect(freed, 'the fuzzer made garbage and saw it freed').to.be.greaterThan(200)
  })

  it('catches a planted bug: a tracer that skips the elements of ref arrays', async () => {
    const proto = PreciseTracer.prototype as unknown as { trace: PreciseTracer['trace'] }
    const trace = proto.trace
    proto.trace = function (this: PreciseTracer, bytes, ptr, size, visit) {
      if (new Uint32Array(bytes.buffer, bytes.byteOffset + ptr, 1)[0] === 2) return // TAG_ARRAY
      trace.call(this, bytes, ptr, size, visit)
    }
    let failure: unknown = null
    try {
      for (let seed = 1; seed <= 8 && !failure; seed++) await fuzz(seed, 250)
    } catch (e) { failure = e } finally { proto.trace = trace }
    expect(failure, 'the planted bug went unnoticed').to.be.instanceOf(Error)
  })

  it('catches a planted bug: a collection that ignores live handles', async () => {
    const proto = PHeap.prototype as unknown as { gc: (o?: { fromHandles?: boolean }) => unknown }
    const gc = proto.gc
    proto.gc = function (this: PHeap) { return gc.call(this, { fromHandles: false }) }
    let failure: unknown = null
    try {
      for (let seed = 1; seed <= 8 && !failure; seed++) await fuzz(seed, 250)
    } catch (e) { failure = e } finally { proto.gc = gc }
    expect(failure, 'the planted bug went unnoticed').to.be.instanceOf(Error)
  })
})
