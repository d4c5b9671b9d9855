/**
 * A Region is a byte range with the two primitives of persistent-memory
 * programming (DESIGN.md §2):
 *
 *   flush(off, len)  like CLWB:   schedule write-back of those bytes
 *   drain()          like SFENCE: returns once everything flushed before it is durable
 *
 * Between two drains any store may or may not reach durable media, in any
 * order, at 8-byte granularity. An aligned 8-byte store is never torn.
 */

/** `'power'` survives power loss (drain msyncs / fdatasyncs); `'process'` survives a killed process. */
export type Durability = 'power' | 'process'

export type RegionKind = 'mmap' | 'file' | 'sim' | 'snapshot'

export type WriteBack = 'any-time' | 'at-drain'

/** Persist counters, for benchmarks (persists per operation). */
export interface RegionCounters {
  flushes: number
  drains: number
  flushedBytes: number
}

export interface Region {
  readonly kind: RegionKind
  readonly durability: Durability
  /** Size in bytes; a multiple of 8. */
  readonly size: number
  /**
   * A view over the whole region, and no further (on mmap the buffer behind it may be
   * larger: index the view, never `bytes.buffer`). Replaced by `grow`: never cache it across
   * a grow (a view taken before keeps its old length, or reads as empty).
   */
  readonly bytes: Uint8Array
  /**
   * The region in segments of SEGMENT_SIZE bytes: segment i views [i·2^32, min(size, (i+1)·2^32)),
   * so the byte at offset p is `segments[Math.floor(p / 2 ** 32)][p >>> 0]`. One segment (the
   * same view as `bytes`) up to 4 GiB; past it `bytes` is segment 0 (a typed array holds at most
   * 2^32 elements). Replaced by `grow`, like `bytes`.
   */
  readonly segments: readonly Uint8Array[]
  readonly counters: RegionCounters
  /** Schedules write-back of [offset, offset + length). */
  flush(offset: number, length: number): void
  /** Returns once every range flushed before the call is durable. */
  drain(): void
  /**
   * When a store can reach durable media: 'any-time' (the model of DESIGN.md §2: mmap, NVM;
   * a cache line may be evicted early), or 'at-drain' (only once flushed and drained: the
   * file backend, whose stores stay in process memory until a drain writes them).
   */
  readonly writeBack: WriteBack
  /** Whether `grow` can work on this region. */
  readonly canGrow: boolean
  /** Grows the region to `newSize` bytes (new bytes read as zero); `bytes` is a new view afterwards. */
  grow(newSize: number): void
  /**
   * Prepares growth up to `maxSize` bytes (mmap: maps that much address space once, so that
   * grows keep the buffer). A hint, absent where it means nothing; false if it could not be
   * done. `bytes` may be a new view afterwards.
   */
  reserve?(maxSize: number): boolean
  /** Resets the persist counters to zero. */
  resetCounters(): void
  /** Releases the region; it can not be used afterwards. Does not drain. */
  close(): void
  readonly closed: boolean
}

/** The smallest region the library opens: one 4 KiB page. */
export const MIN_REGION_SIZE = 4096

/** Bytes per segment of a region (a Uint8Array holds at most 2^32 elements). */
export const SEGMENT_SIZE = 2 ** 32

/**
 * The largest region: on mmap, one ArrayBuffer over the mapping, viewed in 4 GiB segments
 * (256 GiB keeps a heap's metadata, with a bitmap bit per 16 bytes, inside segment 0).
 */
export const MAX_REGION_SIZE = 2 ** 38

/** The largest region held in process memory (the file backend, SimRegion, snapshots): one buffer. */
export const MAX_MEMORY_REGION_SIZE = 2 ** 32

/** The segments of a region held in one view of at most 4 GiB. */
export function oneSegment(bytes: Uint8Array): readonly Uint8Array[] { return [bytes] }

/** Views of `size` bytes of `buffer` in segments of SEGMENT_SIZE (the last one shorter). */
export function segmentViews(buffer: ArrayBuffer, size: number): Uint8Array[] {
  const out: Uint8Array[] = []
  for (let at = 0; at < size || out.length === 0; at += SEGMENT_SIZE) out.push(new Uint8Array(buffer, at, Math.min(SEGMENT_SIZE, size - at)))
  return out
}

export function newCounters(): RegionCounters {
  return { flushes: 0, drains: 0, flushedBytes: 0 }
}
