import { ArgumentError, RegionError } from '../errors'
import { Region, RegionCounters, WriteBack, newCounters, MAX_MEMORY_REGION_SIZE as MAX_REGION_SIZE } from './region'

/**
 * SimRegion: an in-memory crash simulator with persistent-memory semantics.
 *
 * It keeps two images: `bytes`, the working one every store goes to, and the
 * durable one, what media would hold. flush() records the 8-byte words of a
 * range; drain() copies the recorded words into the durable image. A crash
 * builds a possible post-crash image: the durable image plus, for each 8-byte
 * word whose working value differs, that value or not:
 *
 *   'strict'  no pending word survives (only drained data)
 *   'random'  each pending word survives with probability 1/2, seeded per crash
 *
 * Words are the unit, so an aligned 8-byte store is never torn, and a flush of
 * part of a word is a flush of the whole word (as CLWB of its line would be).
 *
 * With `writeBack: 'at-drain'` it models the file backend instead: a store reaches
 * media only once flushed and drained, so in 'random' mode only the words flushed
 * since the last drain (a drain cut short) may survive; unflushed stores never do.
 */
export type CrashMode = 'strict' | 'random'

export interface CrashOptions {
  mode?: CrashMode
  seed?: number
  /** Probability that a pending word survives in 'random' mode (default 0.5). */
  survival?: number
}

export interface SimRegionOptions {
  /** Default 'any-time' (persistent memory, mmap). 'at-drain' models the file backend. */
  writeBack?: WriteBack
}

export class SimRegion implements Region {
  readonly kind = 'sim' as const
  readonly durability = 'power' as const
  readonly canGrow = true
  readonly writeBack: WriteBack
  readonly counters: RegionCounters = newCounters()
  /** Called at the start of every drain, before it takes effect: the place to crash. */
  onDrain: ((drainIndex: number) => void) | null = null
  /** Drains since creation (never reset; `counters.drains` may be). */
  drainIndex = 0

  private work: Uint8Array
  private durable: Uint8Array
  private pending: number[] = [] // pairs [firstWord, endWord)
  private isClosed = false

  /** `new SimRegion(size)` is zero-filled; `new SimRegion(image)` starts with a copy of the image, durable. */
  constructor(sizeOrImage: number | Uint8Array, opts: SimRegionOptions = {}) {
    this.writeBack = opts.writeBack ?? 'any-time'
    if (this.writeBack !== 'any-time' && this.writeBack !== 'at-drain') {
      throw new ArgumentError(`region: unknown writeBack '${String(this.writeBack)}'`)
    }
    const size = typeof sizeOrImage === 'number' ? sizeOrImage : sizeOrImage.length
    if (!Number.isInteger(size) || size <= 0 || size % 8 !== 0 || size > MAX_REGION_SIZE) {
      throw new ArgumentError(`region: SimRegion size must be a positive multiple of 8 up to 4 GiB, got ${size}`)
    }
    this.work = new Uint8Array(size)
    this.durable = new Uint8Array(size)
    if (typeof sizeOrImage !== 'number') {
      this.work.set(sizeOrImage)
      this.durable.set(sizeOrImage)
    }
  }

  get size(): number { return this.work.length }
  get bytes(): Uint8Array { this.checkOpen(); return this.work }
  get segments(): readonly Uint8Array[] { return [this.bytes] }
  get closed(): boolean { return this.isClosed }

  flush(offset: number, length: number): void {
    this.checkOpen()
    if (length <= 0) return
    if (offset < 0 || offset + length > this.work.length) {
      throw new ArgumentError(`region: flush [${offset}, ${offset + length}) outside a region of ${this.work.length} bytes`)
    }
    this.counters.flushes++
    this.counters.flushedBytes += length
    // Math.floor, not >>> 3: an end offset of 4 GiB does not fit in 32 bits.
    this.pending.push(Math.floor(offset / 8), Math.floor((offset + length + 7) / 8))
  }

  drain(): void {
    this.checkOpen()
    const index = this.drainIndex++
    if (this.onDrain) this.onDrain(index)
    this.counters.drains++
    const p = this.pending
    for (let i = 0; i < p.length; i += 2) {
      this.durable.set(this.work.subarray(p[i] * 8, p[i + 1] * 8), p[i] * 8)
    }
    p.length = 0
  }

  grow(newSize: number): void {
    this.checkOpen()
    if (newSize <= this.size) return
    if (newSize % 8 !== 0 || newSize > MAX_REGION_SIZE) {
      throw new ArgumentError(`region: cannot grow to ${newSize} bytes (multiple of 8, at most 4 GiB)`)
    }
    const w = new Uint8Array(newSize); w.set(this.work); this.work = w
    const d = new Uint8Array(newSize); d.set(this.durable); this.durable = d
  }

  resetCounters(): void {
    this.counters.flushes = 0
    this.counters.drains = 0
    this.counters.flushedBytes = 0
  }

  close(): void { this.isClosed = true }

  /** Words whose working value differs from the durable one (not yet durable). */
  pendingWords(): number {
    let n = 0
    const w = new Uint32Array(this.work.buffer, this.work.byteOffset, this.work.length / 4)
    const d = new Uint32Array(this.durable.buffer, this.durable.byteOffset, this.durable.length / 4)
    for (let i = 0; i < w.length; i += 2) if (w[i] !== d[i] || w[i + 1] !== d[i + 1]) n++
    return n
  }

  /** A possible post-crash image. The region itself goes on unchanged. */
  crash(opts: CrashOptions = {}): Uint8Array {
    if (this.isClosed) throw new RegionError('region: crash() on a closed SimRegion')
    const image = this.durable.slice()
    const mode = opts.mode ?? 'strict'
    if (mode === 'strict') return image
    if (mode !== 'random') throw new ArgumentError(`region: unknown crash mode '${String(mode)}'`)
    const rand = mulberry32(opts.seed ?? 1)
    const survival = opts.survival ?? 0.5
    const w = new Uint32Array(this.work.buffer, this.work.byteOffset, this.work.length / 4)
    const out = new Uint32Array(image.buffer, image.byteOffset, image.length / 4)
    const maybe = (i: number): void => {
      if ((w[i] !== out[i] || w[i + 1] !== out[i + 1]) && rand() < survival) {
        out[i] = w[i]
        out[i + 1] = w[i + 1]
      }
    }
    if (this.writeBack === 'any-time') {
      for (let i = 0; i < w.length; i += 2) maybe(i)
    } else {
      const p = this.pending
      for (let k = 0; k < p.length; k += 2) for (let word = p[k]; word < p[k + 1]; word++) maybe(word * 2)
    }
    return image
  }

  /** The durable image as it stands (a copy). */
  durableImage(): Uint8Array { return this.durable.slice() }

  private checkOpen(): void {
    if (this.isClosed) throw new RegionError('region: SimRegion is closed')
  }
}

/** A small seeded PRNG (mulberry32): deterministic crash images per seed. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
