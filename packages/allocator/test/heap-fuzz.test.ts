import { expect } from 'chai'
import { Heap, SimRegion, HeapFullError, mulberry32 } from '../src'

/** Randomized alloc/free against a shadow model: no overlap, sizes honoured, contents kept, check() clean. */
function fuzz(seed: number, regionSize: number, chunkSize: number, steps: number): void {
  const r = mulberry32(seed)
  let heap = Heap.createIn(new SimRegion(regionSize), { chunkSize, logSize: 8192, rootCapacity: 16 })
  const live = new Map<number, { size: number; tag: number }>()
  const verify = (): void => {
    const spans = [...live].map(([p, v]) => [p, p + heap.usableSize(p), v.tag, v.size] as const).sort((a, b) => a[0] - b[0])
    for (let i = 0; i < spans.length; i++) {
      const [p, end, tag, size] = spans[i]
      expect(end - p).to.be.at.least(size)
      if (i > 0) expect(p, 'blocks overlap').to.be.at.least(spans[i - 1][1])
      for (let k = 0; k < Math.min(size, 64); k++) if (heap.bytes[p + k] !== tag) throw new Error(`block ${p} lost its contents`)
    }
    expect(heap.stats().liveBlocks).to.equal(live.size)
    expect(heap.check().violations).to.deep.equal([])
  }
  for (let i = 0; i < steps; i++) {
    const x = r()
    if (x < 0.55 || live.size === 0) {
      const big = r() < 0.05
      const size = big ? chunkSize + Math.floor(r() * chunkSize * 3) : Math.floor(r() ** 3 * (chunkSize / 8)) + 1
      try {
        const p = heap.alloc(size)
        expect(live.has(p), 'handed out a live block').to.equal(false)
        const tag = 1 + (i % 255)
        live.set(p, { size, tag })
        heap.bytes.fill(tag, p, p + Math.min(size, 64))
        heap.flush(p, Math.min(size, 64))
      } catch (e) {
        expect(e).to.be.instanceOf(HeapFullError)
      }
    } else if (x < 0.99) {
      const keys = [...live.keys()]
      const p = keys[Math.floor(r() * keys.length)]
      heap.free(p)
      live.delete(p)
    } else {
      // Clean close and reopen: everything allocated stays allocated, contents kept.
      const region = heap.region as SimRegion
      heap.close()
      heap = Heap.openIn(new SimRegion(region.durableImage()))
      expect(heap.recovery.clean).to.equal(true)
      verify()
    }
    if (i % 97 === 0) verify()
  }
  verify()
}

describe('heap: randomized alloc/free against a shadow model', function () {
  this.timeout(120_000)
  const configs: Array<[number, number]> = [[256 * 1024, 4096], [1 << 20, 16384], [4 << 20, 65536]]
  for (const [size, chunk] of configs) {
    it(`${size >> 10} KiB heap, ${chunk >> 10} KiB chunks, 5 seeds`, () => {
      for (let seed = 1; seed <= 5; seed++) fuzz(seed * 31 + size, size, chunk, 4000)
    })
  }
})
