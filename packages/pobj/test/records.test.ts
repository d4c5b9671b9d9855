/**
 * Records (object-format.ts "Record"): a record and the one store of its element share a
 * drain; crash recovery and settleRecords tell an intact record from a torn one by its seal.
 */
import { expect } from 'chai'
import { SimRegion } from '@makalu/allocator'
import {
  PHeap, PArray, Persistent, field, objectFormat, recordSeal, recordIntact, recordSize, writeRecordHeader, writeRecordElement,
  exportLines, importHeap,
} from '../src'
import { Workload, referenceStates, crashRun, HEAP_OPTS } from './crash-harness'

const { RECORD_HEADER_SIZE, ARRAY_HEADER_SIZE, REC_VACATED, REC_HAS_REF } = objectFormat

@Persistent('records.Item')
class Item {
  @field.string name!: string
}

@Persistent('records.Shelf')
class Shelf {
  @field.array('record') slots!: PArray<Uint8Array | null>
}

const SLOTS = 24

function words(heap: PHeap): { u32: Uint32Array; f64: Float64Array } {
  const b = heap.raw.bytes
  return { u32: new Uint32Array(b.buffer, b.byteOffset, b.byteLength / 4), f64: new Float64Array(b.buffer, b.byteOffset, Math.floor(b.byteLength / 8)) }
}

/** A new record holding `text` (and a ref), flushed, not published; returns [ptr, seal]. */
function newRecord(heap: PHeap, text: string, ref: number): [number, number] {
  const payload = Buffer.from(text)
  const r = heap.raw.alloc(recordSize(payload.length))
  if (heap.raw.chunkClaimsUndrained) heap.raw.drain() // the chunk claim durable before any of its blocks is published
  const { u32 } = words(heap)
  writeRecordHeader(u32, r, payload.length, ref)
  heap.raw.bytes.set(payload, r + RECORD_HEADER_SIZE)
  heap.raw.flush(r, recordSize(payload.length))
  return [r, recordSeal(words(heap).u32, r, r + heap.raw.usableSize(r))]
}

function elementAt(heap: PHeap, shelf: Shelf, i: number): number { return heap.pointerOf(shelf.slots) + ARRAY_HEADER_SIZE + i * 8 }

/** Element i as read: null (empty or vacated) or { text, ref's name }. Only intact records. */
function readSlot(shelf: Shelf, i: number): null | { text: string; ref: string | null } {
  const a = shelf.slots.recordAt(i)
  if (a === null || a === 0) return null
  return { text: Buffer.from(a.payload).toString(), ref: a.ref === null ? null : (a.ref as Item).name }
}

describe('records', () => {
  it('are published in a record array with one store each; read back as payloads; a PArray does not write them', () => {
    const region = new SimRegion(1 << 20)
    const heap = PHeap.createIn(region, { types: [Shelf, Item] })
    const shelf = heap.root('s', Shelf, () => heap.new(Shelf, { slots: heap.newFixedArray('record', SLOTS) }))
    const item = heap.new(Item, { name: 'kept by a record' })
    heap.setRoot('tmp', item) // durable before a record names it
    const [r, seal] = newRecord(heap, 'hello', heap.pointerOf(item))
    expect(seal & REC_HAS_REF).to.not.equal(0)
    writeRecordElement(words(heap).f64, elementAt(heap, shelf, 3), r, seal)
    heap.raw.flush(elementAt(heap, shelf, 3), 8)
    heap.raw.drain()
    heap.setRoot('tmp', null)
    expect(shelf.slots.get(3)).to.deep.equal(new Uint8Array(Buffer.from('hello')))
    expect(shelf.slots.get(2)).to.equal(null)
    expect(() => shelf.slots.set(2, new Uint8Array(1))).to.throw(TypeError, /record array is read-only here/)
    expect(heap.check().violations).to.deep.equal([])
    // The record keeps its ref alive through a collection, and the record itself.
    heap.gc({ fromHandles: false })
    expect(readSlot(shelf, 3)).to.deep.equal({ text: 'hello', ref: 'kept by a record' })
    expect(heap.stats().records.count).to.equal(1)
    // A record whose bytes change no longer matches its seal: check() says so.
    heap.raw.bytes[r + RECORD_HEADER_SIZE] ^= 1
    expect(recordIntact(words(heap).u32, r, seal, r + heap.raw.usableSize(r))).to.equal(false)
    expect(heap.check().violations.join('\n')).to.match(/record array@\d+\[3\]: record \d+ is not intact/)
    heap.raw.bytes[r + RECORD_HEADER_SIZE] ^= 1
    heap.close()
  })

  // Each op publishes a new record in ONE drain (into an empty or vacated element), or
  // replaces one (new record durable first, then the store, then the old one freed), or
  // vacates one. Every third record holds a ref to a new Item that only it keeps alive.
  const workload: Workload<Array<null | { text: string; ref: string | null }>> = {
    name: 'records',
    types: [Shelf, Item],
    ops: 70,
    setup(heap) { heap.root('s', Shelf, () => heap.new(Shelf, { slots: heap.newFixedArray('record', SLOTS) })) },
    op(heap, k, rand) {
      const shelf = heap.root('s', Shelf) as Shelf
      const i = Math.floor(rand() * SLOTS)
      const at = elementAt(heap, shelf, i)
      const { u32, f64 } = words(heap)
      const old = u32[at >>> 2]
      if (old !== 0 && rand() < 0.3) { // vacate: one store, drain, free
        writeRecordElement(f64, at, 0, REC_VACATED)
        heap.raw.flush(at, 8)
        heap.raw.drain()
        heap.raw.free(old)
        return
      }
      let ref = 0
      if (k % 3 === 0) {
        const item = heap.new(Item, { name: `item ${k}` })
        heap.setRoot('tmp', item) // the item is durable (setRoot drains) before the record names it
        ref = heap.pointerOf(item)
      }
      const [r, seal] = newRecord(heap, `record ${k} ${'x'.repeat(Math.floor(rand() * 90))}`, ref)
      if (old !== 0) heap.raw.drain() // a replace: the new record durable first
      writeRecordElement(words(heap).f64, at, r, seal) // commits
      heap.raw.flush(at, 8)
      heap.raw.drain()
      if (old !== 0) heap.raw.free(old)
      if (ref !== 0) heap.setRoot('tmp', null)
    },
    read(heap) {
      const shelf = heap.root('s', Shelf) as Shelf
      return Array.from({ length: SLOTS }, (_, i) => readSlot(shelf, i))
    },
  }

  it('crash images at every drain hold each element as before or as after its one drain; torn records are vacated and freed', () => {
    const states = referenceStates(workload)
    let crashes = 0
    let atEnd = 0
    for (const writeBack of ['any-time', 'at-drain'] as const) {
      for (const seed of [1, 2, 3]) {
        const r = crashRun(workload, states, { mode: 'random', seed, writeBack })
        crashes += r.crashes
        atEnd += r.atEnd
      }
      crashRun(workload, states, { mode: 'strict', writeBack })
    }
    expect(crashes).to.be.greaterThan(300)
    expect(atEnd, 'images holding the op in flight').to.be.greaterThan(0)
  })

  it('a torn record is left unread by recovery and vacated by settleRecords (its block freed)', () => {
    // Publish one record in one drain, and build the image where its element survived and its bytes did not.
    const region = new SimRegion(1 << 20, { writeBack: 'at-drain' })
    const heap = PHeap.createIn(region, { ...HEAP_OPTS, types: [Shelf] })
    const shelf = heap.root('s', Shelf, () => heap.new(Shelf, { slots: heap.newFixedArray('record', SLOTS) }))
    heap.raw.drain()
    const at = elementAt(heap, shelf, 5)
    const [r, seal] = newRecord(heap, 'torn', 0)
    writeRecordElement(words(heap).f64, at, r, seal)
    heap.raw.flush(at, 8)
    let img: Uint8Array | null = null
    for (let s = 0; img === null && s < 2000; s++) {
      const c = region.crash({ mode: 'random', seed: s })
      const u = new Uint32Array(c.buffer, c.byteOffset, c.byteLength / 4)
      if (u[at >>> 2] === r && !recordIntact(u, r, seal, r + 64)) img = c
    }
    expect(img, 'an image with the element but not the record').to.not.equal(null)
    heap.raw.drain()
    heap.close()
    const h = PHeap.openIn(new SimRegion(img as Uint8Array), { types: [Shelf] })
    try {
      const s2 = h.root('s', Shelf) as Shelf
      const array = h.pointerOf(s2.slots)
      expect(h.recordsUnsettled(array)).to.equal(true)
      expect(h.raw.isAllocated(r), 'marked by recovery, unread').to.equal(true)
      expect(h.settleRecords(array)).to.equal(1)
      expect(h.recordsUnsettled(array)).to.equal(false)
      expect(s2.slots.recordAt(5)).to.equal(0) // vacated
      expect(h.raw.isAllocated(r), 'freed by the settle').to.equal(false)
      expect(h.check().violations).to.deep.equal([])
    } finally { h.close() }
  })

  it('toPlain/fromPlain and the whole-heap export carry records: payloads, refs and vacated elements', () => {
    const heap = PHeap.createIn(new SimRegion(1 << 20), { types: [Shelf, Item] })
    const shelf = heap.root('s', Shelf, () => heap.new(Shelf, { slots: heap.newFixedArray('record', SLOTS) }))
    const item = heap.new(Item, { name: 'ref' })
    heap.setRoot('tmp', item)
    const [r1, s1] = newRecord(heap, 'one', heap.pointerOf(item))
    const [r2, s2] = newRecord(heap, 'two', 0)
    heap.raw.drain()
    writeRecordElement(words(heap).f64, elementAt(heap, shelf, 1), r1, s1)
    writeRecordElement(words(heap).f64, elementAt(heap, shelf, 2), r2, s2)
    writeRecordElement(words(heap).f64, elementAt(heap, shelf, 7), 0, REC_VACATED)
    heap.raw.persist(elementAt(heap, shelf, 0), SLOTS * 8)
    heap.setRoot('tmp', null)
    const want = [null, { text: 'one', ref: 'ref' }, { text: 'two', ref: null }]
    const copy = PHeap.createIn(new SimRegion(1 << 20), { types: [Shelf, Item] })
    const back = copy.fromPlain(Shelf, JSON.parse(JSON.stringify(heap.toPlain(shelf))))
    expect([0, 1, 2].map((i) => readSlot(back, i))).to.deep.equal(want)
    expect(back.slots.recordAt(7)).to.equal(0)
    expect(copy.check().violations).to.deep.equal([])
    const imported = PHeap.createIn(new SimRegion(1 << 20), { types: [Shelf, Item] })
    importHeap(imported, exportLines(heap), { types: [Shelf, Item] })
    const s3 = imported.root('s', Shelf) as Shelf
    expect([0, 1, 2].map((i) => readSlot(s3, i))).to.deep.equal(want)
    expect(s3.slots.recordAt(7)).to.equal(0)
    expect(imported.check().violations).to.deep.equal([])
    heap.close(); copy.close(); imported.close()
  })
})
