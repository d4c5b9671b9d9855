/**
 * Heaps over 4 GiB: the allocator holds them (on mmap, in 4 GiB segments), pobj does not yet (its
 * objects are read through one view of the heap, and a record element stores a 32-bit pointer).
 * pobj refuses them with a typed error, before anything is created or written.
 */
import 'reflect-metadata'
import { expect } from 'chai'
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { ArgumentError, Heap, HeapFormatError, SimRegion, loadNative } from '@makalu/allocator'
import { PHeap } from '../src'
import { Tree } from './models'

const GiB = 2 ** 30

describe('pobj and heaps over 4 GiB', () => {
  let dir: string
  beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pobj-wide-')) })
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }))

  it('PHeap.create and createIn refuse maxSize over 4 GiB with ArgumentError, creating nothing', () => {
    const file = path.join(dir, 'h.heap')
    expect(() => PHeap.create(file, { size: 64 << 20, maxSize: 8 * GiB, types: [Tree] })).to.throw(ArgumentError, /pobj: maxSize 8589934592 is over 4 GiB/)
    expect(fs.existsSync(file)).to.equal(false)
    const region = new SimRegion(1 << 20)
    expect(() => PHeap.createIn(region, { maxSize: 8 * GiB, types: [Tree] })).to.throw(ArgumentError, /over 4 GiB/)
    expect(region.counters.drains).to.equal(0)
    // At 4 GiB exactly, a heap of one segment: accepted.
    PHeap.create(file, { size: 64 << 20, maxSize: 4 * GiB, types: [Tree] }).close()
  })

  it('PHeap.open refuses a wide heap formatted for pobj by the allocator (HeapFormatError), writing nothing', function () {
    if (!loadNative()) this.skip() // a heap over 4 GiB needs the mmap backend
    const file = path.join(dir, 'wide.heap')
    Heap.create(file, { size: GiB, maxSize: 8 * GiB, owner: PHeap.OWNER, durability: 'process', tracer: { segmented: true, trace() {} } }).close()
    const page0 = (): Buffer => { const b = Buffer.alloc(4096); const fd = fs.openSync(file, 'r'); try { fs.readSync(fd, b, 0, 4096, 0) } finally { fs.closeSync(fd) } return b }
    const before = page0()
    expect(() => PHeap.open(file, { types: [Tree] })).to.throw(HeapFormatError, /over 4 GiB .*pobj reads heaps of at most 4 GiB/)
    expect(page0().equals(before)).to.equal(true)
  })
})
