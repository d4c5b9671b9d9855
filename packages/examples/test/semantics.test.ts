/**
 * JS semantics of PersistentMap and PersistentList: every scenario runs on a JS Map (Array)
 * and on the persistent one, and the observable results must be equal (chai's deep equal,
 * which tells -0 from +0 and finds NaN equal to NaN).
 */
import { expect } from 'chai'
import { SimRegion, mulberry32 } from '@makalu/allocator'
import { PHeap, Persistent, field } from '@makalu/pobj'
import { PersistentMap, PersistentList, PValue } from '../src'

@Persistent('test.SemTag')
class SemTag {
  @field() name!: string
}

type Key = string | number

/** What the scenarios use of a Map: the common surface of Map and PersistentMap. */
interface MapLike {
  readonly size: number
  get(k: Key): unknown
  has(k: Key): boolean
  set(k: Key, v: unknown): unknown
  delete(k: Key): boolean
  clear(): void
  keys(): Iterator<Key>
  values(): Iterator<unknown>
  entries(): Iterator<[Key, unknown]>
  [Symbol.iterator](): Iterator<[Key, unknown]>
  forEach(cb: unknown, thisArg?: unknown): void
}

/** What the scenarios use of an Array (the list is reached through this loose surface, so the suite compiles before the list has it). */
interface ListLike {
  readonly length: number
  push(...v: unknown[]): number
  unshift(...v: unknown[]): number
  pop(): unknown
  shift(): unknown
  at(i: unknown): unknown
  indexOf(v: unknown, from?: unknown): number
  includes(v: unknown, from?: unknown): boolean
  slice(start?: unknown, end?: unknown): unknown[]
  splice(start?: unknown, deleteCount?: unknown, ...items: unknown[]): unknown[]
  [Symbol.iterator](): Iterator<unknown>
}

function newHeap(): { heap: PHeap; region: SimRegion } {
  const region = new SimRegion(16 << 20)
  return { heap: PHeap.createIn(region, { types: [SemTag] }), region }
}

/** Runs `scenario` on a JS Map and on a PersistentMap; the logs must be deep-equal. */
function sameOnMaps(scenario: (m: MapLike, log: unknown[], obj: (name: string) => object) => void): void {
  const { heap } = newHeap()
  try {
    const tags = new Map<string, object>()
    const obj = (name: string): object => {
      let t = tags.get(name)
      if (!t) tags.set(name, (t = heap.new(SemTag, { name })))
      return t
    }
    const expected: unknown[] = []
    scenario(new Map() as unknown as MapLike, expected, obj)
    const actual: unknown[] = []
    const pm = PersistentMap.open(heap, 'm')
    scenario(pm as unknown as MapLike, actual, obj)
    expect(actual).to.deep.equal(expected)
    pm.check()
  } finally { heap.close() }
}

/** Runs `scenario` on an Array and on a PersistentList; the logs must be deep-equal. */
function sameOnLists(scenario: (l: ListLike, log: unknown[]) => void): void {
  const { heap } = newHeap()
  try {
    const expected: unknown[] = []
    scenario([] as unknown as ListLike, expected)
    const actual: unknown[] = []
    const pl = PersistentList.open(heap, 'l')
    scenario(pl as unknown as ListLike, actual)
    expect(actual).to.deep.equal(expected)
    pl.check()
  } finally { heap.close() }
}

function keysOf(m: MapLike): Key[] { return [...{ [Symbol.iterator]: () => m.keys() }] }
function entriesOf(m: MapLike): Array<[Key, unknown]> { return [...{ [Symbol.iterator]: () => m.entries() }] }
/** Iterates m.entries() and calls `during(step, key)` after each step; logs what was visited. */
function iterate(m: MapLike, log: unknown[], during: (step: number, k: Key) => void): void {
  const it = m.entries()
  let step = 0
  for (let r = it.next(); !r.done; r = it.next()) {
    log.push(r.value)
    during(step++, r.value[0])
    if (step > 1000) throw new Error('iteration does not end')
  }
  log.push('done', it.next().done)
}

describe('PersistentMap behaves like a JS Map', () => {
  it('iterates in insertion order; delete + set moves a key to the end; set of a present key keeps its place', () => {
    sameOnMaps((m, log) => {
      for (const k of ['a', 'b', 'c', 'd', 1, 2, 3]) m.set(k, String(k))
      log.push(keysOf(m))
      m.delete('b'); m.set('b', 'B'); m.set('a', 'A'); m.delete(2); m.set(2, 'two')
      log.push(keysOf(m), entriesOf(m), [...m.values() as unknown as Iterable<unknown>])
      log.push([...(m as unknown as Iterable<unknown>)])
    })
  })

  it('order survives growth, tombstone clean-outs and many deletes', () => {
    sameOnMaps((m, log) => {
      for (let i = 0; i < 300; i++) m.set('k' + ((i * 37) % 101), i)
      for (let i = 0; i < 300; i += 3) m.delete('k' + i)
      for (let i = 0; i < 200; i++) { m.set('x' + i, i); m.delete('x' + (i - 5)) }
      log.push(keysOf(m), m.size)
    })
  })

  it('order holds with sparse insertion numbers (most entries deleted) and across a reopen', () => {
    sameOnMaps((m, log) => {
      for (let i = 0; i < 3000; i++) m.set(i, i)
      for (let i = 0; i < 3000; i++) if (i % 500 !== 7) m.delete(i)
      m.set(7, 'moved?'); m.delete(1507); m.set(1507, 'end')
      log.push(entriesOf(m))
      iterate(m, log, (step) => { if (step === 1) { m.delete(2007); m.set(-1, 'new') } })
    })
    const { heap, region } = newHeap()
    const m = PersistentMap.open<number, number>(heap, 'm')
    const j = new Map<number, number>()
    for (let i = 0; i < 2000; i++) { m.set(i, i); j.set(i, i) }
    for (let i = 0; i < 2000; i++) if (i % 300 !== 5) { m.delete(i); j.delete(i) }
    heap.close()
    const h2 = PHeap.openIn(new SimRegion(region.durableImage()), { types: [SemTag] })
    try {
      const m2 = PersistentMap.open<number, number>(h2, 'm')
      for (const [k, v] of [[5, 50], [-3, 3], [305, 1], [4000, 4]]) { m2.set(k, v); j.set(k, v) }
      m2.delete(905); j.delete(905); m2.set(905, 9); j.set(905, 9)
      expect([...m2]).to.deep.equal([...j])
      m2.check()
    } finally { h2.close() }
  })

  it('entries added during iteration are visited, once, in order (also across a resize)', () => {
    sameOnMaps((m, log) => {
      m.set('a', 1); m.set('b', 2)
      iterate(m, log, (step) => { if (step === 0) for (let i = 0; i < 40; i++) m.set('n' + i, i) })
    })
  })

  it('entries deleted during iteration are not visited; deleting the current one goes on', () => {
    sameOnMaps((m, log) => {
      for (let i = 0; i < 10; i++) m.set(i, 'v' + i)
      iterate(m, log, (step, k) => { if (step === 0) { m.delete(5); m.delete(6) } m.delete(k) })
      log.push(m.size)
    })
  })

  it('a key deleted and set again during iteration is visited again at the end; an update is seen', () => {
    sameOnMaps((m, log) => {
      for (const k of ['a', 'b', 'c']) m.set(k, k)
      iterate(m, log, (step, k) => {
        if (step === 0) { m.delete(k); m.set(k, 'again'); m.set('c', 'C') }
        if (step === 1) { m.delete('x'); m.set('b', 'not seen: already visited') }
      })
    })
  })

  it('clear() during iteration ends it; entries set after the clear are visited', () => {
    sameOnMaps((m, log) => {
      for (let i = 0; i < 5; i++) m.set(i, i)
      iterate(m, log, (step) => { if (step === 1) m.clear() })
      for (let i = 0; i < 5; i++) m.set(i, i)
      iterate(m, log, (step) => { if (step === 1) { m.clear(); m.set('after', 1) } })
    })
  })

  it('an iterator that is done stays done', () => {
    sameOnMaps((m, log) => {
      m.set('a', 1)
      const it = m.keys()
      log.push(it.next(), it.next())
      m.set('b', 2)
      log.push(it.next())
    })
  })

  it('keys are compared by SameValueZero: -0 is 0, NaN is one key, "1" is not 1', () => {
    sameOnMaps((m, log) => {
      m.set(-0, 'minus zero'); log.push(m.get(0), m.has(-0), m.has(0), keysOf(m))
      m.set(0, 'zero'); log.push(m.size, m.get(-0))
      m.set(NaN, 'nan'); m.set(0 / 0, 'nan2'); log.push(m.size, m.get(NaN), m.has(Number('x')))
      m.set('1', 's1'); m.set(1, 'n1'); m.set(1.5, 'f'); m.set(Infinity, 'inf'); m.set(-Infinity, '-inf'); m.set('', 'empty')
      log.push(entriesOf(m))
      log.push(m.delete(-0), m.delete(NaN), m.delete(NaN), keysOf(m))
    })
  })

  it('return values: set returns the map, delete true/false, get undefined for a missing key, clear undefined', () => {
    sameOnMaps((m, log) => {
      log.push(m.set('a', 1) === m, m.delete('a'), m.delete('a'), m.get('a'), m.has('a'), m.size)
      m.set('b', 2)
      log.push(m.clear(), m.size, keysOf(m), m.delete('b'))
    })
  })

  it('every value kind round-trips: numbers (-0, NaN, ±Infinity), strings (empty, non-ASCII, lone surrogate), booleans, null, objects', () => {
    sameOnMaps((m, log, obj) => {
      const values: unknown[] = [0, -0, NaN, Infinity, -Infinity, 1.5, -7, 2 ** 53, '', 'ascii', 'é ü 日本', '\ud800x', true, false, null, obj('t1')]
      values.forEach((v, i) => m.set('k' + i, v))
      values.forEach((v, i) => m.set(i, v))
      log.push(entriesOf(m))
      // Replacing a value of one kind by each other kind.
      values.forEach((v, i) => m.set('k0', v === null ? i : v))
      log.push(m.get('k0'), m.get('k15') === obj('t1'))
    })
  })

  it('forEach(cb, thisArg) calls cb(value, key, map) with thisArg, in order, with mutation like Map', () => {
    sameOnMaps((m, log) => {
      m.set('a', 1); m.set('b', 2); m.set('c', 3)
      const self = { tag: 'this' }
      m.forEach(function (this: unknown, v: unknown, k: unknown, map: unknown, ...rest: unknown[]) {
        log.push([v, k, map === m, this === self, rest.length, arguments.length])
        if (k === 'a') { m.delete('b'); m.set('d', 4) }
      }, self)
      m.forEach(function (this: unknown) { log.push(this === undefined) })
      log.push(m.forEach(() => 0))
    })
  })

  it('forEach with a non-callable callback throws a TypeError, even on an empty map', () => {
    sameOnMaps((m, log) => {
      for (const bad of [undefined, null, 1, 'f', {}]) {
        try { m.forEach(bad); log.push('no throw') } catch (e) { log.push((e as Error).constructor.name) }
      }
    })
  })

  it('a seeded random run (sets, deletes, clears, iteration with mutation, a reopen) matches a JS Map', () => {
    for (const seed of [1, 2, 3]) {
      let region = new SimRegion(16 << 20)
      let heap = PHeap.createIn(region, { types: [SemTag] })
      let pm = PersistentMap.open<Key, PValue>(heap, 'm')
      const jm = new Map<Key, PValue>()
      const r = mulberry32(seed)
      const key = (): Key => { const x = r(); return x < 0.4 ? 'k' + Math.floor(r() * 30) : x < 0.8 ? Math.floor(r() * 30) - 5 : [NaN, -0, 0.5, Infinity][Math.floor(r() * 4)] }
      const value = (i: number): PValue => { const x = r(); return x < 0.4 ? i : x < 0.7 ? 'v' + i : x < 0.8 ? null : x < 0.9 ? x < 0.85 : -0 }
      try {
        for (let i = 0; i < 400; i++) {
          const x = r()
          const k = key()
          const where = `seed ${seed} op ${i}`
          if (x < 0.45) { const v = value(i); expect(pm.set(k, v) === pm, where).to.equal(true); jm.set(k, v) }
          else if (x < 0.7) expect(pm.delete(k), where).to.equal(jm.delete(k))
          else if (x < 0.8) expect(pm.get(k), where).to.deep.equal(jm.get(k))
          else if (x < 0.82) { pm.clear(); jm.clear() }
          else if (x < 0.9) {
            // Iterate both with the same mutations at the same steps.
            const a: unknown[] = []
            const b: unknown[] = []
            const muts: Array<[number, Key, PValue]> = []
            for (let j = 0; j < 4; j++) muts.push([Math.floor(r() * 3), key(), r() < 0.5 ? null : j])
            for (const [m, out] of [[pm, a], [jm, b]] as const) {
              let step = 0
              for (const [kk, vv] of m as Iterable<[Key, PValue]>) {
                out.push(kk, vv)
                const [op, mk, mv] = muts[step % 4]
                if (step++ < 8) { if (op === 0) m.set(mk, mv); else if (op === 1) m.delete(mk); else m.delete(kk) }
              }
            }
            expect(a, where).to.deep.equal(b)
          } else if (x < 0.92) {
            // Reopen in the middle: a clean close and a fresh open of the same image.
            heap.close()
            region = new SimRegion(region.durableImage())
            heap = PHeap.openIn(region, { types: [SemTag] })
            pm = PersistentMap.open<Key, PValue>(heap, 'm')
          } else expect(pm.size, where).to.equal(jm.size)
        }
        expect([...pm], `seed ${seed}`).to.deep.equal([...jm])
        pm.check()
        expect(heap.check().ok).to.equal(true)
      } finally { heap.close() }
    }
  })
})

describe('PersistentList behaves like an Array', () => {
  it('push(...items) and unshift(...items) return the new length; push() and unshift() return the length', () => {
    sameOnLists((l, log) => {
      log.push(l.push(), l.push(1, 2, 3), l.unshift('a', 'b'), l.unshift(), l.push('x'), [...l as Iterable<unknown>])
    })
  })

  it('at(i) converts i like ToIntegerOrInfinity', () => {
    sameOnLists((l, log) => {
      l.push(10, 11, 12, 13)
      for (const i of [0, 1, '1', 1.5, 1.9, -1, -1.5, -4, -5, 4, false, true, null, undefined, NaN, '', 'abc', Infinity, -Infinity, '-2', 3.99999]) log.push(l.at(i))
    })
  })

  it('indexOf is strict (NaN not found, -0 finds 0), includes is SameValueZero (NaN found); both take fromIndex', () => {
    sameOnLists((l, log) => {
      l.push(0, NaN, 'a', 1, 'a', null, false)
      for (const v of [0, -0, NaN, 'a', 1, '1', null, undefined, false, 'zz']) log.push(l.indexOf(v), l.includes(v))
      for (const from of [0, 3, -2, -100, 100, '2', 2.5, undefined]) log.push(l.indexOf('a', from), l.includes('a', from), l.includes(NaN, from))
    })
  })

  it('slice(start, end) like Array (negative, missing, out of range, non-integer bounds)', () => {
    sameOnLists((l, log) => {
      l.push('a', 'b', 'c', 'd', 'e')
      const cases: Array<[unknown, unknown]> = [[undefined, undefined], [1, undefined], [1, 3], [-2, undefined], [-100, 2], [2, 100], [3, 1], ['1', '4'], [1.7, 3.2], [NaN, -1], [0, -0]]
      for (const [s, e] of cases) log.push(l.slice(s, e))
      log.push(l.slice())
    })
  })

  it('set(length, v) appends; pop/shift of an empty list return undefined', () => {
    sameOnLists((l, log) => {
      l.push(1)
      const setAt = (i: number, v: unknown): void => {
        if (Array.isArray(l)) (l as unknown[])[i] = v
        else (l as unknown as { set(i: number, v: unknown): void }).set(i, v)
      }
      setAt(1, 'appended'); setAt(0, 'replaced')
      log.push([...l as Iterable<unknown>], l.length, l.pop(), l.pop(), l.pop(), l.shift(), l.length)
    })
  })

  it('splice(start, deleteCount, ...items) returns the removed elements', () => {
    sameOnLists((l, log) => {
      l.push(0, 1, 2, 3, 4, 5, 6)
      log.push(l.splice(2, 2), [...l as Iterable<unknown>])
      log.push(l.splice(1, 0, 'a', 'b'), [...l as Iterable<unknown>])
      log.push(l.splice(-2, 1, 'x', 'y', 'z'), [...l as Iterable<unknown>])
      log.push(l.splice(3), [...l as Iterable<unknown>])
      log.push(l.splice(0, 1), l.splice(100, 1, 'end'), l.splice(-100, 1), [...l as Iterable<unknown>])
    })
  })

  it('a seeded random run with a reopen matches an Array', () => {
    for (const seed of [4, 5]) {
      let region = new SimRegion(16 << 20)
      let heap = PHeap.createIn(region, { types: [SemTag] })
      let pl = PersistentList.open<PValue>(heap, 'l')
      const ja: PValue[] = []
      const L = (): ListLike => pl as unknown as ListLike
      const r = mulberry32(seed)
      const value = (i: number): PValue => { const x = r(); return x < 0.4 ? i % 7 : x < 0.7 ? 'v' + (i % 5) : x < 0.8 ? null : x < 0.9 ? NaN : -0 }
      try {
        for (let i = 0; i < 400; i++) {
          const x = r()
          const where = `seed ${seed} op ${i}`
          const n = ja.length
          if (x < 0.25) { const vs = Array.from({ length: Math.floor(r() * 3) }, () => value(i)); expect(L().push(...vs), where).to.equal(ja.push(...vs)) }
          else if (x < 0.35) { const vs = Array.from({ length: Math.floor(r() * 3) }, () => value(i)); expect(L().unshift(...vs), where).to.equal(ja.unshift(...vs)) }
          else if (x < 0.45) expect(L().pop(), where).to.deep.equal(ja.pop())
          else if (x < 0.5) expect(L().shift(), where).to.deep.equal(ja.shift())
          else if (x < 0.6) { const j = Math.floor(r() * (n + 4)) - 2; expect(L().at(j), where).to.deep.equal(ja.at(j)) }
          else if (x < 0.7) { const v = value(i); expect([L().indexOf(v), L().includes(v)], where).to.deep.equal([ja.indexOf(v), ja.includes(v)]) }
          else if (x < 0.8) { const s = Math.floor(r() * (n + 2)) - 1; const e = Math.floor(r() * (n + 2)) - 1; expect(L().slice(s, e), where).to.deep.equal(ja.slice(s, e)) }
          else if (x < 0.9) {
            const s = Math.floor(r() * (n + 2)) - 1; const c = Math.floor(r() * 3); const vs = Array.from({ length: Math.floor(r() * 3) }, () => value(i))
            expect(L().splice(s, c, ...vs), where).to.deep.equal(ja.splice(s, c, ...vs))
          } else if (x < 0.92) {
            heap.close()
            region = new SimRegion(region.durableImage())
            heap = PHeap.openIn(region, { types: [SemTag] })
            pl = PersistentList.open<PValue>(heap, 'l')
          } else expect(L().length, where).to.equal(ja.length)
        }
        expect([...pl], `seed ${seed}`).to.deep.equal(ja)
        pl.check()
      } finally { heap.close() }
    }
  })
})

describe('where PersistentMap and PersistentList differ from Map and Array on purpose (README)', () => {
  it('an unsupported key or value is a TypeError and changes nothing; a list has no holes', () => {
    const { heap } = newHeap()
    try {
      const m = PersistentMap.open<Key, PValue>(heap, 'm')
      m.set('a', 1)
      expect(() => m.set('b', (() => 0) as never)).to.throw(TypeError)
      expect(() => m.set('b', Symbol('s') as never)).to.throw(TypeError)
      expect(() => m.set(true as never, 1)).to.throw(TypeError)
      expect([...m]).to.deep.equal([['a', 1]])
      const l = PersistentList.open<PValue>(heap, 'l')
      l.push(1)
      expect(() => l.push(2, undefined as never, 3)).to.throw(TypeError)
      expect(() => l.unshift(2, (() => 0) as never)).to.throw(TypeError)
      expect(() => l.splice(0, 1, 2, undefined as never)).to.throw(TypeError)
      expect(() => l.set(2, 1)).to.throw(RangeError)
      expect(() => l.set(-1, 1)).to.throw(RangeError)
      expect([...l]).to.deep.equal([1])
      l.check()
      m.check()
      expect(heap.check().ok).to.equal(true)
    } finally { heap.close() }
  })
})
