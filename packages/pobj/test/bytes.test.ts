/** The bytes kind: Uint8Array values, copied in and out, through every path a value takes. */
import 'reflect-metadata'
import { expect } from 'chai'
import { SimRegion } from '@makalu/allocator'
import { PHeap, Persistent, field, FieldTypeError, exportLines, importHeap, reachable, layoutOf } from '../src'

@Persistent('bytes.Blob')
class Blob {
  @field() data!: Uint8Array // inferred from design:type
  @field.optional.bytes thumb?: Uint8Array
  @field.nullable.bytes sig!: Uint8Array | null
  @field.string name!: string
}

const B = (...xs: number[]) => new Uint8Array(xs)

describe('pobj bytes', () => {
  it('writes, reads (a copy each time), reopens; empty, absent and null are distinct', () => {
    expect(layoutOf(Blob).byName.get('data')!.kind).to.equal('bytes')
    const region = new SimRegion(1 << 20)
    const heap = PHeap.createIn(region, { types: [Blob] })
    const src = B(1, 2, 3)
    const b = heap.new(Blob, { data: src, name: 'b' })
    src[0] = 99 // the heap holds a copy
    expect([...b.data]).to.deep.equal([1, 2, 3])
    const read = b.data
    read[1] = 77 // a read is a copy too
    expect([...b.data]).to.deep.equal([1, 2, 3])
    expect(b.thumb).to.equal(undefined)
    expect(b.sig).to.equal(null)
    b.thumb = new Uint8Array(0)
    b.sig = Buffer.from('signed')
    expect(b.thumb).to.deep.equal(new Uint8Array(0))
    expect(Buffer.from(b.sig!).toString()).to.equal('signed')
    const empty = heap.new(Blob, { name: 'e' })
    expect(empty.data).to.deep.equal(new Uint8Array(0))
    heap.setRoot('b', b)
    heap.setRoot('e', empty)
    const big = new Uint8Array(100_000).map((_, i) => i & 0xff)
    heap.transaction(() => { empty.data = big })
    heap.close()
    const h2 = PHeap.openIn(new SimRegion(region.durableImage()), { types: [Blob] })
    const b2 = h2.root('b', Blob)!
    expect([[...b2.data], b2.thumb!.length, Buffer.from(b2.sig!).toString()]).to.deep.equal([[1, 2, 3], 0, 'signed'])
    expect(h2.root('e', Blob)!.data).to.deep.equal(big)
    expect(h2.stats().bytes.count).to.equal(4)
    expect(h2.check().violations).to.deep.equal([])
    h2.close()
  })

  it('refuses what is not a Uint8Array with FieldTypeError, and a transaction rolls a bytes write back', () => {
    const heap = PHeap.createIn(new SimRegion(1 << 20), { types: [Blob] })
    const b = heap.new(Blob, { data: B(5), name: 'x' })
    for (const bad of ['abc', [1, 2], new ArrayBuffer(2), null, undefined, 5]) {
      expect(() => { (b as { data: unknown }).data = bad }, String(bad)).to.throw(FieldTypeError, /expected a Uint8Array/)
    }
    expect(() => { (b as { thumb: unknown }).thumb = null }).to.throw(FieldTypeError, /a Uint8Array or undefined/)
    expect(() => heap.transaction(() => { b.data = B(6, 6); throw new Error('no') })).to.throw('no')
    expect([...b.data]).to.deep.equal([5])
    heap.setRoot('b', b)
    heap.gc({ fromHandles: false })
    expect(heap.stats().used).to.equal(reachable(heap).bytes) // replaced blocks were freed
    heap.close()
  })

  it('round-trips through toPlain/fromPlain (base64) and the whole-heap export', () => {
    const heap = PHeap.createIn(new SimRegion(1 << 20), { types: [Blob] })
    const b = heap.new(Blob, { data: B(0, 255, 128), thumb: B(), sig: B(9), name: 'r' })
    heap.setRoot('b', b)
    const plain = heap.toPlain(b)
    expect((plain.nodes[0] as Record<string, unknown>).data).to.equal('AP+A')
    const back = heap.fromPlain(Blob, plain)
    expect([[...back.data], back.thumb!.length, [...back.sig!]]).to.deep.equal([[0, 255, 128], 0, [9]])
    expect(() => heap.fromPlain(Blob, { ...plain, nodes: [{ ...plain.nodes[0], data: 'not base64!' }] })).to.throw(/bytes as a base64 string/)
    const copy = PHeap.createIn(new SimRegion(1 << 20), { types: [Blob] })
    importHeap(copy, exportLines(heap), { types: [Blob] })
    const c = copy.root('b', Blob)!
    expect([[...c.data], c.thumb!.length, [...c.sig!]]).to.deep.equal([[0, 255, 128], 0, [9]])
    expect(copy.check().violations).to.deep.equal([])
    heap.close(); copy.close()
  })
})
