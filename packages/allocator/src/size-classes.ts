import { GRANULE, GRANULE_SHIFT } from './format'

/** Slots per class in the free-block cache (its capacity is at most this). */
export const CACHE_STRIDE = 256

/**
 * Size classes, derived from the chunk size alone (so they are never stored):
 * multiples of 16 up to 256, then four classes per doubling up to
 * chunkSize / 8, so that a run holds at least eight blocks. Larger requests
 * take whole chunks. With 64 KiB chunks: 36 classes, 16 B … 8 KiB.
 */
export class SizeClasses {
  /** Block size of each class. */
  readonly sizes: Uint32Array
  /** Blocks in one run chunk of each class. */
  readonly perChunk: Uint32Array
  /** 1 / size of each class: floor((offset + 0.5) · inverse) is offset / size for offsets in a chunk. */
  readonly inverse: Float64Array
  /** Largest small request. */
  readonly maxSmall: number
  /** The class of each request size in granules, rounded up: classOf without the call. */
  readonly byGranules: Uint8Array
  /**
   * Per class: how many free blocks the volatile cache of the class holds at most (chunk-space.ts):
   * up to 32 KiB of blocks, between 4 and CACHE_STRIDE.
   */
  readonly cacheCap: Uint32Array

  constructor(readonly chunkSize: number) {
    const sizes: number[] = []
    for (let s = GRANULE; s <= 256; s += GRANULE) sizes.push(s)
    for (let base = 256; base * 2 <= chunkSize / 8; base *= 2) {
      for (let q = 1; q <= 4; q++) sizes.push(base + (base / 4) * q)
    }
    while (sizes[sizes.length - 1] > chunkSize / 8) sizes.pop()
    this.sizes = Uint32Array.from(sizes)
    this.perChunk = Uint32Array.from(sizes, (s) => Math.floor(chunkSize / s))
    this.inverse = Float64Array.from(sizes, (s) => 1 / s)
    this.cacheCap = Uint32Array.from(sizes, (s) => Math.max(4, Math.min(CACHE_STRIDE, Math.floor(32768 / s))))
    this.maxSmall = sizes[sizes.length - 1]
    this.byGranules = new Uint8Array((this.maxSmall >> GRANULE_SHIFT) + 1)
    let c = 0
    for (let g = 0; g < this.byGranules.length; g++) {
      while (sizes[c] < g * GRANULE) c++
      this.byGranules[g] = c
    }
  }

  get count(): number { return this.sizes.length }

  /** The class of a small request (size ≤ maxSmall). */
  classOf(size: number): number {
    return this.byGranules[(size + GRANULE - 1) >> GRANULE_SHIFT]
  }
}
