/** Object values of maps and lists live while reachable: replaced or removed ones are collected. */
import 'reflect-metadata'
import { expect } from 'chai'
import { SimRegion } from '@makalu/allocator'
import { PHeap, Persistent, field, reachable, settleHandles } from '@makalu/pobj'
import { PersistentMap, PersistentList } from '../src'

@Persistent('test.Thing')
class Thing {
  @field() name!: string
}

/** Ends the job and runs V8's full collection (mocha runs with --expose-gc, see .mocharc.json). */
async function dropHandles(): Promise<void> {
  if (!(global as { gc?: unknown }).gc) throw new Error('run mocha with --expose-gc (see .mocharc.json)')
  await settleHandles()
}

describe('collections own what they hold (collected when unreachable)', () => {
  it('a map value overwritten or deleted, and a list item popped or replaced, are freed by gc; kept ones read back', async () => {
    const heap = PHeap.createIn(new SimRegion(8 << 20), { types: [Thing], gc: false })
    ;(() => {
      const m = PersistentMap.open<string, Thing | number>(heap, 'm')
      const l = PersistentList.open<Thing | string>(heap, 'l')
      for (let i = 0; i < 50; i++) {
        m.set(`k${i}`, heap.new(Thing, { name: `first ${i}` }))
        l.push(heap.new(Thing, { name: `item ${i}` }))
      }
      for (let i = 0; i < 50; i++) m.set(`k${i}`, i % 2 ? heap.new(Thing, { name: `second ${i}` }) : i)
      for (let i = 0; i < 10; i++) m.delete(`k${i}`)
      for (let i = 0; i < 10; i++) l.pop()
      for (let i = 0; i < 10; i++) l.set(i, `plain ${i}`)
    })()
    await dropHandles()
    const r = heap.gc()
    // 50 first values, 10 deleted second/number values (5 objects), 10 popped, 10 replaced: each a Thing and its name.
    expect(r.freedBlocks).to.equal(2 * (50 + 5 + 10 + 10))
    expect(heap.stats().used).to.equal(reachable(heap).bytes)
    const m = PersistentMap.open<string, Thing | number>(heap, 'm')
    const l = PersistentList.open<Thing | string>(heap, 'l')
    expect(m.size).to.equal(40)
    expect((m.get('k11') as Thing).name).to.equal('second 11')
    expect(m.get('k12')).to.equal(12)
    expect(l.length).to.equal(40)
    expect(l.get(0)).to.equal('plain 0')
    expect((l.get(39) as Thing).name).to.equal('item 39')
    expect(heap.check().violations).to.deep.equal([])
  })
})
