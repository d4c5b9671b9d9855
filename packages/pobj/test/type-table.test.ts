import 'reflect-metadata'
import { expect } from 'chai'
import { SimRegion } from '@makalu/allocator'
import { Persistent, field, PHeap, layoutOf, SchemaMismatchError, TypeTableCorruptError } from '../src'
import { encodeEntry, decodeTable, entryFromLayout, diffEntry } from '../src/type-table'
import { TAG_TYPE_TABLE, TYPE_TABLE_ROOT, TYPE_TABLE_VERSION } from '../src/object-format'
import { AllKinds, Node, Circle, Task } from './models'

function tableImage(entries: Uint8Array[]): Uint8Array {
  const used = entries.reduce((n, e) => n + e.length, 0)
  const bytes = new Uint8Array(64 + 16 + used)
  const dv = new DataView(bytes.buffer)
  dv.setUint32(64, TAG_TYPE_TABLE, true)
  dv.setUint32(68, TYPE_TABLE_VERSION, true)
  dv.setUint32(72, entries.length, true)
  dv.setUint32(76, used, true)
  let at = 80
  for (const e of entries) { bytes.set(e, at); at += e.length }
  return bytes
}

describe('pobj type table', () => {
  it('encodes and decodes entries (names, kinds, offsets, targets)', () => {
    const a = entryFromLayout(layoutOf(AllKinds), 16)
    const b = entryFromLayout(layoutOf(Node), 17)
    const c = entryFromLayout(layoutOf(Circle), 18)
    const img = tableImage([encodeEntry(a), encodeEntry(b), encodeEntry(c)])
    const out = decodeTable(img, 64, img.length - 64)
    expect(out).to.deep.equal([a, b, c])
    expect(out[0].fields.find((f) => f.name === 'refs')).to.deep.equal({
      name: 'refs', kind: 'array', element: 'ref', offset: 72, target: 'AllKinds', presence: 'required', enumType: undefined, members: undefined, prev: '',
    })
    expect(out[1].name).to.equal('ListNode')
    expect(out[1].fields[2].target).to.equal('ListNode')
  })

  it('encodes and decodes dates, enums (with their members) and optional / nullable fields', () => {
    const t = entryFromLayout(layoutOf(Task), 16)
    const img = tableImage([encodeEntry(t)])
    const out = decodeTable(img, 64, img.length - 64)
    expect(out).to.deep.equal([t])
    const f = Object.fromEntries(out[0].fields.map((x) => [x.name, x]))
    expect(f.due).to.include({ kind: 'date', presence: 'required' })
    expect(f.status).to.deep.include({ kind: 'enum', enumType: 'string', members: ['blocked', 'done', 'open'] })
    expect(f.escalation).to.deep.include({ kind: 'enum', enumType: 'number', presence: 'nullable', members: [1, 5, 10] })
    expect(f.note.presence).to.equal('optional')
    // Damage in the new bytes of the first field record (title at 80 + 20 + 4): absent code, members length, enum storage.
    const rec = 80 + 20 + 4
    for (const [at, v] of [[rec + 10, 3], [rec + 12, 4]] as const) {
      const bad = img.slice(); bad[at] = v
      expect(() => decodeTable(bad, 64, bad.length - 64), `byte ${at}`).to.throw(TypeTableCorruptError)
    }
  })

  it('refuses damaged tables with a typed error', () => {
    const e = encodeEntry(entryFromLayout(layoutOf(Node), 16))
    const good = tableImage([e])
    for (const [at, v] of [[64, 9], [68, 7], [72, 5], [76, 3], [80, 2], [80 + 20 + 8, 99]] as const) {
      const img = good.slice()
      img[at] = v
      expect(() => decodeTable(img, 64, img.length - 64), `byte ${at}`).to.throw(TypeTableCorruptError)
    }
  })

  it('diffs a stored entry against a layout, naming the fields', () => {
    @Persistent('Diffed') class V1 { @field.i32 a!: number; @field() b!: string }
    @Persistent('Diffed') class V2 { @field.f64 a!: number; @field() c!: string }
    const stored = entryFromLayout(layoutOf(V1), 16)
    expect(diffEntry(stored, layoutOf(V1))).to.deep.equal([])
    const d = diffEntry(stored, layoutOf(V2))
    expect(d.join('\n')).to.match(/^a: heap has i32 @8, class has f64 @8/m)
    expect(d.join('\n')).to.match(/^c: not in the heap/m)
    expect(d.join('\n')).to.match(/^b: in the heap/m)
  })

  it('persists the table under a reserved root and checks classes on open', () => {
    @Persistent('Evolving') class E1 { @field.i32 x!: number; @field() name!: string }
    @Persistent('Evolving') class E2 { @field.i32 x!: number; @field.i32 name!: number }
    const region = new SimRegion(1 << 20)
    const h = PHeap.createIn(region, { types: [E1, Node] })
    expect(h.raw.getRoot(TYPE_TABLE_ROOT)).to.be.greaterThan(0)
    expect(h.types.all.map((e) => e.name)).to.deep.equal(['Evolving', 'ListNode'])
    h.setRoot('e', h.new(E1, { x: 1, name: 'one' }))
    h.close()
    const before = region.durableImage()
    let err: unknown
    try { PHeap.openIn(new SimRegion(before), { types: [E2] }) } catch (e) { err = e }
    expect(err).to.be.instanceOf(SchemaMismatchError, String(err))
    expect((err as SchemaMismatchError).className).to.equal('E2')
    expect((err as SchemaMismatchError).fields).to.deep.equal(['name'])
    expect((err as Error).message).to.match(/^pobj: class E2 \(stable name 'Evolving'\) can not read the heap's objects without a migration: layout version 1 \(1 objects\): name: heap has string, class has i32: not a lossless widening/)
    // Nothing but the dirty/clean state word changed.
    const h2 = PHeap.openIn(new SimRegion(before), { types: [E1] })
    expect(h2.root('e', E1)!.name).to.equal('one')
    h2.close()
  })

  it('grows the table when many classes are registered, and keeps it intact across reopen', () => {
    const region = new SimRegion(1 << 21)
    const h = PHeap.createIn(region)
    const classes: Function[] = []
    for (let i = 0; i < 60; i++) {
      // Long field names so the table outgrows its first block.
      @Persistent(`Generated${i}`) class G {
        @field.i32 aVeryLongFieldNameNumberOneForGrowthTesting!: number
        @field() anotherQuiteLongFieldNameHoldingAString!: string
        @field.ref(() => G) yetAnotherLongFieldNameForTheRefToItself!: G
      }
      classes.push(G)
      h.setRoot(`g${i}`, h.new(G, { aVeryLongFieldNameNumberOneForGrowthTesting: i }))
    }
    expect(h.types.all.length).to.equal(60)
    expect(h.stats().typeTable.count).to.equal(1) // the old blocks were freed
    expect(h.check().ok).to.equal(true)
    h.close()
    const h2 = PHeap.openIn(new SimRegion(region.durableImage()), { types: classes as never })
    expect(h2.types.all.map((e) => e.typeId)).to.deep.equal(Array.from({ length: 60 }, (_, i) => 16 + i))
    expect((h2.root('g42') as { aVeryLongFieldNameNumberOneForGrowthTesting: number }).aVeryLongFieldNameNumberOneForGrowthTesting).to.equal(42)
    h2.close()
  })
})
