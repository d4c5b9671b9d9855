import * as fs from 'fs'
import { ArgumentError, RegionError } from '../errors'
import { Durability, Region, RegionCounters, newCounters, MAX_REGION_SIZE, MIN_REGION_SIZE } from './region'
import { HeldLock } from './lock'
import { RegionFile } from './mmap-region'
import { PageRanges, checkRange, realSizeProblem } from './page-ranges'

/**
 * FileRegion: the pure-JS fallback. The whole file is read into memory; flush
 * records 8-byte words; drain pwrites exactly those (sorted, coalesced) and, in
 * 'power' mode, fdatasyncs. Until a drain, stores live only in this process, and
 * a store that was never flushed never reaches the file: writeBack 'at-drain',
 * which lets the heap order its writes with fewer drains (heap.ts).
 */
export class FileRegion implements Region {
  readonly kind = 'file' as const
  readonly canGrow = true
  readonly writeBack = 'at-drain' as const
  readonly counters: RegionCounters = newCounters()
  readonly path: string

  private fd: number
  private lock: HeldLock
  private view: Uint8Array
  private isClosed = false
  private pending = new PageRanges(8)

  /** Use openRegion(); this takes over an open, locked, sized file and reads it whole. */
  constructor(file: RegionFile, readonly durability: Durability) {
    this.path = file.path
    this.fd = file.fd
    this.lock = file.lock
    this.view = new Uint8Array(file.size)
    let done = 0
    while (done < file.size) {
      const n = fs.readSync(file.fd, this.view, done, file.size - done, done)
      if (n === 0) throw new RegionError(`region: ${file.path} is shorter than ${file.size} bytes (truncated while opening?)`)
      done += n
    }
  }

  get size(): number { return this.view.length }
  get bytes(): Uint8Array { this.checkOpen(); return this.view }
  get closed(): boolean { return this.isClosed }

  flush(offset: number, length: number): void {
    this.checkOpen()
    if (length <= 0) return
    checkRange(offset, length, this.view.length)
    this.counters.flushes++
    this.counters.flushedBytes += length
    this.pending.add(offset, length)
  }

  drain(): void {
    this.checkOpen()
    this.counters.drains++
    if (this.pending.isEmpty) return
    this.pending.writeBack(this.view.length, this.path, (offset, length) => this.writeAt(offset, length),
      this.durability === 'power' ? () => fs.fdatasyncSync(this.fd) : undefined)
  }

  /** Extends the file (new bytes read as zero) and the in-memory copy. */
  grow(newSize: number): void {
    this.checkOpen()
    if (newSize <= this.size) return
    const problem = realSizeProblem(newSize, MIN_REGION_SIZE, MAX_REGION_SIZE)
    if (problem) throw new ArgumentError(`region: cannot grow ${this.path}: ${problem}`)
    const view = new Uint8Array(newSize)
    view.set(this.view)
    try {
      fs.ftruncateSync(this.fd, newSize)
    } catch (e) {
      throw new RegionError(`region: cannot grow ${this.path} to ${newSize} bytes: ${(e as Error).message}`)
    }
    this.view = view
  }

  resetCounters(): void {
    this.counters.flushes = 0
    this.counters.drains = 0
    this.counters.flushedBytes = 0
  }

  close(): void {
    if (this.isClosed) return
    this.isClosed = true
    this.pending.clear()
    try { this.lock.release() } finally { fs.closeSync(this.fd) }
  }

  private writeAt(offset: number, length: number): void {
    let done = 0
    while (done < length) {
      done += fs.writeSync(this.fd, this.view, offset + done, length - done, offset + done)
    }
  }

  private checkOpen(): void {
    if (this.isClosed) throw new RegionError(`region: ${this.path} is closed`)
  }
}
