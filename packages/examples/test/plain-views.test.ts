/** Collections behave like data when printed or serialised: their entries, bounded, never the heap. */
import 'reflect-metadata'
import { expect } from 'chai'
import { inspect } from 'node:util'
import { SimRegion } from '@makalu/allocator'
import { PHeap, Persistent, field } from '@makalu/pobj'
import { PersistentMap, PersistentList } from '../src'

@Persistent('views.Point') class Point { @field.f64 x!: number; @field.f64 y!: number }

describe('collections as plain data (JSON.stringify, console.log)', () => {
  it('a map serialises as its entries and prints a bounded preview; a list as its elements', () => {
    const heap = PHeap.createIn(new SimRegion(32 << 20), { types: [Point], gc: false })
    const m = PersistentMap.create<string, number | object>(heap)
    for (let i = 0; i < 10_000; i++) m.set(`k${i}`, i)
    m.set('p', heap.new(Point, { x: 1, y: 2 }))
    const json = JSON.parse(JSON.stringify(m)) as Array<[string, unknown]>
    expect(json.length).to.equal(10_001)
    expect(json[0]).to.deep.equal(['k0', 0])
    expect(json[10_000]).to.deep.equal(['p', { x: 1, y: 2 }])
    const shown = inspect(m)
    expect(shown).to.match(/^PersistentMap\(10001\) \{ "k0" => 0, "k1" => 1, .*, … \}$/)
    expect(shown.length).to.be.lessThan(400)
    const l = PersistentList.create(heap)
    l.push(1, 'two', null, heap.new(Point, { x: 3, y: 4 }))
    expect(JSON.stringify(l)).to.equal('[1,"two",null,{"x":3,"y":4}]')
    expect(inspect(l)).to.equal('PersistentList(4) { 1, "two", null, {"x":3,"y":4} }')
    expect(JSON.stringify({ m: PersistentMap.create(heap) })).to.equal('{"m":[]}')
    heap.close()
    expect(inspect(m)).to.equal('PersistentMap <closed>')
  })
})
