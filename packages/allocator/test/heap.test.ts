import { expect } from 'chai'
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import {
  Heap, SimRegion, SizeClasses, HeapFullError, InvalidPointerError, HeapClosedError, TransactionError,
  ArgumentError, HeapFormatError, HeapCorruptError, HeapLockedError, RegionError, format as F,
} from '../src'
import { entryChecksum } from '../src/undo-log'
import { Memory } from '../src/memory'
import { SMALL_HEAP, SMALL_REGION } from './support/crash-harness'

const small = (): Heap => Heap.createIn(new SimRegion(SMALL_REGION), SMALL_HEAP)
const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'makalu-heap-'))

describe('size classes', () => {
  it('cover 16 B to chunkSize/8 in increasing order, each request in the smallest class that fits', () => {
    const sc = new SizeClasses(65536)
    expect(sc.sizes[0]).to.equal(16)
    expect(sc.maxSmall).to.equal(8192)
    for (let i = 1; i < sc.count; i++) expect(sc.sizes[i]).to.be.greaterThan(sc.sizes[i - 1])
    for (let s = 1; s <= sc.maxSmall; s++) {
      const c = sc.classOf(s)
      expect(sc.sizes[c]).to.be.at.least(s)
      if (c > 0) expect(sc.sizes[c - 1]).to.be.below(s)
    }
    for (let c = 0; c < sc.count; c++) expect(sc.perChunk[c]).to.be.at.least(8)
  })
})

describe('heap: allocation', () => {
  it('returns zero-filled, 16-byte aligned, disjoint blocks of at least the size asked', () => {
    const h = small()
    const seen: Array<[number, number]> = []
    for (const size of [0, 1, 16, 17, 64, 100, 255, 256, 300, 512, 513, 4096, 9000, 20000]) {
      const p = h.alloc(size)
      expect(p % 16).to.equal(0)
      expect(p).to.be.at.least(h.dataOffset)
      expect(h.usableSize(p)).to.be.at.least(Math.max(size, 1))
      expect(h.bytes.subarray(p, p + h.usableSize(p)).every((b) => b === 0)).to.equal(true)
      h.bytes.fill(0xab, p, p + h.usableSize(p))
      for (const [s, e] of seen) expect(p >= e || p + h.usableSize(p) <= s).to.equal(true)
      seen.push([p, p + h.usableSize(p)])
    }
    expect(h.check().violations).to.deep.equal([])
    // Freed memory comes back zeroed.
    for (const [p] of seen) h.free(p)
    const again = h.alloc(64)
    expect(h.bytes.subarray(again, again + 64).every((b) => b === 0)).to.equal(true)
  })

  it('writes nothing durable on the small-object fast path', () => {
    const region = new SimRegion(SMALL_REGION)
    const h = Heap.createIn(region, SMALL_HEAP)
    const warm = h.alloc(64)
    h.free(warm)
    region.resetCounters()
    for (let i = 0; i < 10_000; i++) h.free(h.alloc(64))
    expect(region.counters).to.deep.equal({ flushes: 0, drains: 0, flushedBytes: 0 })
  })

  it('counts used bytes and live blocks exactly', () => {
    const h = small()
    const a = h.alloc(20); const b = h.alloc(5000); const c = h.alloc(100)
    const s = h.stats()
    expect(s.used).to.equal(h.usableSize(a) + h.usableSize(b) + h.usableSize(c))
    expect(s.liveBlocks).to.equal(3)
    h.free(b)
    expect(h.stats().used).to.equal(h.usableSize(a) + h.usableSize(c))
    expect(s.free + s.used).to.equal(s.capacity)
  })

  it('throws HeapFullError when full and leaves the heap usable', () => {
    const h = small()
    const kept: number[] = []
    expect(() => { for (;;) kept.push(h.alloc(200)) }).to.throw(HeapFullError, /out of space/)
    const used = h.stats().used
    expect(() => h.alloc(100_000)).to.throw(HeapFullError)
    expect(h.stats().used).to.equal(used)
    expect(h.check().violations).to.deep.equal([])
    h.free(kept.pop()!)
    expect(h.alloc(200)).to.be.a('number')
  })

  it('releases empty runs and reuses their chunks for other sizes and for large objects', () => {
    const h = small()
    const cap = h.stats().capacity
    const ps: number[] = []
    try { for (;;) ps.push(h.alloc(48)) } catch (e) { expect(e).to.be.instanceOf(HeapFullError) }
    for (const p of ps) h.free(p)
    expect(h.stats().used).to.equal(0)
    const big = h.alloc(cap - 3 * 4096)
    expect(h.usableSize(big)).to.be.at.least(cap - 3 * 4096)
    expect(h.check().violations).to.deep.equal([])
  })

  it('grows the region up to maxSize when it can', () => {
    const region = new SimRegion(256 * 1024)
    const h = Heap.createIn(region, { ...SMALL_HEAP, maxSize: 1024 * 1024 })
    const before = h.stats().capacity
    const ps: number[] = []
    for (let i = 0; i < 3000; i++) ps.push(h.alloc(200))
    expect(h.stats().capacity).to.be.greaterThan(before)
    expect(region.size).to.be.greaterThan(256 * 1024)
    expect(h.check().violations).to.deep.equal([])
    expect(() => { for (;;) ps.push(h.alloc(200)) }).to.throw(HeapFullError)
    expect(region.size).to.be.at.most(1024 * 1024)
    h.close()
    const again = Heap.openIn(new SimRegion(region.durableImage()))
    expect(again.stats().liveBlocks).to.equal(ps.length)
  })

  it('refuses bad frees with InvalidPointerError and changes nothing', () => {
    const h = small()
    const p = h.alloc(64)
    const q = h.alloc(64)
    expect(() => h.free(p + 16)).to.throw(InvalidPointerError, /not the start of a block/)
    expect(() => h.free(0)).to.throw(InvalidPointerError)
    expect(() => h.free(12345678)).to.throw(InvalidPointerError)
    expect(() => h.free('x' as unknown as number)).to.throw(InvalidPointerError)
    h.free(p)
    expect(() => h.free(p)).to.throw(InvalidPointerError, /freed already/)
    expect(h.isAllocated(q)).to.equal(true)
    expect(h.check().violations).to.deep.equal([])
    expect(() => h.alloc(-1)).to.throw(ArgumentError)
  })
})

describe('heap: roots', () => {
  it('binds, rebinds and removes names; survives a clean reopen', () => {
    const region = new SimRegion(SMALL_REGION)
    const h = Heap.createIn(region, SMALL_HEAP)
    const a = h.alloc(16); const b = h.alloc(16)
    h.setRoot('a', a)
    h.setRoot('ünïcødé', b)
    expect(h.getRoot('a')).to.equal(a)
    h.setRoot('a', b)
    expect(h.getRoot('a')).to.equal(b)
    h.setRoot('gone', a)
    h.setRoot('gone', 0)
    expect(h.getRoot('gone')).to.equal(0)
    expect(h.getRoot('never')).to.equal(0)
    expect(h.roots().sort()).to.deep.equal([['a', b], ['ünïcødé', b]])
    h.close()
    const again = Heap.openIn(new SimRegion(region.durableImage()))
    expect(again.recovery.clean).to.equal(true)
    expect(again.roots().sort()).to.deep.equal([['a', b], ['ünïcødé', b]])
  })

  it('takes names up to 112 UTF-8 bytes and 1024 roots by default', () => {
    const h = Heap.createIn(new SimRegion(2 << 20), { chunkSize: 4096, logSize: 8192 })
    const p = h.alloc(8)
    h.setRoot('x'.repeat(112), p)
    expect(() => h.setRoot('x'.repeat(113), p)).to.throw(ArgumentError, /112/)
    expect(() => h.setRoot('', p)).to.throw(ArgumentError)
    for (let i = 1; i < 1024; i++) h.setRoot(`root-${i}`, p)
    expect(h.roots().length).to.equal(1024)
    expect(() => h.setRoot('one-too-many', p)).to.throw(HeapFullError, /root table is full/)
    expect(() => h.setRoot('bad', p + 1)).to.throw(InvalidPointerError)
  })

  it('refuses names that are not well-formed UTF-16 (a lone surrogate), and keeps astral characters', () => {
    const region = new SimRegion(SMALL_REGION)
    const h = Heap.createIn(region, SMALL_HEAP)
    const p = h.alloc(16)
    for (const bad of ['\uD800', '\uDFFF', 'a\uD83Db', 'x\uDE00', '\uDE00\uD83D']) {
      expect(() => h.setRoot(bad, p), JSON.stringify(bad)).to.throw(ArgumentError, /lone surrogate/)
    }
    h.setRoot('\uD83D\uDE00 smile', p)
    expect(h.roots().length).to.equal(1)
    h.close()
    const again = Heap.openIn(new SimRegion(region.durableImage()))
    expect(again.getRoot('\uD83D\uDE00 smile')).to.equal(p)
  })

  it('detects a damaged root slot (name, length or check) at open and in check()', () => {
    for (const [what, delta] of [['a name byte', F.RS_NAME + 1], ['the length', F.RS_NAME_LENGTH], ['the check', F.RS_NAME_CHECK]] as const) {
      const region = new SimRegion(SMALL_REGION)
      const h = Heap.createIn(region, SMALL_HEAP)
      h.setRoot('accounts', h.alloc(16))
      const slot = h.layout.rootTableOff
      expect(new TextDecoder().decode(h.bytes.subarray(slot + F.RS_NAME, slot + F.RS_NAME + 8))).to.equal('accounts')
      h.bytes[slot + delta] ^= 0x01
      expect(h.check().violations.join('\n'), what).to.match(/root slot 0 is damaged/)
      h.bytes[slot + delta] ^= 0x01
      h.close()
      const image = region.durableImage()
      image[slot + delta] ^= 0x01
      expect(() => Heap.openIn(new SimRegion(image)), what).to.throw(HeapCorruptError, /root slot 0 is damaged/)
    }
  })

  it('costs two drains per root change and durability when setRoot returns', () => {
    const region = new SimRegion(SMALL_REGION)
    const h = Heap.createIn(region, SMALL_HEAP)
    const p = h.alloc(32)
    h.bytes[p] = 9
    h.flush(p, 1)
    h.setRoot('r', p)
    const image = region.crash({ mode: 'strict' })
    const after = Heap.openIn(new SimRegion(image))
    expect(after.getRoot('r')).to.equal(p)
    expect(after.bytes[p]).to.equal(9)
    region.resetCounters()
    h.setRoot('r', h.alloc(32))
    expect(region.counters.drains).to.equal(2)
  })
})

describe('heap: transactions', () => {
  it('commits snapshotted changes, allocations, frees and root changes together', () => {
    const region = new SimRegion(SMALL_REGION)
    const h = Heap.createIn(region, SMALL_HEAP)
    const a = h.alloc(16)
    h.persist(a, 16)
    h.setRoot('a', a)
    let made = 0
    const r = h.transaction(() => {
      h.snapshot(a, 8)
      h.bytes[a] = 42
      made = h.alloc(100)
      h.bytes[made] = 7
      h.setRoot('b', made)
      h.free(a)
      expect(h.isAllocated(a), 'frees wait for commit').to.equal(true)
      return 'result'
    })
    expect(r).to.equal('result')
    expect(h.isAllocated(a)).to.equal(false)
    const img = region.crash({ mode: 'strict' })
    const after = Heap.openIn(new SimRegion(img))
    expect(after.getRoot('b')).to.equal(made)
    expect(after.bytes[made]).to.equal(7)
  })

  it('rolls back on a throw and rethrows; blocks allocated inside are reclaimed', () => {
    const h = small()
    const a = h.alloc(16)
    h.bytes[a] = 1
    h.persist(a, 16)
    h.setRoot('a', a)
    const used = h.stats().used
    expect(() => h.transaction(() => {
      h.snapshot(a, 16)
      h.bytes[a] = 2
      h.setRoot('b', h.alloc(64))
      h.setRoot('a', 0)
      h.free(a)
      throw new Error('boom')
    })).to.throw('boom')
    expect(h.bytes[a]).to.equal(1)
    expect(h.getRoot('a')).to.equal(a)
    expect(h.getRoot('b')).to.equal(0)
    expect(h.isAllocated(a)).to.equal(true)
    expect(h.stats().used).to.equal(used)
    expect(h.check().violations).to.deep.equal([])
  })

  it('costs one drain per snapshot and two at commit; a read-only one costs nothing', () => {
    const region = new SimRegion(SMALL_REGION)
    const h = Heap.createIn(region, SMALL_HEAP)
    const a = h.alloc(64)
    region.resetCounters()
    h.transaction(() => { h.snapshot(a, 8); h.snapshot(a + 8, 8); h.snapshot(a, 8) /* again: free */ })
    expect(region.counters.drains).to.equal(4)
    region.resetCounters()
    h.transaction(() => h.getRoot('x'))
    expect(region.counters.drains).to.equal(0)
  })

  it("costs three drains at commit and none per snapshot on an 'at-drain' region", () => {
    const region = new SimRegion(SMALL_REGION, { writeBack: 'at-drain' })
    const h = Heap.createIn(region, SMALL_HEAP)
    const a = h.alloc(64)
    region.resetCounters()
    h.transaction(() => { for (let i = 0; i < 8; i++) { h.snapshot(a + 8 * i, 8); h.bytes[a + 8 * i] = i } })
    expect(region.counters.drains).to.equal(3)
  })

  it('refuses misuse with TransactionError', () => {
    const h = small()
    expect(() => h.snapshot(h.alloc(8), 8)).to.throw(TransactionError, /outside a transaction/)
    expect(() => h.transaction(() => Promise.resolve(1))).to.throw(TransactionError, /synchronous/)
    const big = h.alloc(6000)
    expect(() => h.transaction(() => h.snapshot(big, 6000) ?? h.snapshot(big, 6000) ?? h.snapshot(big + 16, 5000)))
      .to.throw(TransactionError, /too large for the undo log/)
    expect(h.check().violations).to.deep.equal([])
    expect(() => h.transaction(() => h.close())).to.throw(TransactionError)
  })

  it('nested transactions join the outer one', () => {
    const h = small()
    const a = h.alloc(16)
    expect(() => h.transaction(() => {
      h.transaction(() => { h.snapshot(a, 1); h.bytes[a] = 5 })
      throw new Error('outer')
    })).to.throw('outer')
    expect(h.bytes[a]).to.equal(0)
  })
})

describe('heap: recovery of a large pointer table', () => {
  it('keeps exactly the blocks reachable through a table of 3000 pointers, conservative and precise', () => {
    const region = new SimRegion(2 << 20)
    const h = Heap.createIn(region, SMALL_HEAP)
    const u = (): Uint32Array => new Uint32Array(h.bytes.buffer)
    const table = h.alloc(3000 * 8)
    for (let i = 0; i < 3000; i++) {
      const a = h.alloc(32)
      const b = h.alloc(16)
      u()[b >>> 2] = 0xdead0000 + i // not a pointer
      u()[a >>> 2] = b
      u()[(table >>> 2) + 2 * i] = a
      h.alloc(48) // garbage
    }
    h.flush(h.dataOffset, h.stats().capacity)
    h.setRoot('table', table)
    const image = region.crash({ mode: 'strict' })
    const tracer = {
      trace(bytes: Uint8Array, ptr: number, size: number, visit: (p: number) => void): void {
        const w = new Uint32Array(bytes.buffer, bytes.byteOffset + ptr, size >>> 2)
        if (size === 32) visit(w[0])
        else if (size >= 3000 * 8) for (let i = 0; i < 3000; i++) visit(w[2 * i])
      },
    }
    for (const opts of [{}, { tracer }]) {
      const again = Heap.openIn(new SimRegion(image), opts)
      expect(again.recovery.liveBlocks).to.equal(1 + 2 * 3000)
      const w = new Uint32Array(again.bytes.buffer)
      for (let i = 0; i < 3000; i++) {
        const a = w[(table >>> 2) + 2 * i]
        expect(again.isAllocated(a) && again.isAllocated(w[a >>> 2])).to.equal(true)
        expect(w[w[a >>> 2] >>> 2]).to.equal(0xdead0000 + i)
      }
      expect(again.check().violations).to.deep.equal([])
    }
    // As after a killed process on mmap (every store survived, the bitmap too): the 3000
    // garbage blocks are counted as reclaimed.
    const killed = Heap.openIn(new SimRegion(region.bytes.slice()))
    expect(killed.recovery.liveBlocks).to.equal(1 + 2 * 3000)
    expect(killed.recovery.reclaimedBlocks).to.equal(3000)
    expect(killed.recovery.reclaimedBytes).to.equal(3000 * 48)
  })
})

describe('heap: open, close and bad input', () => {
  it('reopens a cleanly closed heap without tracing; use after close throws', () => {
    const region = new SimRegion(SMALL_REGION)
    const h = Heap.createIn(region, SMALL_HEAP)
    const ps = Array.from({ length: 500 }, (_, i) => h.alloc(16 + (i % 200)))
    for (let i = 0; i < ps.length; i += 3) h.free(ps[i])
    const stats = h.stats()
    h.setRoot('r', ps[1])
    h.close()
    expect(() => h.alloc(8)).to.throw(HeapClosedError)
    expect(() => h.getRoot('r')).to.throw(HeapClosedError)
    const again = Heap.openIn(new SimRegion(region.durableImage()))
    expect(again.recovery.clean).to.equal(true)
    expect(again.recovery.tracing).to.equal('none')
    expect(again.stats().used).to.equal(stats.used)
    expect(again.stats().liveBlocks).to.equal(stats.liveBlocks)
    expect(again.check().violations).to.deep.equal([])
    // The lazily rebuilt free lists hand out only free blocks.
    const live = new Set(ps.filter((_, i) => i % 3 !== 0))
    for (let i = 0; i < 300; i++) expect(live.has(again.alloc(16 + (i % 200)))).to.equal(false)
    expect(again.check().violations).to.deep.equal([])
  })

  it('refuses what is not a heap with HeapFormatError, and writes nothing', () => {
    const junk = new Uint8Array(SMALL_REGION).fill(7)
    const r = new SimRegion(junk)
    expect(() => Heap.openIn(r)).to.throw(HeapFormatError, /not a makalu heap/)
    expect(r.durableImage()).to.deep.equal(junk)
    expect(r.pendingWords()).to.equal(0)
  })

  it('refuses a newer format version, a bad checksum, a truncated heap, a bad log entry', () => {
    const region = new SimRegion(SMALL_REGION)
    Heap.createIn(region, SMALL_HEAP).close()
    const good = region.durableImage()
    const mutate = (f: (img: Uint8Array, u: Uint32Array) => void): SimRegion => {
      const img = good.slice()
      f(img, new Uint32Array(img.buffer))
      return new SimRegion(img)
    }
    expect(() => Heap.openIn(mutate((_, u) => { u[F.SB_VERSION >> 2] = 99 }))).to.throw(HeapFormatError, /newer/)
    expect(() => Heap.openIn(mutate((b) => { b[F.SB_CHUNK_SIZE] ^= 1 }))).to.throw(HeapCorruptError, /checksum/)
    expect(() => Heap.openIn(new SimRegion(good.slice(0, 64 * 1024)))).to.throw(HeapCorruptError, /truncated/)
    const logOff = new Uint32Array(good.buffer)[F.SB_LOG_OFF >> 2]
    // A well-formed entry of an unfinished transaction whose target lies outside the heap.
    const h = Heap.createIn(new SimRegion(SMALL_REGION), SMALL_HEAP)
    const a = h.alloc(8)
    const r2 = h.region as SimRegion
    r2.onDrain = () => { throw new Error('crash here') }
    expect(() => h.transaction(() => h.snapshot(a, 8))).to.throw('crash here')
    r2.onDrain = null
    const img = r2.bytes.slice()
    const u = new Uint32Array(img.buffer)
    const e = logOff + F.LOG_HEADER_SIZE
    expect(u[(e + F.LE_TARGET) >> 2]).to.equal(a)
    u[(e + F.LE_TARGET) >> 2] = 0xfffff000
    u[(e + F.LE_CHECKSUM) >> 2] = entryChecksum(new Memory(new SimRegion(img)), e, u[(e + F.LE_TX) >> 2], 0, 0xfffff000, 8)
    const bad = new SimRegion(img)
    const before = bad.bytes.slice()
    expect(() => Heap.openIn(bad)).to.throw(HeapCorruptError, /undo log entry 0 targets/)
    expect(bad.bytes).to.deep.equal(before)
  })

  it('on files: create, reopen, typed errors, and a second open is HeapLockedError', () => {
    const dir = tmp()
    const file = path.join(dir, 'h.heap')
    const h = Heap.create(file, { size: 1 << 20, chunkSize: 4096 })
    const p = h.alloc(100)
    h.bytes[p] = 77
    h.persist(p, 1)
    h.setRoot('p', p)
    expect(() => Heap.open(file)).to.throw(HeapLockedError)
    expect(() => Heap.create(file, { size: 1 << 20 })).to.throw(RegionError)
    h.close()
    const again = Heap.open(file)
    expect(again.recovery.clean).to.equal(true)
    expect(again.bytes[again.getRoot('p')]).to.equal(77)
    again.close()
    expect(() => Heap.open(path.join(dir, 'missing.heap'))).to.throw(RegionError)
    expect(fs.existsSync(path.join(dir, 'missing.heap'))).to.equal(false)
    expect(() => Heap.create(path.join(dir, 'tiny.heap'), { size: 8192 })).to.throw(ArgumentError, /too small/)
    expect(fs.existsSync(path.join(dir, 'tiny.heap'))).to.equal(false)
    fs.writeFileSync(path.join(dir, 'text.heap'), Buffer.alloc(8192, 'hello '))
    expect(() => Heap.open(path.join(dir, 'text.heap'))).to.throw(HeapFormatError)
    expect(fs.readFileSync(path.join(dir, 'text.heap')).equals(Buffer.alloc(8192, 'hello '))).to.equal(true)
    fs.rmSync(dir, { recursive: true })
  })
})
