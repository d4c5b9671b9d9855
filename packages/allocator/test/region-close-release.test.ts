import { expect } from 'chai'
import * as path from 'path'
import { Heap, RegionError, loadNative } from '../src'
import { makeTempDir, removeDir, runFixture } from './fixtures/region-util'

/**
 * Closed heaps release their memory at once (issue 15.8): close() unmaps (mmap) or drops
 * (file backend) the bytes, and every view over them reads as empty from then on, even
 * while the caller still holds the closed Heap and its old views.
 */
const backends = loadNative() ? ['mmap', 'file'] as const : ['file'] as const

describe('closing releases the memory of a heap', () => {
  let dir: string
  beforeEach(() => { dir = makeTempDir('release') })
  afterEach(() => removeDir(dir))

  for (const backend of backends) {
    it(`${backend}: after close, heap.bytes and every view taken before are empty, and the region refuses access`, () => {
      const h = Heap.create(path.join(dir, 'h'), { size: 1 << 20, backend })
      const bytes = h.bytes
      const words = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length >>> 2)
      bytes[h.dataOffset] = 7
      h.close()
      expect(bytes.length).to.equal(0)
      expect(words.length).to.equal(0)
      expect(bytes[h.dataOffset]).to.equal(undefined)
      expect(h.bytes.length).to.equal(0)
      expect(() => h.region.bytes).to.throw(RegionError, 'closed')
      const again = Heap.open(path.join(dir, 'h'), { backend }) // the file itself is fine
      expect(again.recovery.clean).to.equal(true)
      again.close()
    })

    it(`${backend}: 100 create/open/close cycles of a 16 MiB heap in one synchronous job, closed heaps kept, hold bounded memory`, function () {
      this.timeout(120_000)
      const res = runFixture('close-release-worker', [dir, backend, '100'])
      expect(res.status, res.stderr).to.equal(0)
      const out = JSON.parse(res.stdout)
      if (backend === 'mmap') expect(out.mappedWhileOpen).to.equal(1)
      expect(out.mappedAtEnd).to.equal(0)
      expect(out.closedBytes).to.equal(0)
      expect(out.closedViews).to.equal(0)
      expect(out.kept).to.equal(200)
      // 200 heaps of 16 MiB held would be 3.2 GiB; released, RSS stays within a few heaps' worth.
      expect(out.rssEnd - out.rssStart, JSON.stringify(out)).to.be.below(400)
    })
  }
})
