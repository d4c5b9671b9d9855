/** PersistentMap and PersistentList held in fields of objects (not only under roots), nested, collected, crash-safe. */
import 'reflect-metadata'
import { expect } from 'chai'
import { SimRegion } from '@makalu/allocator'
import { PHeap, PArray, Persistent, field, reachable, settleHandles, exportLines, importHeap } from '@makalu/pobj'
import { PersistentMap, PersistentList, MapHeader, ListHeader } from '../src'

@Persistent('test.Project')
class Project {
  @field() name!: string
  @field.ref(() => MapHeader) tasks!: MapHeader | null
  @field.ref(() => ListHeader) log!: ListHeader | null
}

const TYPES = [Project]

/** The same project, its collections declared as what they are. */
@Persistent('test.Board')
class Board {
  @field() name!: string
  @field.ref(() => PersistentMap) index!: PersistentMap<string, number> | null
  @field.ref(() => PersistentList) log!: PersistentList<string> | null
}

describe('collections as fields', function () {
  this.timeout(120_000)

  it('2000 projects, each with its own map and list in fields (more than the root table holds), across reopen', () => {
    const region = new SimRegion(32 << 20)
    const heap = PHeap.createIn(region, { types: TYPES, gc: false })
    heap.transaction(() => {
      const all = heap.newArray(Project, 2000)
      for (let i = 0; i < 2000; i++) {
        const tasks = PersistentMap.create<string, number>(heap)
        tasks.set('estimate', i)
        const log = PersistentList.create<string>(heap)
        log.push(`created ${i}`)
        all.set(i, heap.new(Project, { name: `p${i}`, tasks: tasks.object, log: log.object }))
      }
      heap.setRoot('projects', all)
    })
    heap.close()
    const again = PHeap.openIn(new SimRegion(region.durableImage()), { types: TYPES })
    const all = again.root('projects', PArray<Project | null>)!
    expect(all.length).to.equal(2000)
    for (const i of [0, 1023, 1024, 1999]) {
      const p = all.get(i)!
      expect(PersistentMap.of<string, number>(again, p.tasks!).get('estimate')).to.equal(i)
      expect(PersistentList.of<string>(again, p.log!).toArray()).to.deep.equal([`created ${i}`])
    }
    expect(again.rootNames()).to.deep.equal(['projects'])
    expect(again.check().violations).to.deep.equal([])
  })

  it('the same JS object for the same header; a map of lists; a dropped project is collected with its map', async () => {
    const heap = PHeap.createIn(new SimRegion(8 << 20), { types: TYPES, gc: false })
    ;(() => {
      const byTag = PersistentMap.open<string, ListHeader>(heap, 'byTag')
      for (const tag of ['a', 'b']) {
        const l = PersistentList.create<number>(heap)
        l.push(1, 2, 3)
        byTag.set(tag, l.object)
      }
      expect(PersistentMap.of(heap, byTag.object)).to.equal(byTag)
      const p = heap.new(Project, { name: 'temp', tasks: PersistentMap.create(heap).object })
      PersistentMap.of<string, number>(heap, p.tasks!).set('x', 1)
    })()
    await settleHandles()
    const used = heap.stats().used
    const r = heap.gc()
    expect(r.freedBlocks, 'the temporary project, its map and the map\'s entries').to.be.at.least(4)
    expect(heap.stats().used).to.be.below(used)
    expect(heap.stats().used).to.equal(reachable(heap).bytes)
    const byTag = PersistentMap.open<string, ListHeader>(heap, 'byTag')
    expect(PersistentList.of<number>(heap, byTag.get('b')!).toArray()).to.deep.equal([1, 2, 3])
  })

  it('creating a project with its collections and publishing it is crash-safe at every drain', () => {
    for (const writeBack of ['any-time', 'at-drain'] as const) {
      const region = new SimRegion(4 << 20, { writeBack })
      const heap = PHeap.createIn(region, { types: TYPES, gc: false })
      const all = heap.root('projects', () => heap.newArray(Project, 4))
      let crashes = 0
      region.onDrain = () => {
        crashes++
        const h = PHeap.openIn(new SimRegion(region.crash({ mode: 'strict' })), { types: TYPES })
        const list = h.root('projects', PArray<Project | null>)
        for (const p of list ? list.toArray() : []) {
          if (!p) continue
          // A published project always has whole collections.
          expect(PersistentMap.of<string, number>(h, p.tasks!).get('n')).to.equal(Number(p.name.slice(1)))
          expect(PersistentList.of<string>(h, p.log!).length).to.equal(1)
        }
        expect(h.check().violations).to.deep.equal([])
        expect(h.stats().used).to.equal(reachable(h).bytes)
      }
      for (let i = 0; i < 4; i++) {
        const tasks = PersistentMap.create<string, number>(heap)
        tasks.set('n', i)
        const log = PersistentList.create<string>(heap)
        log.push('hello')
        if (i % 2) heap.transaction(() => all.set(i, heap.new(Project, { name: `p${i}`, tasks: tasks.object, log: log.object })))
        else all.set(i, heap.new(Project, { name: `p${i}`, tasks: tasks.object, log: log.object }))
      }
      region.onDrain = null
      expect(crashes, writeBack).to.be.greaterThan(10)
    }
  })

  it('a field declared as a PersistentMap or PersistentList holds one: set, read, reopen, collect, export', () => {
    const region = new SimRegion(8 << 20)
    const heap = PHeap.createIn(region, { types: [Board], gc: false })
    const b = heap.new(Board, { name: 'b', index: PersistentMap.create<string, number>(heap), log: null })
    heap.setRoot('board', b)
    b.index!.set('a', 1)
    b.log = PersistentList.create<string>(heap)
    b.log.push('x', 'y')
    expect(b.index).to.equal(b.index) // the same map object for the same header
    expect(b.index).to.be.instanceOf(PersistentMap)
    expect(() => { (b as { log: unknown }).log = new Map() }).to.throw(/a PersistentList field: expected a PersistentList or null, got Map/)
    expect(() => { (b as { index: unknown }).index = b.log }).to.throw(/expected a PersistentMap or null, got PersistentList/)
    expect(b.log.toArray()).to.deep.equal(['x', 'y'])
    heap.close()
    const h2 = PHeap.openIn(new SimRegion(region.durableImage()), { types: [Board], gc: false })
    const b2 = h2.root('board', Board)!
    expect(b2.index!.get('a')).to.equal(1)
    expect(b2.log!.toArray()).to.deep.equal(['x', 'y'])
    // Dropping the field's map makes it garbage; the list stays.
    b2.index = null
    h2.gc({ fromHandles: false })
    expect(h2.check().ok).to.equal(true)
    expect(h2.stats().used).to.equal(reachable(h2).bytes)
    expect(h2.root('board', Board)!.log!.length).to.equal(2)
    // Exported and imported like any object graph: the list's header and items come along.
    const copy = PHeap.createIn(new SimRegion(8 << 20), { types: [Board], gc: false })
    importHeap(copy, exportLines(h2), { types: [Board] })
    expect(copy.root('board', Board)!.log!.toArray()).to.deep.equal(['x', 'y'])
    expect(copy.root('board', Board)!.log!.check()).to.equal(undefined)
    const plain = h2.toPlain(h2.root('board', Board))
    const back = copy.fromPlain(Board, plain)
    expect(back.log!.toArray()).to.deep.equal(['x', 'y'])
    copy.close()
    h2.close()
  })
})

