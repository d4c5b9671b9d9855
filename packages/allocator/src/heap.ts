// CONTRACT STUB — being implemented by the heap owner. The signatures are the contract.
import { Region, Durability } from './region/region'

/** Where the pointers of a block are. Called during crash recovery only. */
export interface Tracer {
  /** Calls `visit(p)` for every pointer stored in the block at `ptr` (usable size `size`). 0 is ignored. */
  trace(bytes: Uint8Array, ptr: number, size: number, visit: (p: number) => void): void
}
/** What a tracer factory sees: the heap after log rollback, before marking. */
export interface TraceContext {
  readonly bytes: Uint8Array
  getRoot(name: string): number
}
export type TracerOption = Tracer | ((ctx: TraceContext) => Tracer)

export interface HeapCreateOptions {
  size: number
  maxSize?: number
  durability?: Durability
  chunkSize?: number
  logSize?: number
  rootCapacity?: number
  backend?: 'mmap' | 'file'
}
export interface HeapOpenOptions {
  durability?: Durability
  tracer?: TracerOption
  backend?: 'mmap' | 'file'
}
export interface RecoveryReport {
  clean: boolean
  ms: number
  liveBlocks: number
  liveBytes: number
  reclaimedBlocks: number
  reclaimedBytes: number
  rolledBackTransaction: boolean
}
export interface HeapStats {
  size: number
  used: number
  free: number
  liveBlocks: number
  largestFree: number
}

export declare class Heap {
  static create(path: string, opts: HeapCreateOptions): Heap
  static open(path: string, opts?: HeapOpenOptions): Heap
  static createIn(region: Region, opts?: Omit<HeapCreateOptions, 'size' | 'durability' | 'backend'>): Heap
  static openIn(region: Region, opts?: Omit<HeapOpenOptions, 'durability' | 'backend'>): Heap
  readonly region: Region
  /** The current view of the heap (replaced when the heap grows). */
  readonly bytes: Uint8Array
  readonly recovery: RecoveryReport
  readonly closed: boolean
  readonly inTransaction: boolean
  /** A zero-filled block of at least `size` bytes; returns its offset (never 0). No durable write for small sizes. */
  alloc(size: number): number
  free(ptr: number): void
  usableSize(ptr: number): number
  isAllocated(ptr: number): boolean
  /** flush + drain (outside a transaction); inside one, the range is made durable at commit. */
  persist(ptr: number, length: number): void
  setRoot(name: string, ptr: number): void
  getRoot(name: string): number
  roots(): Array<[string, number]>
  transaction<T>(fn: () => T): T
  snapshot(ptr: number, length: number): void
  forEachBlock(fn: (ptr: number, size: number) => void): void
  stats(): HeapStats
  check(): { ok: boolean; violations: string[] }
  close(): void
}
