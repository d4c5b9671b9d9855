/**
 * Growable arrays (persistent-array.ts): Array's semantics against a JS array as the shadow
 * model, transactions (a roll-back is seen in memory too), string elements and their blocks,
 * reopen, heap.check(); and crash recovery at every drain of a workload of pushes, pops and
 * splices across several capacity steps (crash-harness.ts).
 */
import 'reflect-metadata'
import { expect } from 'chai'
import { inspect } from 'util'
import { SimRegion, mulberry32 } from '@makalu/allocator'
import { PHeap, PArray, Persistent, field, FieldTypeError, IndexRangeError, FixedArrayError, ForeignHandleError } from '../src'
import { Workload, referenceStates, crashRun } from './crash-harness'
import { reachable } from './helpers'

@Persistent('arrays.Item')
class Item {
  @field.string label!: string
}

@Persistent('arrays.Bag')
class Bag {
  @field.array('f64') nums!: PArray<number> | null
  @field.array('string') strs!: PArray<string> | null
  @field.array(() => Item) items!: PArray<Item | null> | null
  @field.array('i64') bigs!: PArray<bigint> | null
}

const TYPES = [Item, Bag]

function fresh(size = 4 << 20): { region: SimRegion; heap: PHeap } {
  const region = new SimRegion(size)
  return { region, heap: PHeap.createIn(region, { types: TYPES, gc: false }) }
}

function clean(heap: PHeap): void {
  const c = heap.check()
  expect(c.violations).to.deep.equal([])
  const live = reachable(heap)
  expect(live.unknown).to.equal(0)
}

describe('pobj growable arrays', () => {
  it('push, pop, splice, length, at, indexOf, includes, iteration behave as Array (shadow model, numbers and strings)', () => {
    const { heap } = fresh()
    const rand = mulberry32(3)
    const nums = heap.newArray('f64', [])
    const strs = heap.newArray('string', [])
    heap.root('bag', () => heap.new(Bag, { nums, strs }))
    const sn: number[] = []
    const ss: string[] = []
    const word = (): string => ['', 'a', 'héllo', 'x'.repeat(300), '\ud800lone', 'zz'][Math.floor(rand() * 6)]
    const num = (): number => [0, -0, 1.5, NaN, Infinity, 42][Math.floor(rand() * 6)]
    for (let step = 0; step < 600; step++) {
      const r = Math.floor(rand() * 8)
      const idx = Math.floor(rand() * 12) - 4
      const cnt = Math.floor(rand() * 4)
      const inTx = rand() < 0.3
      const run = (f: () => void): void => { if (inTx) heap.transaction(f); else f() }
      run(() => {
        switch (r) {
          case 0: case 1: {
            const xs = Array.from({ length: cnt }, num)
            const ys = Array.from({ length: cnt }, word)
            expect(nums.push(...xs)).to.equal(sn.push(...xs))
            expect(strs.push(...ys)).to.equal(ss.push(...ys))
            break
          }
          case 2: expect(nums.pop()).to.deep.equal(sn.pop()); expect(strs.pop()).to.equal(ss.pop()); break
          case 3: {
            const xs = Array.from({ length: cnt }, num)
            const ys = Array.from({ length: cnt }, word)
            expect(nums.splice(idx, cnt, ...xs)).to.deep.equal(sn.splice(idx, cnt, ...xs))
            expect(strs.splice(idx, cnt, ...ys)).to.deep.equal(ss.splice(idx, cnt, ...ys))
            break
          }
          case 4: expect(nums.splice(idx)).to.deep.equal(sn.splice(idx)); expect(strs.splice(idx)).to.deep.equal(ss.splice(idx)); break
          case 5: {
            const m = Math.max(0, sn.length + idx)
            nums.length = m; sn.length = m
            for (let i = 0; i < m; i++) if (sn[i] === undefined) sn[i] = 0
            strs.length = Math.min(m, ss.length) // strings: truncation
            ss.length = Math.min(m, ss.length)
            break
          }
          case 6: if (sn.length > 0) { const i = Math.floor(rand() * sn.length); const x = num(); nums.set(i, x); sn[i] = x } break
          case 7: if (ss.length > 0) { const i = Math.floor(rand() * ss.length); const y = word(); strs.set(i, y); ss[i] = y } break
        }
      })
      expect(nums.length).to.equal(sn.length)
      expect(strs.toArray()).to.deep.equal(ss)
      expect([...nums]).to.deep.equal(sn)
      expect(nums.at(idx)).to.deep.equal(sn.at(idx))
      expect(strs.at(idx)).to.equal(ss.at(idx))
      const probe = num()
      expect(nums.indexOf(probe)).to.equal(sn.indexOf(probe))
      expect(nums.includes(probe)).to.equal(sn.includes(probe))
      const w = word()
      expect(strs.indexOf(w)).to.equal(ss.indexOf(w))
      expect(strs.includes(w, idx)).to.equal(ss.includes(w, idx))
    }
    clean(heap)
    // Every string block is referenced by exactly the live elements: nothing leaked, nothing freed early.
    heap.gc({ fromHandles: false })
    expect(heap.stats().strings.count).to.equal(ss.filter((s) => s !== '').length)
    heap.close()
  })

  it('keeps its identity when it grows: the field, the root and the handle see every push; reopen sees them too', () => {
    const { region, heap } = fresh()
    const a = heap.newArray('f64', [])
    const bag = heap.root('bag', () => heap.new(Bag, { nums: a }))
    const ptr = heap.pointerOf(a)
    for (let i = 0; i < 1000; i++) a.push(i)
    expect(heap.pointerOf(a)).to.equal(ptr)
    expect(bag.nums).to.equal(a)
    expect(bag.nums!.length).to.equal(1000)
    expect(a.at(-1)).to.equal(999)
    clean(heap)
    heap.close()
    const again = PHeap.openIn(new SimRegion(region.durableImage()), { types: TYPES })
    expect(again.root('bag', Bag)!.nums!.toArray()).to.deep.equal(Array.from({ length: 1000 }, (_, i) => i))
    again.close()
  })

  it('ref elements: push handles, find them by identity, null allowed; a wrong class or a foreign handle throws with nothing changed', () => {
    const { heap } = fresh()
    const other = fresh().heap
    const items = heap.newArray(Item, 0)
    const bag = heap.root('bag', () => heap.new(Bag, { items }))
    const xs = Array.from({ length: 10 }, (_, i) => heap.new(Item, { label: `i${i}` }))
    items.push(...xs, null)
    expect(items.indexOf(xs[7])).to.equal(7)
    expect(items.includes(null)).to.equal(true)
    expect(items.indexOf(other.new(Item, { label: 'x' }))).to.equal(-1)
    expect(() => items.push(xs[0], heap.new(Bag) as never)).to.throw(FieldTypeError, /item 1: expected a Item handle or null/)
    expect(() => items.push(other.new(Item, { label: 'y' }))).to.throw(ForeignHandleError)
    expect(items.length).to.equal(11)
    expect(items.splice(2, 3).map((x) => x!.label)).to.deep.equal(['i2', 'i3', 'i4'])
    expect(bag.items!.toArray().map((x) => x?.label ?? null)).to.deep.equal(['i0', 'i1', 'i5', 'i6', 'i7', 'i8', 'i9', null])
    clean(heap)
    heap.close()
    other.close()
  })

  it('bad values are FieldTypeError / IndexRangeError and change nothing, in and outside transactions', () => {
    const { heap } = fresh()
    const a = heap.newArray('i64', [1n, 2n])
    const s = heap.newArray('string', ['a'])
    const used = heap.stats().used
    expect(() => a.push(3n, 4 as never)).to.throw(FieldTypeError, /array\.push: item 1: expected an i64/)
    expect(() => s.splice(0, 1, 'b', 7 as never)).to.throw(FieldTypeError, /expected a string/)
    expect(() => s.set(0, null as never)).to.throw(FieldTypeError)
    expect(() => a.get(2)).to.throw(IndexRangeError)
    expect(() => { a.length = -1 }).to.throw(IndexRangeError)
    expect(() => { a.length = 1.5 }).to.throw(IndexRangeError)
    expect(() => heap.newArray('string', ['ok', 3 as never])).to.throw(FieldTypeError)
    expect(heap.stats().used).to.equal(used)
    expect(a.toArray()).to.deep.equal([1n, 2n])
    expect(s.toArray()).to.deep.equal(['a'])
    heap.close()
  })

  it('inside a transaction: joins it; a roll-back restores length and elements in memory and frees what it made', () => {
    const { heap } = fresh()
    const s = heap.newArray('string', ['keep0', 'keep1'])
    const n = heap.newArray('f64', [1, 2, 3])
    heap.root('bag', () => heap.new(Bag, { strs: s, nums: n }))
    heap.gc({ fromHandles: false })
    const used = heap.stats().used
    expect(() => heap.transaction(() => {
      s.pop(); s.push('x'.repeat(500)); for (let i = 0; i < 100; i++) s.push(`s${i}`) // grows: a new elements block
      n.pop(); n.pop(); n.push(9); n.splice(0, 1, 7, 7, 7)
      n.length = 0
      expect(s.length).to.equal(102)
      throw new Error('abort')
    })).to.throw('abort')
    expect(s.toArray()).to.deep.equal(['keep0', 'keep1'])
    expect(n.toArray()).to.deep.equal([1, 2, 3])
    expect(heap.stats().used).to.equal(used)
    // The same in a committed transaction, then the strings replaced are freed.
    heap.transaction(() => { s.pop(); s.push('new'); n.push(4) })
    heap.gc({ fromHandles: false })
    expect(s.toArray()).to.deep.equal(['keep0', 'new'])
    expect(n.toArray()).to.deep.equal([1, 2, 3, 4])
    expect(heap.stats().strings.count).to.equal(2)
    clean(heap)
    heap.close()
  })

  it('fixed arrays (newFixedArray) read as before and refuse length changes with FixedArrayError', () => {
    const { heap } = fresh()
    const f = heap.newFixedArray('u32', 3)
    f.set(1, 5)
    expect(f.toArray()).to.deep.equal([0, 5, 0])
    expect(f.growable).to.equal(false)
    expect(() => f.push(1)).to.throw(FixedArrayError)
    expect(() => f.pop()).to.throw(FixedArrayError)
    expect(() => { f.length = 1 }).to.throw(FixedArrayError)
    expect(f.length).to.equal(3)
    heap.close()
  })

  it('prints and serialises as its elements; toPlain/fromPlain round-trips string arrays', () => {
    const { heap } = fresh()
    const bag = heap.root('bag', () => heap.new(Bag, { strs: heap.newArray('string', ['a', '', '\udc00']), nums: heap.newArray('f64', [1]) }))
    bag.nums!.push(2)
    expect(inspect(bag.strs)).to.equal('PArray<string>(3) ["a","","\\udc00"]')
    expect(JSON.parse(JSON.stringify(bag.nums))).to.deep.equal([1, 2])
    const copy = heap.fromPlain(Bag, heap.toPlain(bag))
    expect(copy.strs!.toArray()).to.deep.equal(['a', '', '\udc00'])
    copy.strs!.push('more')
    expect(copy.strs!.length).to.equal(4)
    expect(bag.strs!.length).to.equal(3)
    heap.close()
  })

  it('heap.check() reports a damaged array header', () => {
    const { heap } = fresh()
    const a = heap.newArray('f64', [1, 2])
    heap.setRoot('a', a)
    const p = heap.pointerOf(a)
    const s = heap.newArray('string', ['x'])
    heap.setRoot('s', s)
    heap.dv.setUint32(p + 16, heap.dv.getUint32(heap.pointerOf(s) + 16, true), true) // a's elements now s's block
    expect(heap.check().violations.join()).to.match(/elements block \d+ is not an array block of f64/)
    heap.close()
  })
})

// ── crash recovery ─────────────────────────────────────────────────────────

type BagState = { nums: number[]; strs: string[]; items: string[] }

/**
 * Pushes (one and several items), pops, splices, truncations and sets on a number, a string
 * and a ref array, growing across capacity steps (4 → 8 → 16 → 32 → 64). Outside a
 * transaction an operation is ONE array call (each is atomic on its own); inside one
 * (every `txEvery`-th operation) it is the same call on all three arrays, atomic together.
 * A collection now and then frees what was removed, so later blocks reuse freed memory.
 */
function arrayWorkload(name: string, txEvery: number, ops: number): Workload<BagState> {
  return {
    name,
    types: TYPES,
    ops,
    setup(heap) {
      heap.root('bag', () => heap.new(Bag, { nums: heap.newArray('f64', []), strs: heap.newArray('string', []), items: heap.newArray(Item, 0) }))
    },
    op(heap, k, rand) {
      const bag = heap.root('bag', Bag)!
      const r = k < ops / 3 ? k % 2 : Math.floor(rand() * 6)
      const at = rand()
      const act = (which: number): void => {
        const a = which === 0 ? bag.nums! : which === 1 ? bag.strs! : bag.items!
        const v = (i: number): never => (which === 0 ? k + i / 4 : which === 1 ? (i % 3 === 2 ? '' : `s${k}.${i}${'x'.repeat(k % 3 * 20)}`)
          : heap.new(Item, { label: `i${k}.${i}` })) as never
        const n = a.length
        switch (r) {
          case 0: a.push(v(0)); break
          case 1: a.push(v(0), v(1), v(2)); break
          case 2: a.pop(); break
          case 3: a.splice(Math.floor(at * (n + 1)), 2, v(0)); break
          case 4: a.length = Math.max(0, n - 3); break
          case 5: if (n > 0) a.set(Math.floor(at * n), v(1)); break
        }
      }
      // In a transaction, also a pop then a push: the pushed slot held a live element when the transaction began.
      const popPush = (a: PArray<unknown>, x: unknown): void => { if (a.length > 0) { a.pop(); a.push(x) } }
      if (k % txEvery === txEvery - 1) heap.transaction(() => { act(0); act(1); act(2); popPush(bag.nums!, -k); popPush(bag.strs!, `pp${k}`) })
      else act(k % 3)
      if (k % 8 === 7) heap.gc({ fromHandles: false })
    },
    read(heap) {
      const bag = heap.root('bag', Bag)!
      return { nums: bag.nums!.toArray(), strs: bag.strs!.toArray(), items: bag.items!.toArray().map((x) => x?.label ?? '-') }
    },
  }
}

describe('pobj growable arrays: crash recovery (SimRegion at every drain)', function () {
  this.timeout(300_000)
  for (const w of [arrayWorkload('arrays, every 3rd op in a transaction', 3, 120), arrayWorkload('arrays, every op in a transaction', 1, 60)]) {
    describe(w.name, () => {
      const states = referenceStates(w)
      it('the reference run grows across several capacity steps', () => {
        expect(states.length).to.equal(w.ops + 1)
        expect(Math.max(...states.map((s) => s.nums.length + s.strs.length + s.items.length))).to.be.greaterThan(40)
      })
      it('strict crash at every drain (any-time write-back): the state before or after the operation, heap clean', () => {
        const r = crashRun(w, states, { mode: 'strict', partialEvery: 9 })
        expect(r.crashes).to.equal(r.drains)
        expect(r.crashes).to.be.greaterThan(w.ops)
      })
      it('strict crash at every drain, at-drain write-back (the file backend)', () => {
        const r = crashRun(w, states, { mode: 'strict', writeBack: 'at-drain' })
        expect(r.crashes).to.be.greaterThan(w.ops)
      })
      it('random survivors at random drains, several seeds', () => {
        for (let seed = 1; seed <= 3; seed++) {
          const pick = mulberry32(seed * 31)
          crashRun(w, states, { mode: 'random', seed, pick: () => pick() < 0.3 })
        }
      })
    })
  }
})
