import * as fs from 'fs'
import { RegionError } from '../errors'
import { Durability, Region } from './region'
import { PageRanges } from './page-ranges'
import { FileBackedRegion, RegionFile } from './file-backed'

/**
 * FileRegion: the pure-JS fallback. The whole file is read into memory; flush
 * records 8-byte words; drain pwrites exactly those (sorted, coalesced) and, in
 * 'power' mode, fdatasyncs. Until a drain, stores live only in this process, and
 * a store that was never flushed never reaches the file: writeBack 'at-drain',
 * which lets the heap order its writes with fewer drains (heap.ts).
 */
export class FileRegion extends FileBackedRegion implements Region {
  readonly kind = 'file' as const
  readonly writeBack = 'at-drain' as const
  protected view: Uint8Array
  protected readonly pending = new PageRanges(8)
  private isClosed = false

  /** Use openRegion(); this takes over an open, locked, sized file and reads it whole. */
  constructor(file: RegionFile, durability: Durability) {
    super(file, durability)
    this.view = new Uint8Array(file.size)
    let done = 0
    while (done < file.size) {
      const n = fs.readSync(file.fd, this.view, done, file.size - done, done)
      if (n === 0) throw new RegionError(`region: ${file.path} is shorter than ${file.size} bytes (truncated while opening?)`)
      done += n
    }
  }

  get closed(): boolean { return this.isClosed }

  drain(): void {
    this.checkOpen()
    this.counters.drains++
    if (this.pending.isEmpty) return
    this.pending.writeBack(this.view.length, this.path, (offset, length) => this.writeAt(offset, length),
      this.durability === 'power' ? () => fs.fdatasyncSync(this.fd) : undefined)
  }

  /** Extends the file (new bytes read as zero) and the in-memory copy. */
  grow(newSize: number): void {
    if (!this.extendFile(newSize)) return
    const view = new Uint8Array(newSize)
    view.set(this.view)
    this.view = view
  }

  close(): void {
    if (this.isClosed) return
    this.isClosed = true
    this.releaseFile()
  }

  private writeAt(offset: number, length: number): void {
    let done = 0
    while (done < length) {
      done += fs.writeSync(this.fd, this.view, offset + done, length - done, offset + done)
    }
  }
}
