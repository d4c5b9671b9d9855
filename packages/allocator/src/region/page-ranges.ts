import { ArgumentError, RegionError } from '../errors'

/** Granularity of recorded write-back ranges: one 4 KiB page. */
export const PAGE_SIZE = 4096

/**
 * The units (pages for mmap, 8-byte words for the file backend) flushed since the
 * last drain, as [firstUnit, endUnit) pairs. `take()` returns them sorted and
 * coalesced (overlapping or adjacent pairs merged), so a drain issues one msync /
 * pwrite per contiguous run.
 */
export class PageRanges {
  private pairs: number[] = []

  /** `unit`: the granularity in bytes (a power of two). */
  constructor(readonly unit: number = PAGE_SIZE) {}

  /** Records the units covering [offset, offset + length); length > 0. */
  add(offset: number, length: number): void {
    const first = Math.floor(offset / this.unit)
    const end = Math.floor((offset + length - 1) / this.unit) + 1
    const p = this.pairs
    const n = p.length
    // Repeated flushes of the same or the next page are the common case: extend in place.
    if (n > 0 && first <= p[n - 1] && end >= p[n - 2]) {
      if (first < p[n - 2]) p[n - 2] = first
      if (end > p[n - 1]) p[n - 1] = end
      return
    }
    p.push(first, end)
  }

  get isEmpty(): boolean { return this.pairs.length === 0 }
  /** Runs recorded (before merging: an upper bound of the runs a drain writes). */
  get runs(): number { return this.pairs.length >> 1 }

  /** The recorded units as sorted, disjoint, non-adjacent [firstUnit, endUnit) pairs; clears the set. */
  take(): number[] {
    const p = this.pairs
    this.pairs = []
    if (p.length <= 2) return p
    const order: number[] = []
    for (let i = 0; i < p.length; i += 2) order.push(i)
    order.sort((a, b) => p[a] - p[b])
    const out: number[] = []
    for (const i of order) {
      const n = out.length
      if (n > 0 && p[i] <= out[n - 1]) {
        if (p[i + 1] > out[n - 1]) out[n - 1] = p[i + 1]
      } else {
        out.push(p[i], p[i + 1])
      }
    }
    return out
  }

  clear(): void { this.pairs = [] }

  /**
   * Writes every recorded run back with `write(offset, length)` (clipped to `size`), in
   * address order, then calls `finish` (an fdatasync), and clears the set. If anything
   * fails, nothing is known durable: every run is kept for the next drain, and the failure
   * is a RegionError naming `path`.
   */
  writeBack(size: number, path: string, write: (offset: number, length: number) => void, finish?: () => void): void {
    if (this.pairs.length === 0) return
    const runs = this.take()
    try {
      for (let i = 0; i < runs.length; i += 2) {
        const start = runs[i] * this.unit
        write(start, Math.min(runs[i + 1] * this.unit, size) - start)
      }
      finish?.()
    } catch (e) {
      for (let i = 0; i < runs.length; i += 2) this.add(runs[i] * this.unit, (runs[i + 1] - runs[i]) * this.unit)
      throw new RegionError(`region: drain of ${path} failed: ${(e as Error).message}`)
    }
  }
}

/** Byte offset of a page index. */
export function pageOffset(page: number): number { return page * PAGE_SIZE }

/** Throws unless [offset, offset + length) lies inside a region of `size` bytes. */
export function checkRange(offset: number, length: number, size: number): void {
  if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || offset + length > size) {
    throw new ArgumentError(`region: flush [${offset}, ${offset + length}) outside a region of ${size} bytes`)
  }
}

/** Why `size` is not a valid real-region size (a multiple of 4096 in [min, max]), or null when it is. */
export function realSizeProblem(size: number, min: number, max: number): string | null {
  if (typeof size !== 'number' || !Number.isInteger(size)) return `size must be an integer, got ${String(size)}`
  if (size < min) return `size ${size} is below the minimum of ${min} bytes`
  if (size > max) return `size ${size} is over the maximum of ${max} bytes (${max / 2 ** 30} GiB)`
  if (size % PAGE_SIZE !== 0) return `size ${size} is not a multiple of ${PAGE_SIZE}`
  return null
}
