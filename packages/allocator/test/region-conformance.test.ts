import { expect } from 'chai'
import * as fs from 'fs'
import * as path from 'path'
import {
  ArgumentError, Durability, Region, RegionError, SimRegion, CrashMode, openRegion, loadNative, mulberry32,
} from '../src'
import { makeTempDir, removeDir } from './fixtures/region-util'

/**
 * One suite body, run against every backend. A harness makes a region and
 * "reopens" it: mmap and file close it and open the file again; SimRegion
 * builds a crash image (strict or random) and starts a new region from it.
 * Either way, whatever was flushed and drained must be there afterwards.
 */
interface Harness {
  create(size: number): Region
  reopen(r: Region): Region
  dispose(): void
}

interface BackendCase { name: string, make(): Harness }

function fileHarness(backend: 'mmap' | 'file', durability: Durability): Harness {
  const dir = makeTempDir(`conf-${backend}`)
  let n = 0
  const paths = new Map<Region, string>()
  const open: Region[] = []
  return {
    create(size) {
      const p = path.join(dir, `heap-${n++}`)
      const r = openRegion(p, { create: true, size, backend, durability })
      paths.set(r, p)
      open.push(r)
      return r
    },
    reopen(r) {
      const p = paths.get(r)!
      r.close()
      const again = openRegion(p, { backend, durability })
      paths.set(again, p)
      open.push(again)
      return again
    },
    dispose() {
      for (const r of open) if (!r.closed) r.close()
      removeDir(dir)
    },
  }
}

function simHarness(mode: CrashMode, seed: number): Harness {
  let s = seed
  return {
    create: (size) => new SimRegion(size),
    reopen: (r) => {
      const image = (r as SimRegion).crash({ mode, seed: s++ })
      r.close()
      return new SimRegion(image)
    },
    dispose() { /* nothing on disk */ },
  }
}

const cases: BackendCase[] = []
if (loadNative()) {
  cases.push({ name: 'MmapRegion (power)', make: () => fileHarness('mmap', 'power') })
  cases.push({ name: 'MmapRegion (process)', make: () => fileHarness('mmap', 'process') })
}
cases.push({ name: 'FileRegion (power)', make: () => fileHarness('file', 'power') })
cases.push({ name: 'FileRegion (process)', make: () => fileHarness('file', 'process') })
cases.push({ name: 'SimRegion (strict crash)', make: () => simHarness('strict', 1) })
for (const seed of [1, 2, 3]) cases.push({ name: `SimRegion (random crash, seed ${seed})`, make: () => simHarness('random', seed) })

describe('Region conformance', () => {
  it('the native addon is built (else only the FileRegion fallback is tested)', function () {
    if (process.env.MAKALU_NO_NATIVE === '1') this.skip()
    expect(loadNative(), 'build/Release/makalu_mmap.node should load').to.not.equal(null)
  })

  for (const c of cases) {
    describe(c.name, () => {
      let h: Harness
      beforeEach(() => { h = c.make() })
      afterEach(() => h.dispose())

      it('starts zero-filled with the asked size', () => {
        const r = h.create(16384)
        expect(r.size).to.equal(16384)
        expect(r.bytes.length).to.equal(16384)
        expect(r.bytes.every((b) => b === 0)).to.equal(true)
        expect(r.closed).to.equal(false)
        expect(r.canGrow).to.equal(true)
      })

      it('keeps flushed and drained data across a reopen', () => {
        let r = h.create(32768)
        const spots = [0, 7, 4095, 4096, 8191, 12345, 20000, 32767]
        spots.forEach((off, i) => { r.bytes[off] = 0x11 + i })
        r.bytes.fill(0xab, 9000, 9000 + 3000) // spans a page boundary
        for (const off of spots) r.flush(off, 1)
        r.flush(9000, 3000)
        r.drain()
        r = h.reopen(r)
        spots.forEach((off, i) => expect(r.bytes[off], `byte ${off}`).to.equal(0x11 + i))
        expect(r.bytes.subarray(9000, 12000).every((b) => b === 0xab)).to.equal(true)
      })

      it('keeps the latest drained value after several drain rounds', () => {
        let r = h.create(8192)
        const dv = () => new DataView(r.bytes.buffer, r.bytes.byteOffset, r.bytes.length)
        for (let round = 1; round <= 5; round++) {
          dv().setFloat64(64, round * 1.5, true)
          dv().setUint32(5000, round, true)
          r.flush(64, 8)
          r.flush(5000, 4)
          r.drain()
        }
        r = h.reopen(r)
        expect(dv().getFloat64(64, true)).to.equal(7.5)
        expect(dv().getUint32(5000, true)).to.equal(5)
      })

      it('drains many scattered flushes in one go', () => {
        let r = h.create(64 * 4096)
        const rand = mulberry32(7)
        const offs: number[] = []
        for (let i = 0; i < 200; i++) {
          const off = Math.floor(rand() * (r.size / 8)) * 8
          offs.push(off)
          new DataView(r.bytes.buffer, r.bytes.byteOffset).setUint32(off, i + 1, true)
          r.flush(off, 4)
        }
        r.drain()
        const expected = new Map<number, number>()
        offs.forEach((off, i) => expected.set(off, i + 1))
        r = h.reopen(r)
        const dv = new DataView(r.bytes.buffer, r.bytes.byteOffset)
        for (const [off, v] of expected) expect(dv.getUint32(off, true), `offset ${off}`).to.equal(v)
      })

      it('grows, keeping data; new bytes read zero and survive a reopen once drained', () => {
        let r = h.create(8192)
        r.bytes[100] = 42
        r.flush(100, 1)
        r.drain()
        r.grow(8192 * 4)
        expect(r.size).to.equal(32768)
        expect(r.bytes.length).to.equal(32768)
        expect(r.bytes[100]).to.equal(42)
        expect(r.bytes.subarray(8192).every((b) => b === 0)).to.equal(true)
        r.bytes[30000] = 9
        r.flush(30000, 1)
        r.drain()
        r.grow(8192) // not larger: no change
        expect(r.size).to.equal(32768)
        r = h.reopen(r)
        expect(r.size).to.equal(32768)
        expect(r.bytes[100]).to.equal(42)
        expect(r.bytes[30000]).to.equal(9)
      })

      it('keeps a flush recorded before a grow for the drain after it', () => {
        let r = h.create(8192)
        r.bytes[10] = 5
        r.flush(10, 1)
        r.grow(16384)
        r.drain()
        r = h.reopen(r)
        expect(r.bytes[10]).to.equal(5)
      })

      it('counts flushes, drains and flushed bytes; resetCounters zeroes them', () => {
        const r = h.create(8192)
        r.flush(0, 10)
        r.flush(100, 8)
        r.flush(200, 0) // empty: not counted
        r.drain()
        r.drain()
        expect(r.counters).to.deep.equal({ flushes: 2, drains: 2, flushedBytes: 18 })
        r.resetCounters()
        expect(r.counters).to.deep.equal({ flushes: 0, drains: 0, flushedBytes: 0 })
      })

      it('refuses a flush outside the region', () => {
        const r = h.create(8192)
        expect(() => r.flush(8190, 8)).to.throw(ArgumentError)
        expect(() => r.flush(-8, 8)).to.throw(ArgumentError)
      })

      it('throws on use after close; close twice is harmless', () => {
        const r = h.create(8192)
        r.close()
        expect(r.closed).to.equal(true)
        expect(() => r.bytes).to.throw(RegionError)
        expect(() => r.flush(0, 8)).to.throw(RegionError)
        expect(() => r.drain()).to.throw(RegionError)
        expect(() => r.grow(16384)).to.throw(RegionError)
        expect(() => r.close()).to.not.throw()
      })
    })
  }

  describe('SimRegion crash semantics', () => {
    it('strict: unflushed and flushed-but-undrained data is gone', () => {
      const r = new SimRegion(8192)
      r.bytes[0] = 1; r.flush(0, 1); r.drain()
      r.bytes[8] = 2 // never flushed
      r.bytes[16] = 3; r.flush(16, 1) // flushed, not drained
      const img = r.crash({ mode: 'strict' })
      expect([img[0], img[8], img[16]]).to.deep.equal([1, 0, 0])
    })

    it('random: the survivor set differs across seeds and is stable per seed', () => {
      const r = new SimRegion(8192)
      const words = new BigUint64Array(r.bytes.buffer)
      for (let i = 0; i < 1024; i++) words[i] = BigInt(i + 1)
      const survivors = (seed: number) => {
        const img = new BigUint64Array(r.crash({ mode: 'random', seed }).buffer)
        return Array.from(img, (w) => (w === 0n ? '0' : '1')).join('')
      }
      const sets = new Set([1, 2, 3, 4, 5].map(survivors))
      expect(sets.size).to.equal(5)
      expect(survivors(3)).to.equal(survivors(3))
      const ones = survivors(1).split('').filter((c) => c === '1').length
      expect(ones).to.be.within(400, 624) // about half of 1024
    })

    it('never tears an aligned 8-byte store (many words, random flushes, many seeds)', () => {
      const words = 2048
      const r = new SimRegion(words * 8)
      const w = new BigUint64Array(r.bytes.buffer)
      const rand = mulberry32(99)
      const big = () => (BigInt(Math.floor(rand() * 2 ** 32)) << 32n) | BigInt(Math.floor(rand() * 2 ** 32)) | 1n
      // old: a drained generation; new: a second generation, some flushed, none drained.
      const oldV = new BigUint64Array(words)
      for (let i = 0; i < words; i++) { oldV[i] = big(); w[i] = oldV[i] }
      r.flush(0, words * 8)
      r.drain()
      const newV = new BigUint64Array(words)
      for (let i = 0; i < words; i++) {
        if (rand() < 0.8) {
          newV[i] = big()
          w[i] = newV[i]
          if (rand() < 0.5) r.flush(i * 8, 8)
        } else {
          newV[i] = oldV[i]
        }
      }
      for (let seed = 1; seed <= 100; seed++) {
        const img = new BigUint64Array(r.crash({ mode: 'random', seed }).buffer)
        for (let i = 0; i < words; i++) {
          if (img[i] !== oldV[i] && img[i] !== newV[i]) {
            expect.fail(`seed ${seed}: word ${i} is ${img[i]}, neither old ${oldV[i]} nor new ${newV[i]}`)
          }
        }
      }
    })

    it('onDrain sees each drain before it takes effect', () => {
      const r = new SimRegion(4096)
      const seen: number[] = []
      r.onDrain = (i) => { seen.push(i, r.crash({ mode: 'strict' })[0]) }
      r.bytes[0] = 1; r.flush(0, 1); r.drain()
      r.bytes[0] = 2; r.flush(0, 1); r.drain()
      expect(seen).to.deep.equal([0, 0, 1, 1])
    })
  })

  describe('real-backend specifics', () => {
    let dir: string
    beforeEach(() => { dir = makeTempDir('conf-spec') })
    afterEach(() => removeDir(dir))

    it('FileRegion: a store never flushed is not written to the file', () => {
      const p = path.join(dir, 'h')
      const r = openRegion(p, { create: true, size: 8192, backend: 'file', durability: 'process' })
      r.bytes[1] = 1; r.flush(1, 1); r.drain()
      r.bytes[5000] = 2
      r.close()
      const data = fs.readFileSync(p)
      expect([data[1], data[5000]]).to.deep.equal([1, 0])
    })

    it('MmapRegion: every store is in the page cache, flushed or not', function () {
      if (!loadNative()) this.skip()
      const p = path.join(dir, 'h')
      const r = openRegion(p, { create: true, size: 8192, backend: 'mmap', durability: 'process' })
      r.bytes[5000] = 2
      expect(fs.readFileSync(p)[5000]).to.equal(2)
      r.close()
    })

    it('MmapRegion: grow detaches the old view (it reads empty, it never faults)', function () {
      if (!loadNative()) this.skip()
      const r = openRegion(path.join(dir, 'h'), { create: true, size: 8192, backend: 'mmap' })
      const old = r.bytes
      r.grow(16384)
      expect(old.length).to.equal(0)
      expect(old[0]).to.equal(undefined)
      r.close()
    })

    it('grow refuses a size that is not a multiple of 4096 or over the backend\'s maximum (mmap 256 GiB, file 4 GiB)', () => {
      for (const backend of loadNative() ? ['mmap', 'file'] as const : ['file'] as const) {
        const r = openRegion(path.join(dir, `g-${backend}`), { create: true, size: 8192, backend })
        expect(() => r.grow(10000)).to.throw(ArgumentError)
        expect(() => r.grow((backend === 'mmap' ? 2 ** 38 : 2 ** 32) + 4096)).to.throw(ArgumentError)
        expect(r.size).to.equal(8192)
        r.close()
        expect(fs.statSync(path.join(dir, `g-${backend}`)).size).to.equal(8192)
      }
    })
  })
})
