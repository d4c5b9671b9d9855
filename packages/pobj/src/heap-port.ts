/**
 * The part of the allocator's `Heap` that pobj uses, as a structural interface:
 * PHeap wraps anything of this shape (the real Heap from @makalu/allocator).
 */
import type { Region, Tracer, TraceContext, TracerModule, RecoveryReport, CollectReport } from '@makalu/allocator'

export type { Tracer, TraceContext, TracerModule, RecoveryReport }

export interface AllocHeapStats {
  /** Bytes of the region. */
  size: number
  /** Bytes of the chunk area now backed by the region. */
  capacity: number
  /** Usable bytes of allocated blocks. */
  used: number
  /** capacity − used. */
  free: number
  liveBlocks: number
  /** The largest request that succeeds without growing. */
  largestFree: number
  chunks: number
  freeChunks: number
  /** Named roots, pobj's own included. */
  roots: number
}

export interface AllocHeap {
  readonly region: Region
  /** The layer that formatted the heap: pobj wraps only heaps of PHeap.OWNER. */
  readonly owner: string
  readonly bytes: Uint8Array
  /** The region in 4 GiB segments (one in a heap of at most 4 GiB): the byte at p is segments[⌊p / 2^32⌋][p >>> 0]. */
  readonly segments: readonly Uint8Array[]
  /** The size the heap may grow to: pobj wraps only heaps of at most 64 GiB. */
  readonly maxSize: number
  readonly closed: boolean
  readonly inTransaction: boolean
  readonly recovery: RecoveryReport
  alloc(size: number): number
  free(ptr: number): void
  usableSize(ptr: number): number
  isAllocated(ptr: number): boolean
  /** flush + drain now; inside a transaction, at commit. */
  persist(ptr: number, length: number): void
  /** Schedules write-back without waiting. */
  flush(ptr: number, length: number): void
  /** Waits until everything flushed is durable (also inside a transaction). */
  drain(): void
  /** A chunk was claimed since the last drain: a block of it is published only after a drain. */
  readonly chunkClaimsUndrained: boolean
  /** Counts top-level transactions begun since open. */
  readonly transactionSerial: number
  /** Bytes of the undo log: the budget of one transaction's snapshots. */
  readonly undoLogBytes: number
  /** How many snapshots of `length` bytes each one transaction can hold. */
  snapshotCapacity(length: number): number
  /** Opened read-only (a private copy of the file): every write throws ReadOnlyError. */
  readonly readOnly: boolean
  /** Writes a consistent copy of the heap to a new file (outside a transaction). */
  backup(path: string): { bytes: number; ms: number }
  /** Whether each snapshot drains (mmap) or only the commit does (the file backend). */
  readonly snapshotDrains: boolean
  /** Calls listener after the heap grew (its buffer was replaced). */
  onGrow(listener: () => void): void
  setRoot(name: string, ptr: number): void
  getRoot(name: string): number
  roots(): Array<[string, number]>
  transaction<T>(fn: () => T): T
  snapshot(ptr: number, length: number): void
  forEachBlock(fn: (ptr: number, size: number) => void): void
  /** Frees what is not reachable from the roots or `roots` (outside a transaction). */
  collect(opts: { roots?: Iterable<number>; tracer?: Tracer }): CollectReport
  /** Usable bytes of allocated blocks, in O(1). */
  readonly usedBytes: number
  stats(): AllocHeapStats
  check(): { ok: boolean; violations: string[]; stalePointers: number }
  close(): void
  /** Sharing between worker_threads (allocator heap.share()); absent from heaps that can not be shared. */
  share?(): unknown
  /** Whether this heap was attached to another thread's (Heap.attach). */
  readonly attached?: boolean
  /** Heaps attached to the file, this one included (1 when not shared). */
  readonly attachedHeaps?: number
  /** Runs fn under the lock of transactions and root changes of every heap attached to the file. */
  exclusive?<T>(fn: () => T): T
}
