/**
 * The part of the allocator's `Heap` that pobj uses, as a structural interface:
 * PHeap wraps anything of this shape (the real Heap from @makalu/allocator).
 */
import type { Region, Tracer, TraceContext, RecoveryReport } from '@makalu/allocator'

export type { Tracer, TraceContext, RecoveryReport }

export interface AllocHeapStats {
  size: number
  used: number
  free: number
  liveBlocks: number
  largestFree: number
}

export interface AllocHeap {
  readonly region: Region
  /** The layer that formatted the heap: pobj wraps only heaps of PHeap.OWNER. */
  readonly owner: string
  readonly bytes: Uint8Array
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
  /** Counts top-level transactions begun since open. */
  readonly transactionSerial: number
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
  stats(): AllocHeapStats
  check(): { ok: boolean; violations: string[]; stalePointers: number }
  close(): void
}
