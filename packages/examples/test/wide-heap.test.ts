/**
 * PersistentMap and PersistentList in a pobj heap over 4 GiB: not supported yet (BlockIO reads one
 * view of the heap, record elements hold 32-bit pointers): a typed error before anything is made.
 */
import 'reflect-metadata'
import { expect } from 'chai'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { ArgumentError, loadNative } from '@makalu/allocator'
import { PHeap } from '@makalu/pobj'
import { PersistentMap, PersistentList } from '../src'

describe('examples in a pobj heap over 4 GiB', () => {
  it('PersistentMap.create and PersistentList.create refuse it with ArgumentError, allocating nothing', function () {
    if (!loadNative()) this.skip() // a heap over 4 GiB needs the mmap addon
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ex-wide-'))
    try {
      const heap = PHeap.create(path.join(dir, 'h.heap'), { size: 2 ** 30, maxSize: 8 * 2 ** 30, durability: 'process', gc: false })
      const blocks = heap.raw.stats().liveBlocks
      expect(() => PersistentMap.create(heap)).to.throw(ArgumentError, /examples: PersistentMap and PersistentList are not supported in heaps over 4 GiB/)
      expect(() => PersistentList.create(heap)).to.throw(ArgumentError, /not supported in heaps over 4 GiB/)
      expect(heap.raw.stats().liveBlocks).to.equal(blocks)
      heap.close()
    } finally { fs.rmSync(dir, { recursive: true, force: true }) }
  })
})
