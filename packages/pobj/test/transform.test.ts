import 'reflect-metadata'
import { expect } from 'chai'
import { Transform } from 'class-transformer'
import { Persistent, field, PHeap, TypeMismatchError, FieldTypeError, PArray } from '../src'
import { AllKinds, Person, Shape, Circle } from './models'
import { simHeap } from './helpers'

@Persistent()
class Tagged {
  @Transform(({ value }) => (value as string).toUpperCase(), { toPlainOnly: true })
  @Transform(({ value }) => (value as string).toLowerCase(), { toClassOnly: true })
  @field() tag!: string
  @field.i32 n!: number
}

const TYPES = [AllKinds, Person, Shape, Circle, Tagged]

function family(heap: PHeap): Person {
  const ann = heap.new(Person, { name: 'ann', id: 1n, scores: heap.newArray('i32', [3, 1, 4]) })
  const bob = heap.new(Person, { name: 'bob', id: -(2n ** 63n), friend: ann })
  ann.friend = bob // a cycle
  const kid = heap.new(Person, { name: 'kid', id: 3n, friend: ann })
  const kids = heap.newArray(Person, [kid, kid, null]) // shared twice
  ann.children = kids
  bob.children = kids // the same array from two objects
  return ann
}

describe('pobj toPlain / fromPlain (class-transformer)', () => {
  it('exports a graph with shared refs and cycles as JSON-safe data', () => {
    const { heap } = simHeap(TYPES)
    const g = heap.toPlain(family(heap))
    expect(g.format).to.equal('makalu-pobj-graph/1')
    expect(g.root).to.equal(0)
    expect(g.nodes[0]).to.deep.equal({ $id: 0, $type: 'Person', name: 'ann', friend: { $ref: 1 }, children: { $ref: 2 }, scores: { $ref: 3 }, id: '1' })
    expect(g.nodes.length).to.equal(5) // ann, bob, kids, scores, kid
    expect(JSON.parse(JSON.stringify(g))).to.deep.equal(g)
    heap.close()
  })

  it('round-trips through JSON into another heap: same shape, identity and cycles', () => {
    const a = simHeap(TYPES)
    const plain = JSON.parse(JSON.stringify(a.heap.toPlain(family(a.heap))))
    const b = simHeap(TYPES)
    const ann = b.heap.fromPlain(Person, plain)
    b.heap.setRoot('ann', ann)
    expect(ann.name).to.equal('ann')
    expect(ann.friend!.friend).to.equal(ann)
    expect(ann.children).to.equal(ann.friend!.children)
    expect(ann.children!.get(0)).to.equal(ann.children!.get(1))
    expect(ann.children!.get(2)).to.equal(null)
    expect(ann.friend!.id).to.equal(-(2n ** 63n))
    expect(ann.scores!.toArray()).to.deep.equal([3, 1, 4])
    expect(b.heap.toPlain(ann)).to.deep.equal(plain)
    a.heap.close(); b.heap.close()
  })

  it('round-trips every kind, including non-finite numbers and subclasses behind base refs', () => {
    const { heap } = simHeap(TYPES)
    const x = heap.new(AllKinds, { i: -1, flag: true, u: 2 ** 32 - 1, d: -Infinity, big: 2n ** 63n - 1n, s: 'ünï', n: NaN })
    x.other = x
    x.nums = heap.newArray('f64', [Infinity, 0.5])
    x.refs = heap.newArray(AllKinds, [x])
    const plain = JSON.parse(JSON.stringify(heap.toPlain(x)))
    const y = heap.fromPlain(AllKinds, plain)
    expect([y.i, y.flag, y.u, y.d, y.big, y.s]).to.deep.equal([-1, true, 2 ** 32 - 1, -Infinity, 2n ** 63n - 1n, 'ünï'])
    expect(y.n).to.be.NaN
    expect(y.other).to.equal(y)
    expect(y.nums!.toArray()).to.deep.equal([Infinity, 0.5])
    expect(y.refs!.get(0)).to.equal(y)
    const shapes = heap.newArray(Shape, [heap.new(Circle, { r: 2, name: 'c' })])
    const s2 = heap.fromPlain(PArray, heap.toPlain(shapes)) as PArray<Shape>
    expect(s2.get(0)).to.be.instanceOf(Circle)
    expect((s2.get(0) as Circle).r).to.equal(2)
    heap.close()
  })

  it('applies class-transformer decorators of the class', () => {
    const { heap } = simHeap(TYPES)
    const t = heap.new(Tagged, { tag: 'MiXed', n: 3 })
    const plain = heap.toPlain(t)
    expect(plain.nodes[0]).to.deep.include({ tag: 'MIXED', n: 3 })
    expect(heap.fromPlain(Tagged, plain).tag).to.equal('mixed')
    heap.close()
  })

  it('refuses a wrong root class or a broken graph, leaving the heap unchanged', () => {
    const { heap } = simHeap(TYPES)
    const plain = heap.toPlain(family(heap))
    const used = heap.stats().used
    expect(() => heap.fromPlain(AllKinds, plain)).to.throw(TypeMismatchError, /root is a Person, not a AllKinds/)
    const broken = JSON.parse(JSON.stringify(plain))
    broken.nodes[1].friend = { $ref: 99 }
    expect(() => heap.fromPlain(Person, broken)).to.throw(FieldTypeError, /Person\.friend/)
    const wrongType = JSON.parse(JSON.stringify(plain))
    wrongType.nodes[0].name = 5
    expect(() => heap.fromPlain(Person, wrongType)).to.throw(FieldTypeError, /Person\.name: expected a string/)
    expect(() => heap.fromPlain(Person, { format: 'nope' } as never)).to.throw(FieldTypeError)
    expect(heap.stats().used).to.equal(used)
    expect(heap.check().ok).to.equal(true)
    heap.close()
  })
})
