import { expect } from 'chai'
import * as path from 'path'
import { ArgumentError, Heap, RegionError, SimRegion } from '../src'
import { makeTempDir, removeDir, snapshotDir } from './fixtures/region-util'

/**
 * Option validation (issue 15.6): every size option is checked before a file exists; a
 * refused create throws ArgumentError or RegionError and leaves the directory as it was.
 */
const MiB = 1 << 20
const bad: Array<[string, Record<string, unknown>]> = [
  ['size NaN', { size: NaN }],
  ['size Infinity', { size: Infinity }],
  ['size negative', { size: -MiB }],
  ['size zero', { size: 0 }],
  ['size not an integer', { size: MiB + 0.5 }],
  ['size not a page multiple', { size: MiB + 8 }],
  ['size a string', { size: '1048576' }],
  ['size over 256 GiB', { size: 2 ** 38 + 4096 }],
  ['maxSize NaN', { size: MiB, maxSize: NaN }],
  ['maxSize Infinity', { size: MiB, maxSize: Infinity }],
  ['maxSize negative', { size: MiB, maxSize: -1 }],
  ['maxSize not an integer', { size: MiB, maxSize: 2 * MiB + 0.5 }],
  ['maxSize below size', { size: 2 * MiB, maxSize: MiB }],
  ['maxSize over 256 GiB', { size: MiB, maxSize: 2 ** 38 + 4096 }],
  ['maxSize a string', { size: MiB, maxSize: '4194304' }],
  ['logSize NaN', { size: MiB, logSize: NaN }],
  ['logSize Infinity', { size: MiB, logSize: Infinity }],
  ['logSize negative', { size: MiB, logSize: -8192 }],
  ['logSize not an integer', { size: MiB, logSize: 8192.5 }],
  ['logSize a string', { size: MiB, logSize: '8192' }],
  ['rootCapacity NaN', { size: MiB, rootCapacity: NaN }],
  ['rootCapacity zero', { size: MiB, rootCapacity: 0 }],
  ['rootCapacity not an integer', { size: MiB, rootCapacity: 1.5 }],
  ['rootCapacity Infinity', { size: MiB, rootCapacity: Infinity }],
  ['chunkSize NaN', { size: MiB, chunkSize: NaN }],
  ['chunkSize not a power of two', { size: MiB, chunkSize: 12288 }],
  ['chunkSize Infinity', { size: MiB, chunkSize: Infinity }],
  ['chunkSize negative', { size: MiB, chunkSize: -4096 }],
  ['a size too small for the metadata', { size: 8192 }],
  ['durability unknown', { size: MiB, durability: 'disk' }],
  ['backend unknown', { size: MiB, backend: 'tape' }],
]

describe('Heap.create option validation', () => {
  let dir: string
  beforeEach(() => { dir = makeTempDir('options') })
  afterEach(() => removeDir(dir))

  for (const [what, opts] of bad) {
    it(`refuses ${what} with a typed error, and leaves no file`, () => {
      const before = snapshotDir(dir)
      let err: unknown
      try {
        Heap.create(path.join(dir, 'h'), opts as never).close()
      } catch (e) { err = e }
      expect(err, 'create should throw').to.be.instanceOf(Error)
      expect(err instanceof ArgumentError || err instanceof RegionError, String(err)).to.equal(true)
      expect((err as Error).message).to.match(/^(heap|region): /)
      expect(snapshotDir(dir)).to.deep.equal(before)
    })
  }

  it('refuses the same options on createIn, before writing to the region', () => {
    for (const [what, opts] of bad) {
      if (what.startsWith('size') || what === 'maxSize below size' || what.startsWith('durability') || what.startsWith('backend') || what.startsWith('a size')) continue
      const r = new SimRegion(MiB)
      expect(() => Heap.createIn(r, opts as never), what).to.throw(ArgumentError)
      expect(r.counters.flushes, what).to.equal(0)
    }
  })

  it('accepts the smallest good options, and a maxSize that is not a page multiple', () => {
    const h = Heap.create(path.join(dir, 'ok'), { size: MiB, maxSize: 4 * MiB + 100, logSize: 100, rootCapacity: 1, chunkSize: 4096 })
    expect(h.layout.logSize).to.equal(4096)
    expect(h.layout.maxChunks).to.be.greaterThan(0)
    h.close()
  })
})
