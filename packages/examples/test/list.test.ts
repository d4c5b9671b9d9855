import { expect } from 'chai'
import { SimRegion, mulberry32 } from '@makalu/allocator'
import { PHeap, Persistent, field } from '@makalu/pobj'
import { PersistentList } from '../src'

@Persistent('test.Tag')
class Tag {
  @field() name!: string
}

describe('PersistentList', () => {
  it('push, pop, shift, unshift, get, set, insert, removeAt, iteration agree with an array', () => {
    const region = new SimRegion(8 << 20)
    const heap = PHeap.createIn(region, { types: [Tag] })
    const l = PersistentList.open<string | number | boolean | null>(heap, 'l')
    const ref: Array<string | number | boolean | null> = []
    const r = mulberry32(9)
    for (let i = 0; i < 6000; i++) {
      const x = r()
      const v = r() < 0.5 ? 'item ' + i + 'é'.repeat(Math.floor(r() * 3)) : r() < 0.8 ? i : r() < 0.5 ? null : true
      if (x < 0.3) expect(l.push(v)).to.equal(ref.push(v))
      else if (x < 0.45) expect(l.unshift(v)).to.equal(ref.unshift(v))
      else if (x < 0.55) expect(l.pop()).to.equal(ref.pop())
      else if (x < 0.65) expect(l.shift()).to.equal(ref.shift())
      else if (ref.length === 0) continue
      else if (x < 0.75) { const j = Math.floor(r() * ref.length); l.set(j, v); ref[j] = v }
      else if (x < 0.85) { const j = Math.floor(r() * (ref.length + 1)); l.insert(j, v); ref.splice(j, 0, v) }
      else if (x < 0.92) { const j = Math.floor(r() * ref.length); expect(l.removeAt(j)).to.equal(ref.splice(j, 1)[0]) }
      else { const j = Math.floor(r() * ref.length); expect(l.get(j)).to.equal(ref[j]) }
    }
    expect(l.length).to.equal(ref.length)
    expect([...l]).to.deep.equal(ref)
    l.check()
    expect(l.get(-1)).to.equal(ref[ref.length - 1])
    expect(l.get(ref.length)).to.equal(undefined)
    expect(() => l.set(ref.length + 1, 1)).to.throw(RangeError)
    l.set(ref.length, 'appended') // like ref[ref.length] = 'appended'
    ref.push('appended')
    expect(l.at(-1)).to.equal('appended')
    expect(() => l.insert(-1, 1)).to.throw(RangeError)
    expect(heap.check().ok).to.equal(true)
    heap.close()
    const h2 = PHeap.openIn(new SimRegion(region.durableImage()), { types: [Tag] })
    const l2 = PersistentList.open(h2, 'l')
    expect(l2.toArray()).to.deep.equal(ref)
    l2.clear()
    expect(l2.length).to.equal(0)
    expect(l2.pop()).to.equal(undefined)
    h2.close()
  })

  it('holds @Persistent objects by reference and rolls back with a transaction', () => {
    const heap = PHeap.createIn(new SimRegion(1 << 20), { types: [Tag] })
    const l = PersistentList.open(heap, 'l')
    const t = heap.new(Tag, { name: 'a' })
    l.push(t)
    expect(l.get(0)).to.equal(t)
    const used = heap.stats().used
    expect(() => heap.transaction(() => {
      for (let i = 0; i < 100; i++) l.push(i)
      l.shift()
      l.insert(3, 'x')
      throw new Error('abort')
    })).to.throw('abort')
    expect(l.length).to.equal(1)
    expect(l.get(0)).to.equal(t)
    expect(heap.stats().used).to.equal(used)
    expect(heap.check().ok).to.equal(true)
    heap.close()
  })
})
