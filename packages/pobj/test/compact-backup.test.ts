import 'reflect-metadata'
import { expect } from 'chai'
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { PHeap, Persistent, field, was, backupCompact, PArray, reachable } from '../src'

@Persistent('cb.Doc') class DocV1 { @field() title!: string; @field() body!: string; @field.i32 n!: number }
@Persistent('cb.Doc') class DocV2 { @field() title!: string; @was('body') @field() text!: string; @field.f64 n!: number; @field.optional.string tag?: string }
@Persistent('cb.Shelf') class ShelfV1 { @field.array(() => DocV1) docs!: PArray<DocV1> }
@Persistent('cb.Shelf') class ShelfV2 { @field.array(() => DocV2) docs!: PArray<DocV2> }

describe('pobj compacted backup (backupCompact)', () => {
  let dir: string
  before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'makalu-compact-')) })
  after(() => fs.rmSync(dir, { recursive: true, force: true }))

  it('copies only what the roots reach, shared objects once, every object in the newest layout', () => {
    const file = path.join(dir, 'src.heap')
    const h1 = PHeap.create(file, { size: 8 << 20, types: [ShelfV1, DocV1], gc: false })
    const docs = Array.from({ length: 200 }, (_, i) => h1.new(DocV1, { title: `t${i}`, body: `body ${i}`.repeat(5), n: i }))
    h1.setRoot('shelf', h1.new(ShelfV1, { docs: h1.newArray(DocV1, docs) }))
    h1.setRoot('first', docs[0]) // shared with the shelf
    for (let i = 0; i < 3000; i++) h1.new(DocV1, { title: 'garbage', body: 'x'.repeat(100), n: -1 }) // never published
    h1.close()
    const h = PHeap.open(file, { types: [ShelfV2], gc: false })
    const shelf = h.root('shelf', ShelfV2)!
    for (let i = 0; i < 50; i++) shelf.docs.get(i).tag = `up${i}` // upgraded: 50 forwarders
    expect(h.stats().forwarders.count).to.equal(50)
    const plain = path.join(dir, 'plain.heap')
    const compact = path.join(dir, 'compact.heap')
    h.backup(plain)
    const r = backupCompact(h, compact)
    expect(r.objects).to.equal(202) // 200 docs, the shelf and its array
    expect(r.roots).to.equal(2)
    expect(fs.statSync(compact).size).to.be.lessThan(fs.statSync(plain).size / 2)
    const c = PHeap.open(compact, { types: [ShelfV2], gc: false })
    try {
      expect(c.check().violations).to.deep.equal([])
      expect(c.stats().forwarders.count).to.equal(0)
      expect(c.stats().used).to.equal(reachable(c).bytes)
      expect(c.stats().used).to.be.lessThan(h.stats().used / 2)
      const got = c.root('shelf', ShelfV2)!.docs
      expect(got.length).to.equal(200)
      for (let i = 0; i < 200; i += 7) {
        const d = got.get(i)
        expect([d.title, d.text, d.n, d.tag]).to.deep.equal([`t${i}`, `body ${i}`.repeat(5), i, i < 50 ? `up${i}` : undefined])
      }
      expect(c.root('first')).to.equal(got.get(0))
      expect(c.types.versionsOf('cb.Doc').length).to.equal(1) // the copy knows the newest layout only
    } finally { c.close() }
    // The path must be new; the source is only read.
    expect(() => backupCompact(h, compact)).to.throw(/exists/)
    expect(h.root('shelf', ShelfV2)!.docs.get(3).text).to.equal('body 3'.repeat(5))
    h.close()
  })
})
