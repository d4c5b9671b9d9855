import { expect } from 'chai'
import * as fs from 'fs'
import * as path from 'path'
import { ArgumentError, Heap, HeapFullError, RegionError, loadNative } from '../src'
import { makeTempDir, removeDir } from './fixtures/region-util'

/**
 * Sizes at the limits (issue 8.8): a heap of exactly 4 GiB, a heap grown to a 4 GiB
 * maxSize, and the file backend past 2 GiB either work or are refused up front. The
 * files are fallocated, not written: on ext4 that takes milliseconds and touches only
 * the pages used. A large block is zero-filled when allocated, so the variants that use
 * a heap up to its last byte (4 GiB of page cache) and the file backend grown to 3 GiB
 * (held in memory) run with MAKALU_SOAK=1; CI creates a 4 GiB heap, uses its first
 * chunks and reopens it, and runs the file backend just past 2 GiB.
 */
const GiB = 2 ** 30
const MiB = 2 ** 20
const soak = process.env.MAKALU_SOAK === '1'
const opts = { durability: 'process' as const, chunkSize: MiB, logSize: 64 * 1024, rootCapacity: 16 }

/** Writes a recognisable 8-byte word at the first and the last word of a block, and persists both. */
function mark(h: Heap, p: number, tag: number): void {
  const end = p + h.usableSize(p) - 8
  for (const at of [p, end]) {
    h.bytes.fill(tag, at, at + 8)
    h.persist(at, 8)
  }
}
function marked(h: Heap, p: number, tag: number): boolean {
  const end = p + h.usableSize(p) - 8
  return [p, end].every((at) => h.bytes.subarray(at, at + 8).every((b) => b === tag))
}

describe('sizes at the limits', function () {
  this.timeout(120_000)
  let dir: string
  beforeEach(() => { dir = makeTempDir('limits') })
  afterEach(() => removeDir(dir))

  const mmap = loadNative() ? it : it.skip
  const mmapSoak = loadNative() && soak ? it : it.skip

  mmap('mmap: a heap of exactly 4 GiB is created, used, closed and reopened', () => {
    const p = path.join(dir, 'h4')
    const h = Heap.create(p, { size: 4 * GiB, backend: 'mmap', ...opts })
    const blocks: number[] = []
    try {
      expect(h.bytes.length).to.equal(4 * GiB)
      for (let i = 0; i < 100; i++) {
        const b = h.alloc(i % 2 ? 48 : 100_000)
        mark(h, b, i + 1)
        blocks.push(b)
      }
      h.setRoot('list', blocks[0])
      h.free(blocks[1])
      expect(h.check().violations).to.deep.equal([])
    } finally {
      h.close()
    }
    const again = Heap.open(p, { backend: 'mmap', durability: 'process' })
    try {
      expect(again.recovery.clean).to.equal(true)
      expect(again.getRoot('list')).to.equal(blocks[0])
      expect(again.stats().liveBlocks).to.equal(99)
      for (let i = 2; i < 100; i++) expect(marked(again, blocks[i], i + 1), `block ${i}`).to.equal(true)
      expect(again.check().violations).to.deep.equal([])
    } finally {
      again.close()
    }
  })

  mmapSoak('mmap (soak): a heap of exactly 4 GiB is used up to its last chunk, and reopened', () => {
    const p = path.join(dir, 'h4')
    const h = Heap.create(p, { size: 4 * GiB, backend: 'mmap', ...opts, chunkSize: 4096 })
    let big: number
    try {
      expect(h.bytes.length).to.equal(4 * GiB)
      const small = h.alloc(64)
      mark(h, small, 0x11)
      h.setRoot('small', small)
      big = h.alloc(h.stats().largestFree) // the last chunks: the block ends within a chunk of 4 GiB
      expect(big + h.usableSize(big)).to.be.greaterThan(4 * GiB - 4096)
      mark(h, big, 0x22)
      h.setRoot('big', big)
      expect(h.check().violations).to.deep.equal([])
    } finally {
      h.close()
    }
    expect(fs.statSync(p).size).to.equal(4 * GiB)
    const again = Heap.open(p, { backend: 'mmap', durability: 'process' })
    try {
      expect(again.recovery.clean).to.equal(true)
      expect(marked(again, again.getRoot('small'), 0x11)).to.equal(true)
      expect(again.getRoot('big')).to.equal(big)
      expect(marked(again, big, 0x22)).to.equal(true)
      expect(again.check().violations).to.deep.equal([])
      expect(again.stats().liveBlocks).to.equal(2)
    } finally {
      again.close()
    }
  })

  mmapSoak('mmap (soak): a heap grows to its 4 GiB maxSize, then reports HeapFullError, and reopens whole', () => {
    const p = path.join(dir, 'g4')
    const h = Heap.create(p, { size: 64 * MiB, maxSize: 4 * GiB, backend: 'mmap', ...opts })
    const blocks: number[] = []
    try {
      for (;;) {
        let b: number
        try { b = h.alloc(256 * MiB - 4096) } catch (e) { expect(e).to.be.instanceOf(HeapFullError); break }
        mark(h, b, blocks.length + 1)
        blocks.push(b)
      }
      h.setRoot('first', blocks[0])
      h.setRoot('last', blocks[blocks.length - 1])
      expect(h.region.size).to.be.at.most(4 * GiB)
      expect(h.region.size).to.be.greaterThan(4 * GiB - 256 * MiB)
      expect(() => h.alloc(256 * MiB)).to.throw(HeapFullError)
      expect(h.check().violations).to.deep.equal([])
    } finally {
      h.close()
    }
    const again = Heap.open(p, { backend: 'mmap', durability: 'process' })
    try {
      const last = again.getRoot('last')
      expect(last).to.equal(blocks[blocks.length - 1])
      expect(last).to.be.greaterThan(2 ** 31)
      expect(marked(again, last, blocks.length)).to.equal(true)
      expect(marked(again, again.getRoot('first'), 1)).to.equal(true)
      expect(again.check().violations).to.deep.equal([])
    } finally {
      again.close()
    }
  })

  for (const backend of (loadNative() ? ['mmap', 'file'] : ['file']) as Array<'mmap' | 'file'>) {
    it(`${backend}: a size or maxSize over ${backend === 'mmap' ? '256' : '4'} GiB is refused up front, leaving no file`, () => {
      const p = path.join(dir, 'over')
      if (backend === 'mmap') {
        expect(() => Heap.create(p, { size: 256 * GiB + 4096, backend })).to.throw(ArgumentError, '256 GiB')
        expect(() => Heap.create(p, { size: MiB, maxSize: 256 * GiB + 4096, backend })).to.throw(ArgumentError, '256 GiB')
      } else {
        expect(() => Heap.create(p, { size: 4 * GiB + 4096, backend })).to.throw(RegionError, 'at most 4 GiB')
        expect(() => Heap.create(p, { size: 64 * MiB, maxSize: 4 * GiB + 4096, backend })).to.throw(RegionError, 'at most 4 GiB')
      }
      expect(fs.readdirSync(dir)).to.deep.equal([])
    })
  }

  it(`file backend: past 2 GiB (create ${soak ? '2 GiB, grow by 1 GiB' : '2 GiB + 64 MiB'}), close, reopen`, () => {
    const p = path.join(dir, 'f2')
    const size = soak ? 2 * GiB : 2 * GiB + 64 * MiB
    const h = Heap.create(p, { size, maxSize: 4 * GiB, backend: 'file', ...opts })
    let last: number
    try {
      const first = h.alloc(64)
      mark(h, first, 0x33)
      h.setRoot('first', first)
      if (soak) h.alloc(h.stats().largestFree) // fills the 2 GiB: the next block grows the file to 3 GiB
      last = h.alloc(soak ? GiB : h.stats().largestFree)
      mark(h, last, 0x44)
      h.setRoot('last', last)
      expect(last + h.usableSize(last)).to.be.greaterThan(2 ** 31)
      if (soak) expect(h.region.size).to.be.greaterThan(3 * GiB - 64 * MiB)
    } finally {
      h.close()
    }
    const fileSize = fs.statSync(p).size
    expect(fileSize).to.be.greaterThan(2 ** 31)
    const again = Heap.open(p, { backend: 'file', durability: 'process' })
    try {
      expect(again.region.size).to.equal(fileSize)
      expect(again.recovery.clean).to.equal(true)
      expect(again.getRoot('last')).to.equal(last)
      expect(marked(again, last, 0x44)).to.equal(true)
      expect(marked(again, again.getRoot('first'), 0x33)).to.equal(true)
    } finally {
      again.close()
    }
  })
})
