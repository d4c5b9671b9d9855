import * as fs from 'fs'
import { ArgumentError, RegionError } from '../errors'
import { Durability, Region, RegionCounters, newCounters, MAX_REGION_SIZE, MIN_REGION_SIZE } from './region'
import { HeldLock } from './lock'
import { NativeMmap } from './native'
import { PageRanges, checkRange, realSizeProblem } from './page-ranges'

/** An open, locked, correctly sized heap file, as openRegion hands it to a backend. */
export interface RegionFile {
  path: string
  fd: number
  size: number
  lock: HeldLock
}

/**
 * MmapRegion: the file mapped MAP_SHARED through the native addon; `bytes` is
 * the mapping itself, so every store lands in the OS page cache at once.
 *
 *   'power'    flush records pages; drain msyncs them (sorted, coalesced)
 *   'process'  flush and drain only count: the page cache survives a killed process
 */
export class MmapRegion implements Region {
  readonly kind = 'mmap' as const
  readonly canGrow = true
  readonly writeBack = 'any-time' as const
  readonly counters: RegionCounters = newCounters()
  readonly path: string

  private fd: number
  private lock: HeldLock
  private buffer: ArrayBuffer | null
  private view: Uint8Array
  private pending = new PageRanges()

  /** Use openRegion(); this takes over an open, locked, sized file (and closes it if mapping fails). */
  constructor(file: RegionFile, readonly durability: Durability, private readonly native: NativeMmap) {
    this.path = file.path
    this.fd = file.fd
    this.lock = file.lock
    this.buffer = native.map(file.fd, file.size)
    this.view = new Uint8Array(this.buffer)
  }

  get size(): number { return this.view.length }
  get bytes(): Uint8Array { this.checkOpen(); return this.view }
  get closed(): boolean { return this.buffer === null }

  flush(offset: number, length: number): void {
    this.checkOpen()
    if (length <= 0) return
    checkRange(offset, length, this.view.length)
    this.counters.flushes++
    this.counters.flushedBytes += length
    if (this.durability === 'power') this.pending.add(offset, length)
  }

  drain(): void {
    this.checkOpen()
    this.counters.drains++
    const buffer = this.buffer!
    this.pending.writeBack(this.view.length, this.path, (offset, length) => this.native.sync(buffer, offset, length))
  }

  /** Extends the file (ftruncate; new bytes read as zero), then maps it anew. Old views go empty. */
  grow(newSize: number): void {
    this.checkOpen()
    if (newSize <= this.size) return
    const problem = realSizeProblem(newSize, MIN_REGION_SIZE, MAX_REGION_SIZE)
    if (problem) throw new ArgumentError(`region: cannot grow ${this.path}: ${problem}`)
    try {
      fs.ftruncateSync(this.fd, newSize)
    } catch (e) {
      throw new RegionError(`region: cannot grow ${this.path} to ${newSize} bytes: ${(e as Error).message}`)
    }
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

  resetCounters(): void {
    this.counters.flushes = 0
    this.counters.drains = 0
    this.counters.flushedBytes = 0
  }

  close(): void {
    if (this.buffer === null) return
    const buffer = this.buffer
    this.buffer = null
    this.pending.clear()
    try {
      this.native.unmap(buffer)
    } finally {
      try { this.lock.release() } finally { fs.closeSync(this.fd) }
    }
  }

  private checkOpen(): void {
    if (this.buffer === null) throw new RegionError(`region: ${this.path} is closed`)
  }
}
