import * as fs from 'fs'
import { RegionError } from '../errors'
import { Region, RegionCounters, newCounters, MIN_REGION_SIZE, MAX_MEMORY_REGION_SIZE as MAX_REGION_SIZE } from './region'

/**
 * SnapshotRegion: a private copy of a heap file, read once at open; nothing is ever written
 * back, and the file is neither locked nor changed. A heap opened over it (Heap.open with
 * `readOnly`) runs its recovery in this copy only. Stores reach no media: flush and drain do
 * nothing, so durability is moot ('process').
 *
 * If another process writes the file while it is read, the copy can be torn, exactly like a
 * `cp` of a live file: the in-memory recovery then rolls back and traces as after a crash,
 * and sees some consistent earlier state only when the writer was between operations. For a
 * consistent copy of a live heap, the writer calls heap.backup().
 */
export class SnapshotRegion implements Region {
  readonly kind = 'snapshot' as const
  readonly durability = 'process' as const
  readonly writeBack = 'at-drain' as const
  readonly canGrow = false
  readonly counters: RegionCounters = newCounters()
  private view: Uint8Array | null

  constructor(readonly path: string) {
    let data: Buffer
    try {
      const size = fs.statSync(path).size
      if (size > MAX_REGION_SIZE) {
        throw new RegionError(`region: ${path} is ${size} bytes: a read-only open holds a private copy in one buffer, at most 4 GiB ` +
          '(open a larger heap writable, on mmap)')
      }
      data = fs.readFileSync(path)
    } catch (e) {
      if (e instanceof RegionError) throw e
      throw new RegionError(`region: cannot read ${path}: ${(e as Error).message}`)
    }
    if (data.length < MIN_REGION_SIZE || data.length % 4096 !== 0) {
      throw new RegionError(`region: ${path} is ${data.length} bytes: not the size of a heap file`)
    }
    this.view = new Uint8Array(data.buffer, data.byteOffset, data.length)
  }

  get size(): number { return this.view?.length ?? 0 }
  get bytes(): Uint8Array {
    if (this.view === null) throw new RegionError(`region: the snapshot of ${this.path} is closed`)
    return this.view
  }
  get segments(): readonly Uint8Array[] { return [this.bytes] }
  get closed(): boolean { return this.view === null }
  flush(): void { this.counters.flushes++ }
  drain(): void { this.counters.drains++ }
  grow(): void { throw new RegionError(`region: the snapshot of ${this.path} is read-only and can not grow`) }
  resetCounters(): void { Object.assign(this.counters, newCounters()) }
  close(): void { this.view = null }
}
