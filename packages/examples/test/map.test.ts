import { expect } from 'chai'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { SimRegion, mulberry32 } from '@makalu/allocator'
import { PHeap, Persistent, field, FieldTypeError, TypeMismatchError } from '@makalu/pobj'
import { PersistentMap, PersistentList } from '../src'

@Persistent('test.Point')
class Point {
  @field() x!: number
  @field() y!: number
}

function simHeap(size = 4 << 20): { region: SimRegion; heap: PHeap } {
  const region = new SimRegion(size)
  return { region, heap: PHeap.createIn(region, { types: [Point] }) }
}

describe('PersistentMap', () => {
  it('stores every value kind under string and number keys', () => {
    const { heap } = simHeap()
    const m = PersistentMap.open(heap, 'm')
    const p = heap.new(Point, { x: 1, y: 2 })
    m.set('n', 1.5).set('s', 'héllo €').set('e', '').set('t', true).set('f', false).set('z', null).set('p', p)
    m.set(7, 'seven').set(-0, 'zero').set(NaN, 'nan').set('', 'empty key')
    expect(m.get('n')).to.equal(1.5)
    expect(m.get('s')).to.equal('héllo €')
    expect(m.get('e')).to.equal('')
    expect(m.get('t')).to.equal(true)
    expect(m.get('f')).to.equal(false)
    expect(m.get('z')).to.equal(null)
    expect(m.get('p')).to.equal(p) // the same handle
    expect(m.get(7)).to.equal('seven')
    expect(m.get('7')).to.equal(undefined)
    expect(m.get(0)).to.equal('zero')
    expect(m.get(NaN)).to.equal('nan')
    expect(m.get('')).to.equal('empty key')
    expect(m.size).to.equal(11)
    expect(m.has('missing')).to.equal(false)
    m.check()
    expect([...m.keys()].sort()).to.deep.equal(['', 'e', 'f', 'n', 'p', 's', 't', 'z', 0, 7, NaN].sort())
    heap.close()
  })

  it('agrees with a JS Map over random operations, across resizes, and after reopening', () => {
    const { region, heap } = simHeap(16 << 20)
    const m = PersistentMap.open<string | number, string | number>(heap, 'm')
    const ref = new Map<string | number, string | number>()
    const r = mulberry32(5)
    for (let i = 0; i < 20000; i++) {
      const k = r() < 0.5 ? 'key' + Math.floor(r() * 3000) : Math.floor(r() * 1000)
      const x = r()
      if (x < 0.55) { const v = r() < 0.5 ? 'v'.repeat(Math.floor(r() * 200)) : i; m.set(k, v); ref.set(k, v) }
      else if (x < 0.85) expect(m.delete(k)).to.equal(ref.delete(k))
      else expect(m.get(k)).to.equal(ref.get(k))
    }
    expect(m.size).to.equal(ref.size)
    expect(new Map(m.entries())).to.deep.equal(ref)
    expect(m.stats().load).to.be.at.most(0.75)
    m.check()
    expect(heap.check().ok).to.equal(true)
    heap.close()
    const h2 = PHeap.openIn(new SimRegion(region.durableImage()))
    const m2 = PersistentMap.open(h2, 'm')
    expect(m2.size).to.equal(ref.size)
    expect(new Map(m2)).to.deep.equal(ref)
    m2.clear()
    expect(m2.size).to.equal(0)
    expect([...m2]).to.deep.equal([])
    m2.set('again', 1)
    expect(m2.get('again')).to.equal(1)
    h2.close()
  })

  it('keeps keys and values with lone surrogates apart and intact: found, never duplicated, after reopen too', () => {
    const { region, heap } = simHeap()
    const m = PersistentMap.open<string, string>(heap, 'odd')
    const l = PersistentList.open<string>(heap, 'oddl')
    const keys = ['\uD800', '\uDBFF', 'a\uDC00', '\uFFFD', 'é\uD83D', '\uD83D\uDE00']
    for (const k of keys) { m.set(k, k + '!'); m.set(k, k + '?'); l.push(k) }
    expect(m.size).to.equal(keys.length)
    for (const k of keys) expect(m.get(k), JSON.stringify(k)).to.equal(k + '?')
    heap.close()
    const again = PHeap.openIn(new SimRegion(region.durableImage()), { types: [Point] })
    const m2 = PersistentMap.open<string, string>(again, 'odd')
    expect(m2.size).to.equal(keys.length)
    expect([...m2.keys()].sort()).to.deep.equal([...keys].sort())
    for (const k of keys) expect(m2.get(k), JSON.stringify(k)).to.equal(k + '?')
    expect(PersistentList.open<string>(again, 'oddl').toArray()).to.deep.equal(keys)
    m2.check()
  })

  it('joins transactions: commits together, rolls back on a throw', () => {
    const { heap } = simHeap(16 << 20)
    const m = PersistentMap.open(heap, 'm')
    m.set('a', 1)
    heap.transaction(() => { for (let i = 0; i < 3000; i++) m.set('t' + i, i); m.delete('a') })
    expect(m.size).to.equal(3000)
    const used = heap.stats().used
    expect(() => heap.transaction(() => {
      for (let i = 0; i < 5000; i++) m.set('u' + i, i) // resizes and moves the table inside the transaction
      m.delete('t1')
      m.set('t2', 'changed')
      throw new Error('abort')
    })).to.throw('abort')
    expect(m.size).to.equal(3000)
    expect(m.get('u1')).to.equal(undefined)
    expect(m.get('t1')).to.equal(1)
    expect(m.get('t2')).to.equal(2)
    expect(heap.stats().used).to.equal(used)
    expect(heap.check().ok).to.equal(true)
    heap.close()
  })

  it('rejects bad keys and values before changing anything', () => {
    const { heap } = simHeap()
    const m = PersistentMap.open(heap, 'm')
    const used = heap.stats().used
    expect(() => m.set({} as never, 1)).to.throw(TypeError)
    expect(() => m.set('k', (() => 1) as never)).to.throw(TypeError)
    expect(() => m.set('k', { x: 1 } as never)).to.throw(FieldTypeError)
    expect(() => m.set('k', 10n as never)).to.throw(TypeError)
    expect(heap.stats().used).to.equal(used)
    expect(m.size).to.equal(0)
    heap.setRoot('other', heap.new(Point, { x: 0, y: 0 }))
    expect(() => PersistentMap.open(heap, 'other')).to.throw(TypeMismatchError)
    expect(() => PersistentList.open(heap, 'm')).to.throw(TypeMismatchError)
    heap.close()
    expect(() => m.get('k')).to.throw(/closed/)
  })

  it('keeps pobj handles usable while a file heap grows under it', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pmap-'))
    try {
      const file = path.join(dir, 'h.heap')
      const heap = PHeap.create(file, { size: 4 << 20, maxSize: 256 << 20, durability: 'process', types: [Point] })
      const p = heap.new(Point, { x: 3, y: 4 })
      heap.setRoot('p', p)
      const m = PersistentMap.open(heap, 'm')
      for (let i = 0; i < 50000; i++) m.set('key' + i, 'value' + i)
      expect(heap.stats().size).to.be.greaterThan(4 << 20)
      expect(p.x + p.y).to.equal(7) // pobj's view followed the growth
      heap.close()
      const h2 = PHeap.open(file, { durability: 'process', types: [Point] })
      const m2 = PersistentMap.open(h2, 'm')
      expect(m2.size).to.equal(50000)
      expect(m2.get('key49999')).to.equal('value49999')
      h2.close()
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
