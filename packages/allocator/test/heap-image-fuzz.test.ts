import { expect } from 'chai'
import { Heap, SimRegion, MakaluError, mulberry32, format as F } from '../src'
import { SMALL_HEAP, SMALL_REGION } from './support/crash-harness'
import { listWorkload, accountsWorkload } from './support/workloads'

/** A heap image with lists, transactions, large blocks; `dirty` leaves it mid-transaction. */
function sampleImage(dirty: boolean): Uint8Array {
  const region = new SimRegion(SMALL_REGION)
  const heap = Heap.createIn(region, SMALL_HEAP)
  for (let i = 0; i < 40; i++) listWorkload.apply(heap, 3, i)
  for (let i = 0; i < 20; i++) accountsWorkload.apply(heap, 3, i)
  heap.alloc(9000)
  if (!dirty) {
    heap.close()
    return region.durableImage()
  }
  // Stop mid-transaction: the image at the second snapshot's drain holds an unfinished one.
  const table = heap.getRoot('accounts')
  let captured: Uint8Array | null = null
  heap.transaction(() => {
    heap.snapshot(table, 16)
    region.onDrain = () => { captured ??= region.bytes.slice() }
    heap.snapshot(table + 16, 8)
    region.onDrain = null
  })
  if (!captured) throw new Error('no image captured')
  return captured
}

/** Opens a damaged image: a typed error, or a heap that passes check() and works. */
function openDamaged(image: Uint8Array, what: string): 'refused' | 'opened' {
  let heap: Heap
  try {
    heap = Heap.openIn(new SimRegion(image))
  } catch (e) {
    if (!(e instanceof MakaluError)) throw new Error(`${what}: untyped error ${(e as Error).stack}`, { cause: e })
    return 'refused'
  }
  const report = heap.check()
  expect(report.violations, what).to.deep.equal([])
  for (let i = 0; i < 50; i++) {
    try { heap.free(heap.alloc(16 + i * 40)) } catch (e) {
      if (!(e instanceof MakaluError)) throw new Error(`${what}: untyped error after open ${(e as Error).stack}`, { cause: e })
    }
  }
  expect(heap.check().violations, what).to.deep.equal([])
  return 'opened'
}

describe('heap: fuzzed images', function () {
  this.timeout(300_000)
  for (const dirty of [false, true]) {
    it(`a ${dirty ? 'crashed' : 'clean'} image with random damage to its metadata: typed error or a consistent heap`, () => {
      const image = sampleImage(dirty)
      expect(Heap.openIn(new SimRegion(image)).recovery.rolledBackTransaction).to.equal(dirty)
      const u = new Uint32Array(image.buffer)
      const dataOff = u[F.SB_DATA_OFF >> 2]
      const r = mulberry32(dirty ? 99 : 98)
      const outcomes = { refused: 0, opened: 0 }
      for (let k = 0; k < 400; k++) {
        const img = image.slice()
        const flips = 1 + Math.floor(r() * 4)
        for (let f = 0; f < flips; f++) {
          // Mostly metadata (superblock, chunk table, roots, log, bitmap); some data.
          const at = r() < 0.85 ? Math.floor(r() * dataOff) : dataOff + Math.floor(r() * (img.length - dataOff))
          img[at] = r() < 0.5 ? img[at] ^ (1 << Math.floor(r() * 8)) : Math.floor(r() * 256)
        }
        outcomes[openDamaged(img, `damage ${k}`)]++
      }
      expect(outcomes.refused + outcomes.opened).to.equal(400)
    })
  }

  it('a clean image whose saved bitmap disagrees with its chunk table is traced again, keeping what is reachable', () => {
    const image = sampleImage(false)
    const before = Heap.openIn(new SimRegion(image))
    expect(before.recovery.reason).to.equal('clean')
    const list = listWorkload.read(before).state
    const u = new Uint32Array(image.buffer)
    const bitmapOff = u[F.SB_BITMAP_OFF >> 2]
    // A stray bit in the run holding the list's head: mid-block, so no block gains or loses.
    const head = before.getRoot('list')
    expect(before.usableSize(head)).to.equal(32)
    const g = (head + 16 - before.dataOffset) / 16
    image[bitmapOff + (g >> 3)] |= 1 << (g & 7)
    const after = Heap.openIn(new SimRegion(image))
    expect(after.recovery.reason).to.equal('inconsistent-clean-state')
    expect(after.recovery.tracing).to.equal('conservative')
    expect(listWorkload.read(after).state).to.deep.equal(list)
    expect(after.check().violations).to.deep.equal([])
  })

  it('a truncated image, an image of zeros, and random bytes are refused', () => {
    const image = sampleImage(false)
    expect(openDamaged(image.slice(0, 128 * 1024), 'truncated')).to.equal('refused')
    expect(openDamaged(new Uint8Array(SMALL_REGION), 'zeros')).to.equal('refused')
    const r = mulberry32(5)
    expect(openDamaged(Uint8Array.from({ length: SMALL_REGION }, () => Math.floor(r() * 256)), 'random')).to.equal('refused')
  })
})
