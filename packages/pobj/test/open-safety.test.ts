/**
 * Opening is safe whatever the heap went through: a stale ref left by a delete of a
 * referenced object never makes the heap unopenable (issue 15.3).
 */
import 'reflect-metadata'
import { expect } from 'chai'
import { SimRegion } from '@makalu/allocator'
import { PHeap } from '../src'
import { AllKinds, Tree } from './models'

const TYPES = [AllKinds, Tree]

/**
 * Root 'r' → Tree r; r.left → Tree l, deleted while referenced, with every other object of
 * its chunk, so the chunk is released; root 'a' → a; a.nums → a large array deleted while
 * referenced; root 'gone' → an array deleted while still a root.
 */
function misuse(): { region: SimRegion; heap: PHeap } {
  const region = new SimRegion(4 << 20)
  const heap = PHeap.createIn(region, { types: TYPES })
  const r = heap.new(Tree, { key: 1 })
  heap.setRoot('r', r)
  const filler: Tree[] = []
  for (let i = 0; i < 2000; i++) filler.push(heap.new(Tree, { key: 100 + i }))
  const l = heap.new(Tree, { key: 2 })
  for (let i = 0; i < 2000; i++) filler.push(heap.new(Tree, { key: 5000 + i }))
  r.left = l
  const a = heap.new(AllKinds, { i: 7 })
  a.nums = heap.newArray('f64', 2000)
  heap.setRoot('a', a)
  heap.setRoot('gone', heap.newArray('f64', 2000))
  heap.delete(l) // still r.left
  for (const t of filler) heap.delete(t)
  heap.delete(a.nums!) // still a.nums
  heap.delete(heap.root('gone')!) // still a root
  heap.raw.drain() // as any later durable operation would: the releases reach media
  return { region, heap }
}

describe('pobj: a deleted object still referenced never makes the heap unopenable', () => {
  it('after a crash: recovery treats the stale refs as null, drops the stale root, and reports them', () => {
    const { region } = misuse()
    const image = region.crash({ mode: 'strict' })
    const r2 = new SimRegion(image)
    const heap = PHeap.openIn(r2, { types: TYPES })
    expect(heap.recovery.reason).to.equal('crash')
    expect(heap.recovery.staleRoots).to.deep.equal(['gone'])
    expect(heap.recovery.stalePointers).to.equal(3)
    expect(heap.check().violations).to.deep.equal([])
    expect(heap.rootNames().sort()).to.deep.equal(['a', 'r'])
    const r = heap.root('r', Tree)!
    expect(r.key).to.equal(1)
    expect(r.left).to.equal(null)
    const a = heap.root('a', AllKinds)!
    expect(a.i).to.equal(7)
    expect(a.nums).to.equal(null)
    // It keeps working, and the nulls are durable.
    r.right = heap.new(Tree, { key: 3 })
    const again = PHeap.openIn(new SimRegion(r2.crash({ mode: 'strict' })), { types: TYPES })
    expect(again.recovery.stalePointers).to.equal(0)
    expect(again.root('r', Tree)!.right!.key).to.equal(3)
    expect(again.root('a', AllKinds)!.nums).to.equal(null)
    expect(again.check().violations).to.deep.equal([])
  })

  it('after a clean close: the open drops the stale root and reports it by name', () => {
    const { region, heap: h } = misuse()
    h.close()
    const heap = PHeap.openIn(new SimRegion(region.durableImage()), { types: TYPES })
    expect(heap.recovery.reason).to.equal('clean')
    expect(heap.recovery.staleRoots).to.deep.equal(['gone'])
    expect(heap.rootNames().sort()).to.deep.equal(['a', 'r'])
    expect(heap.check().violations).to.deep.equal([])
    expect(heap.root('r', Tree)!.key).to.equal(1)
  })
})
