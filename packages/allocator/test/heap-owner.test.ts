/**
 * Issue 15.2: a heap records the layer that formatted it (superblock owner), and every open
 * must name it; a mismatch is a HeapFormatError before anything is written.
 */
import { expect } from 'chai'
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { Heap, SimRegion, ArgumentError, HeapFormatError, HeapCorruptError, format as F } from '../src'
import { SMALL_HEAP, SMALL_REGION } from './support/crash-harness'

/** Opening `image` with `opts` is refused with HeapFormatError matching `re`, and writes nothing. */
function refused(image: Uint8Array, opts: { owner?: string }, re: RegExp): void {
  const region = new SimRegion(image)
  expect(() => Heap.openIn(region, opts)).to.throw(HeapFormatError, re)
  expect(region.durableImage()).to.deep.equal(image)
  expect(region.pendingWords()).to.equal(0)
}

describe('heap: owner', () => {
  it('is stored at create and must be named by every open, clean or crashed', () => {
    const region = new SimRegion(SMALL_REGION)
    const h = Heap.createIn(region, { ...SMALL_HEAP, owner: 'app.v1' })
    expect(h.owner).to.equal('app.v1')
    const p = h.alloc(64)
    h.persist(p, 64)
    h.setRoot('p', p)
    const crashed = region.crash({ mode: 'strict' })
    h.close()
    const clean = region.durableImage()
    for (const image of [clean, crashed]) {
      refused(image, {}, /belongs to 'app\.v1'.*pass \{ owner: 'app\.v1' \}/)
      refused(image, { owner: 'other' }, /belongs to 'app\.v1', not to 'other'/)
      const again = Heap.openIn(new SimRegion(image), { owner: 'app.v1' })
      expect(again.getRoot('p')).to.equal(p)
      expect(again.check().violations).to.deep.equal([])
    }
    // A raw heap (no owner) is refused to a layer that expects its own.
    const raw = new SimRegion(SMALL_REGION)
    Heap.createIn(raw, SMALL_HEAP).close()
    expect(Heap.openIn(new SimRegion(raw.durableImage())).owner).to.equal('')
    refused(raw.durableImage(), { owner: 'app.v1' }, /raw allocator heap \(no owner\)/)
  })

  it('is covered by the superblock checksum, and the format version is 3 (4 over 4 GiB; older files are refused)', () => {
    const region = new SimRegion(SMALL_REGION)
    Heap.createIn(region, { ...SMALL_HEAP, owner: 'makalu.pobj' }).close()
    const good = region.durableImage()
    expect(Buffer.from(good.subarray(F.SB_OWNER, F.SB_OWNER + 11)).toString()).to.equal('makalu.pobj')
    const forged = good.slice()
    forged.fill(0, F.SB_OWNER, F.SB_OWNER + F.OWNER_MAX) // "make it a raw heap"
    expect(() => Heap.openIn(new SimRegion(forged))).to.throw(HeapCorruptError, /checksum/)
    for (const old of [1, 2]) {
      const img = good.slice()
      new Uint32Array(img.buffer)[F.SB_VERSION >> 2] = old
      refused(img, { owner: 'makalu.pobj' }, new RegExp(`format version ${old}; this library reads versions 3 and 4`))
    }
  })

  it('refuses a bad owner at create with ArgumentError, before a file exists', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'makalu-owner-'))
    for (const owner of ['x'.repeat(17), 'a\0b', 'ünïcødé-ünïcødé', 42 as unknown as string]) {
      const file = path.join(dir, 'h.heap')
      expect(() => Heap.create(file, { size: 1 << 20, chunkSize: 4096, owner })).to.throw(ArgumentError, /owner/)
      expect(fs.existsSync(file)).to.equal(false)
    }
    const ok = Heap.create(path.join(dir, 'ok.heap'), { size: 1 << 20, chunkSize: 4096, owner: 'x'.repeat(16) })
    ok.close()
    const again = Heap.open(path.join(dir, 'ok.heap'), { owner: 'x'.repeat(16) })
    expect(again.owner).to.equal('x'.repeat(16))
    again.close()
    fs.rmSync(dir, { recursive: true, force: true })
  })
})
