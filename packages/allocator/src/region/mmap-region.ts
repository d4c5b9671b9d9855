import * as fs from 'fs'
import { RegionError } from '../errors'
import { Durability, Region, MAX_REGION_SIZE, segmentViews } from './region'
import { NativeMmap } from './native'
import { PageRanges } from './page-ranges'
import { FileBackedRegion, RegionFile } from './file-backed'

export { RegionFile } from './file-backed'

/**
 * MmapRegion: the file mapped MAP_SHARED through the native addon; `bytes` is a view of
 * the mapping itself, so every store lands in the OS page cache at once.
 *
 *   'power'    flush records pages; drain msyncs them (sorted, coalesced)
 *   'process'  flush and drain only count: the page cache survives a killed process
 *
 * The buffer covers `mappedSize` bytes of address space, the heap's maxSize, mapped once:
 * growth within it extends the file and maps the new part of the file in place (same
 * address, same ArrayBuffer), and `bytes` becomes a longer view of that buffer.
 *
 *   ArrayBuffer  [0 ...................................... mappedSize)   one reservation
 *   file part    [0 ........ size)                                      MAP_SHARED, grows, never shrinks
 *   the rest                [size ...................... mappedSize)   read-only zeros (not the
 *                                                                       file: no SIGBUS past EOF)
 *   bytes        [0 ........ size)   a view bounded to the file: an index past the end reads
 *                                    undefined
 *   segments     [0, 4 GiB) [4 GiB, 8 GiB) ... [.., size)   the same, in views of at most
 *                                    2^32 bytes (a typed array's limit): over 4 GiB `bytes`
 *                                    is the first one
 *
 * Growth past `mappedSize` maps the new size anew and unmaps the old mapping (its views
 * then read as empty). The file never shrinks under the mapping: a failed grow restores the
 * old size, which is all the file part covers.
 */
export class MmapRegion extends FileBackedRegion implements Region {
  readonly kind = 'mmap' as const
  readonly writeBack = 'any-time' as const
  private buffer: ArrayBuffer | null
  protected view: Uint8Array
  protected segs: readonly Uint8Array[]
  private regionSize: number
  protected readonly pending = new PageRanges()
  protected readonly maxSize = MAX_REGION_SIZE

  /**
   * Use openRegion(); this takes over an open, locked, sized file (and closes it if mapping
   * fails). `reserve`: bytes of address space to map, at least the file's size.
   */
  constructor(file: RegionFile, durability: Durability, private readonly native: NativeMmap, reserve = file.size) {
    super(file, durability)
    this.buffer = native.map(file.fd, file.size, native.extend ? Math.max(file.size, reserve) : file.size)
    this.segs = segmentViews(this.buffer, file.size)
    this.view = this.segs[0]
    this.regionSize = file.size
  }

  get closed(): boolean { return this.buffer === null }
  get size(): number { return this.regionSize }
  /** Bytes mapped: the region grows to this size without a new mapping. */
  get mappedSize(): number { return this.buffer?.byteLength ?? 0 }
  protected override get recordsFlushes(): boolean { return this.durability === 'power' }

  /**
   * 'power': the flushed pages reach the disk. One run of pages: an msync of it. Several: ONE
   * fdatasync of the file instead of an msync each (each is a disk flush of its own). On Linux
   * both write back the page cache, where the mapping's stores are (a store marks its page
   * dirty at its first write fault), and fdatasync may also write pages not flushed: the crash
   * model allows any store to reach media at any time.
   */
  drain(): void {
    this.checkOpen()
    this.counters.drains++
    const buffer = this.buffer!
    if (this.pending.runs > 1) this.pending.writeBack(this.regionSize, this.path, () => {}, () => fs.fdatasyncSync(this.fd))
    else this.pending.writeBack(this.regionSize, this.path, (offset, length) => this.native.sync(buffer, offset, length))
  }

  /**
   * Maps `maxSize` bytes (if more than now), so that growing up to it keeps this mapping.
   * Only address space: the file keeps its size. Views taken before read as empty afterwards.
   * A hint: false if the address space could not be mapped (growth then maps anew).
   */
  reserve(maxSize: number): boolean {
    this.checkOpen()
    if (maxSize <= this.mappedSize) return true
    if (!this.native.extend) return false
    try {
      this.remap(maxSize, this.regionSize)
      return true
    } catch (e) {
      if (e instanceof RegionError) return false
      throw e
    }
  }

  /**
   * Extends the file (disk space reserved; new bytes read as zero). Within `mappedSize` the
   * buffer stays and `bytes` becomes a longer view of it (views taken before stay valid over
   * the old size); past it the file is mapped anew and old views go empty.
   */
  grow(newSize: number): void {
    if (!this.extendFile(newSize)) return
    if (newSize > this.mappedSize) return this.remap(newSize, newSize)
    try {
      this.native.extend!(this.buffer!, this.fd, newSize)
    } catch (e) {
      throw new RegionError(`region: cannot map ${this.path} grown to ${newSize} bytes: ${(e as Error).message}`)
    }
    this.setViews(this.buffer!, newSize)
  }

  private setViews(buffer: ArrayBuffer, size: number): void {
    this.segs = segmentViews(buffer, size)
    this.view = this.segs[0]
    this.regionSize = size
  }

  close(): void {
    if (this.buffer === null) return
    const buffer = this.buffer
    this.buffer = null
    this.regionSize = 0
    try {
      this.native.unmap(buffer)
    } finally {
      this.releaseFile()
    }
  }

  /** Maps `size` bytes of the file anew in `reserve` of address space. The new mapping first, so a failure leaves the region usable. */
  private remap(reserve: number, size: number): void {
    let buffer: ArrayBuffer
    try {
      buffer = this.native.map(this.fd, size, reserve)
    } catch (e) {
      throw new RegionError(`region: cannot map ${reserve} bytes of ${this.path}: ${(e as Error).message}`)
    }
    const old = this.buffer!
    this.buffer = buffer
    this.setViews(buffer, size)
    this.native.unmap(old)
  }
}
