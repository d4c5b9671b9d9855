import { RegionError } from '../errors'
import { Durability, Region } from './region'
import { NativeMmap } from './native'
import { PageRanges } from './page-ranges'
import { FileBackedRegion, RegionFile } from './file-backed'

export { RegionFile } from './file-backed'

/**
 * MmapRegion: the file mapped MAP_SHARED through the native addon; `bytes` is
 * the mapping itself, so every store lands in the OS page cache at once.
 *
 *   'power'    flush records pages; drain msyncs them (sorted, coalesced)
 *   'process'  flush and drain only count: the page cache survives a killed process
 */
export class MmapRegion extends FileBackedRegion implements Region {
  readonly kind = 'mmap' as const
  readonly writeBack = 'any-time' as const
  private buffer: ArrayBuffer | null
  protected view: Uint8Array
  protected readonly pending = new PageRanges()

  /** Use openRegion(); this takes over an open, locked, sized file (and closes it if mapping fails). */
  constructor(file: RegionFile, durability: Durability, private readonly native: NativeMmap) {
    super(file, durability)
    this.buffer = native.map(file.fd, file.size)
    this.view = new Uint8Array(this.buffer)
  }

  get closed(): boolean { return this.buffer === null }
  protected override get recordsFlushes(): boolean { return this.durability === 'power' }

  drain(): void {
    this.checkOpen()
    this.counters.drains++
    const buffer = this.buffer!
    this.pending.writeBack(this.view.length, this.path, (offset, length) => this.native.sync(buffer, offset, length))
  }

  /** Extends the file (disk space reserved; new bytes read as zero), then maps it anew. Old views go empty. */
  grow(newSize: number): void {
    if (!this.extendFile(newSize)) return
    // Map the new size before unmapping the old one, so a failure leaves the region usable.
    let buffer: ArrayBuffer
    try {
      buffer = this.native.map(this.fd, newSize)
    } catch (e) {
      throw new RegionError(`region: cannot map ${this.path} grown to ${newSize} bytes: ${(e as Error).message}`)
    }
    const old = this.buffer!
    this.buffer = buffer
    this.view = new Uint8Array(buffer)
    this.native.unmap(old)
  }

  close(): void {
    if (this.buffer === null) return
    const buffer = this.buffer
    this.buffer = null
    try {
      this.native.unmap(buffer)
    } finally {
      this.releaseFile()
    }
  }
}
