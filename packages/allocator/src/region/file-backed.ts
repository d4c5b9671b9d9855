import * as fs from 'fs'
import { ArgumentError, RegionError } from '../errors'
import { Durability, RegionCounters, newCounters, MIN_REGION_SIZE } from './region'
import { HeldLock } from './lock'
import { PageRanges, checkRange, realSizeProblem } from './page-ranges'
import { NativeMmap } from './native'
import { reserveSpace } from './space'

/** An open, locked, correctly sized heap file, as openRegion hands it to a backend. */
export interface RegionFile {
  path: string
  fd: number
  size: number
  lock: HeldLock
  /** The addon when loaded (either backend uses its fallocate), else null. */
  native: NativeMmap | null
  /** The fd belongs to another region of this process (a heap attached in a worker: heap.share()); close leaves it open. */
  borrowedFd?: boolean
}

/**
 * What the two file backends share: the file, its lock, the persist counters, the
 * flushed ranges waiting for a drain, and growing the file. Each backend says how
 * its bytes are held (`view`) and how a drain writes them back.
 */
export abstract class FileBackedRegion {
  readonly canGrow = true
  readonly counters: RegionCounters = newCounters()
  readonly path: string
  /** The open heap file (a worker thread of this process maps it itself: parallel recovery). */
  readonly fd: number
  protected readonly lock: HeldLock
  private readonly space: NativeMmap | null
  private readonly borrowedFd: boolean
  /** The region's first segment (all of it up to 4 GiB). */
  protected abstract view: Uint8Array
  protected abstract segs: readonly Uint8Array[]
  protected abstract readonly pending: PageRanges
  /** The largest size this backend holds. */
  protected abstract readonly maxSize: number

  constructor(file: RegionFile, readonly durability: Durability) {
    this.path = file.path
    this.fd = file.fd
    this.lock = file.lock
    this.space = file.native
    this.borrowedFd = file.borrowedFd === true
  }

  abstract get closed(): boolean
  abstract get size(): number
  get bytes(): Uint8Array { this.checkOpen(); return this.view }
  get segments(): readonly Uint8Array[] { this.checkOpen(); return this.segs }

  /** Whether flushed ranges must be written back at drain (mmap in 'process' durability needs nothing). */
  protected get recordsFlushes(): boolean { return true }

  flush(offset: number, length: number): void {
    this.checkOpen()
    if (length <= 0) return
    checkRange(offset, length, this.size)
    this.counters.flushes++
    this.counters.flushedBytes += length
    if (this.recordsFlushes) this.pending.add(offset, length)
  }

  resetCounters(): void {
    this.counters.flushes = 0
    this.counters.drains = 0
    this.counters.flushedBytes = 0
  }

  /**
   * Checks `newSize` and extends the file to it (new bytes read as zero), with disk space
   * behind every new byte; false if it is no larger. A full file system throws
   * RegionFullError and leaves the file at its old size.
   */
  protected extendFile(newSize: number): boolean {
    this.checkOpen()
    const oldSize = this.size
    if (newSize <= oldSize) return false
    const problem = realSizeProblem(newSize, MIN_REGION_SIZE, this.maxSize)
    if (problem) throw new ArgumentError(`region: cannot grow ${this.path}: ${problem}`)
    try {
      reserveSpace(this.path, this.fd, oldSize, newSize, this.space, 'grow')
      fs.ftruncateSync(this.fd, newSize)
    } catch (e) {
      try { fs.ftruncateSync(this.fd, oldSize) } catch { /* the region keeps its old size either way */ }
      if (e instanceof RegionError) throw e
      throw new RegionError(`region: cannot grow ${this.path} to ${newSize} bytes: ${(e as Error).message}`)
    }
    return true
  }

  /** Forgets pending ranges, releases the lock and closes the file. */
  protected releaseFile(): void {
    this.pending.clear()
    try { this.lock.release() } finally { if (!this.borrowedFd) fs.closeSync(this.fd) }
  }

  protected checkOpen(): void {
    if (this.closed) throw new RegionError(`region: ${this.path} is closed`)
  }
}
