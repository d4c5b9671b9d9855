import * as fs from 'fs'
import { RegionError } from '../errors'
import { Durability, Region, MAX_MEMORY_REGION_SIZE, oneSegment } from './region'
import { PageRanges } from './page-ranges'
import { FileBackedRegion, RegionFile } from './file-backed'

/** Bytes per read or write call: Node refuses lengths of 2 GiB and more. */
const IO_MAX = 1 << 30

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
  protected segs: readonly Uint8Array[]
  protected readonly pending = new PageRanges(8)
  /** One buffer in process memory: at most 4 GiB (openRegion refuses more for this backend). */
  protected readonly maxSize = MAX_MEMORY_REGION_SIZE
  private isClosed = false

  /** Use openRegion(); this takes over an open, locked, sized file and reads it whole. */
  constructor(file: RegionFile, durability: Durability) {
    super(file, durability)
    this.view = new Uint8Array(file.size)
    this.segs = oneSegment(this.view)
    let done = 0
    while (done < file.size) {
      const n = fs.readSync(file.fd, this.view, done, Math.min(file.size - done, IO_MAX), done)
      if (n === 0) throw new RegionError(`region: ${file.path} is shorter than ${file.size} bytes (truncated while opening?)`)
      done += n
    }
  }

  get closed(): boolean { return this.isClosed }
  get size(): number { return this.view.length }

  drain(): void {
    this.checkOpen()
    this.counters.drains++
    if (this.pending.isEmpty) return
    this.pending.writeBack(this.view.length, this.path, (offset, length) => this.writeAt(offset, length),
      this.durability === 'power' ? () => fs.fdatasyncSync(this.fd) : undefined)
  }

  /** Extends the file (new bytes read as zero) and the in-memory copy. Old views go empty, as on mmap. */
  grow(newSize: number): void {
    if (!this.extendFile(newSize)) return
    const view = new Uint8Array(newSize)
    view.set(this.view)
    const old = this.view
    this.view = view
    this.segs = oneSegment(view)
    release(old)
  }

  /** Releases the file and the in-memory copy at once: every view over it reads as empty from now on. */
  close(): void {
    if (this.isClosed) return
    this.isClosed = true
    const old = this.view
    this.view = new Uint8Array(0)
    this.segs = oneSegment(this.view)
    try { this.releaseFile() } finally { release(old) }
  }

  private writeAt(offset: number, length: number): void {
    let done = 0
    while (done < length) {
      done += fs.writeSync(this.fd, this.view, offset + done, Math.min(length - done, IO_MAX), offset + done)
    }
  }
}

/**
 * Detaches the buffer under `view`, so that every view over it (the heap's, the caller's)
 * reads as empty, and nothing reachable keeps its memory: a closed heap that the caller
 * still holds costs nothing. (Node 20 has no ArrayBuffer.prototype.transfer; a transfer
 * through structuredClone detaches the same way, and the clone is dropped.)
 */
function release(view: Uint8Array): void {
  const buffer = view.buffer as ArrayBuffer
  if (buffer.byteLength > 0) structuredClone(buffer, { transfer: [buffer] })
}
