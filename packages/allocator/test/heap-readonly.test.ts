/** Read-only opens (a private copy of the file) and backups (a consistent copy written by the heap). */
import { expect } from 'chai'
import * as crypto from 'crypto'
import * as fs from 'fs'
import * as path from 'path'
import { Heap, ReadOnlyError, TransactionError, RegionError, HeapFormatError } from '../src'
import { makeTempDir, removeDir } from './fixtures/region-util'

const sha = (p: string): string => crypto.createHash('sha1').update(fs.readFileSync(p)).digest('hex')
const u32 = (h: Heap): Uint32Array => new Uint32Array(h.bytes.buffer, h.bytes.byteOffset, h.bytes.length / 4)

describe('heap: read-only opens', () => {
  let dir: string
  beforeEach(() => { dir = makeTempDir('readonly') })
  afterEach(() => removeDir(dir))

  it('reads a heap another open holds (no lock), refuses every write, and changes no byte of the file', () => {
    const file = path.join(dir, 'h')
    const w = Heap.create(file, { size: 1 << 20 })
    const p = w.alloc(16)
    u32(w)[p >>> 2] = 1234
    w.persist(p, 16)
    w.setRoot('r', p)
    const before = sha(file)
    const r = Heap.open(file, { readOnly: true })
    expect(r.readOnly).to.equal(true)
    expect(r.recovery.clean, 'the writer holds it open: it is dirty, so the copy is traced').to.equal(false)
    expect(u32(r)[r.getRoot('r') >>> 2]).to.equal(1234)
    expect(r.check().violations).to.deep.equal([])
    for (const [what, op] of [
      ['alloc', () => r.alloc(8)], ['free', () => r.free(p)], ['setRoot', () => r.setRoot('x', p)],
      ['persist', () => r.persist(p, 8)], ['transaction', () => r.transaction(() => 1)], ['collect', () => r.collect()],
    ] as const) expect(op, what).to.throw(ReadOnlyError, new RegExp(`${what}\\(\\) on a heap opened read-only`))
    r.close()
    expect(sha(file)).to.equal(before)
    expect(fs.readdirSync(dir).sort()).to.deep.equal(['h', 'h.lock'])
    w.close()
  })

  it('a read-only open of a crashed heap recovers in memory only: the next real open still recovers', () => {
    const file = path.join(dir, 'h')
    const w = Heap.create(file, { size: 1 << 20 })
    const keep = w.alloc(32)
    w.persist(keep, 32)
    w.setRoot('keep', keep)
    for (let i = 0; i < 100; i++) w.alloc(64) // garbage a recovery reclaims
    const crashed = path.join(dir, 'crashed')
    fs.copyFileSync(file, crashed) // a copy of an open heap: a crash image
    w.close()
    const before = sha(crashed)
    const r = Heap.open(crashed, { readOnly: true })
    expect([r.recovery.clean, r.recovery.reclaimedBlocks]).to.deep.equal([false, 100])
    expect(r.stats().liveBlocks).to.equal(1)
    r.close()
    expect(sha(crashed)).to.equal(before)
    const real = Heap.open(crashed)
    expect(real.recovery.clean).to.equal(false)
    real.close()
  })

  it('refuses what is not a heap file with a typed error', () => {
    const file = path.join(dir, 'junk')
    fs.writeFileSync(file, Buffer.alloc(8192, 7))
    expect(() => Heap.open(file, { readOnly: true })).to.throw(HeapFormatError, /not a makalu heap/)
    expect(() => Heap.open(path.join(dir, 'missing'), { readOnly: true })).to.throw(RegionError)
  })
})

describe('heap: backup', () => {
  let dir: string
  beforeEach(() => { dir = makeTempDir('backup') })
  afterEach(() => removeDir(dir))

  it('writes a copy that opens to exactly the state at the call, while the heap goes on', () => {
    const file = path.join(dir, 'h')
    const h = Heap.create(file, { size: 1 << 20, durability: 'process' })
    const table = h.alloc(8 * 4)
    h.persist(table, 32)
    h.setRoot('t', table)
    const copies: Array<[string, number[]]> = []
    for (let round = 0; round < 10; round++) {
      h.transaction(() => {
        const k = round % 4
        const old = u32(h)[(table >>> 2) + 2 * k]
        const fresh = h.alloc(16)
        u32(h)[fresh >>> 2] = round
        h.snapshot(table + 8 * k, 8)
        u32(h)[(table >>> 2) + 2 * k] = fresh
        if (old !== 0) h.free(old)
      })
      for (let j = 0; j < 20; j++) h.alloc(48) // garbage
      const copy = path.join(dir, `copy-${round}`)
      const r = h.backup(copy)
      expect(r.bytes).to.equal(1 << 20)
      copies.push([copy, [0, 1, 2, 3].map((k) => { const p = u32(h)[(table >>> 2) + 2 * k]; return p ? u32(h)[p >>> 2] : -1 })])
    }
    expect(() => h.transaction(() => h.backup(path.join(dir, 'inside')))).to.throw(TransactionError)
    expect(() => h.backup(copies[0][0]), 'never overwrites').to.throw(RegionError)
    h.close()
    for (const [copy, want] of copies) {
      const c = Heap.open(copy)
      const t = c.getRoot('t')
      expect([0, 1, 2, 3].map((k) => { const p = u32(c)[(t >>> 2) + 2 * k]; return p ? u32(c)[p >>> 2] : -1 }), copy).to.deep.equal(want)
      expect(c.recovery.reclaimedBlocks, 'the garbage is reclaimed by the copy\'s first open').to.be.greaterThan(0)
      expect(c.check().violations).to.deep.equal([])
      c.close()
    }
  })
})
