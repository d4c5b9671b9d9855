import * as F from './format'
import { Layout } from './superblock'
import { Memory, hashWord, hashFinish, crc32 } from './memory'
import { ChunkSpace, C_RUN, C_LARGE, popcount } from './chunk-space'
import { HeapCorruptError } from './errors'
import { RootTable } from './roots'
import { markReachable, Marks } from './mark'
import { markingThreads, markInParallel } from './parallel-mark'

/** Where the pointers of a block are. Called by crash recovery and by heap.check(). */
export interface Tracer {
  /**
   * Calls `visit(p, at)` for every pointer p stored in the block at `ptr` (usable size
   * `size`); `at` is the offset of the 8-byte word holding p. 0 is ignored. A p that is
   * not a block start is stale (its block was freed while still referenced): it is treated
   * as null, and recovery stores 0 at `at` (when given) so that it stays null.
   * `leaf` says the block p points to holds no pointer, so it is marked without being read
   * (cheaper, and right even when its bytes are not what the tracer could parse).
   */
  trace(bytes: Uint8Array, ptr: number, size: number, visit: (p: number, at?: number, leaf?: boolean) => void): void
  /**
   * Set by a tracer that reads the block as `bytes[(ptr >>> 0) + k]`: `bytes` is then the 4 GiB
   * segment holding the block (region.ts `segments`), and `ptr >>> 0` the block's offset in
   * it; in a heap of one segment that is the whole region and `ptr` itself. Offsets given to
   * `visit` (p, at) stay full offsets. A heap over 4 GiB refuses a tracer without it
   * (ArgumentError): one that indexes `bytes[ptr]` would read nothing there and free live blocks.
   */
  readonly segmented?: boolean
  /**
   * Optional, for parallel recovery (parallel-mark.ts): like `trace`, but visits only the
   * pointers whose word starts at an offset in [from, to) of the block (`from`, `to` multiples
   * of 8). Over any partition of [0, size) the calls together visit exactly what `trace` visits,
   * repair the same words and count the same. Lets several threads share one big block (a
   * table of pointers); a block of a tracer without it is traced whole by one thread.
   */
  traceRange?(bytes: Uint8Array, ptr: number, size: number, from: number, to: number,
    visit: (p: number, at?: number, leaf?: boolean) => void): void
  /**
   * Optional, for parallel recovery: what this tracer gathered while tracing in a worker
   * thread (structured-cloneable), handed to `mergeWorkerResult` of the opening thread's tracer.
   */
  workerResult?(): unknown
  mergeWorkerResult?(result: unknown): void
}

/**
 * A tracer factory that a worker thread can load (parallel recovery): `require(path)[name]`
 * is a `(ctx: TraceContext) => Tracer` building, from the same heap, the tracer the opening
 * thread uses. In a worker, `ctx.repair` records the repair; the opening thread applies it.
 */
export interface TracerModule { path: string; name: string }

/** What a tracer factory sees: the heap after the log was rolled back, before marking. */
export interface TraceContext {
  /** Segment 0: the whole region up to 4 GiB. */
  readonly bytes: Uint8Array
  /** The region in 4 GiB segments (region.ts). */
  readonly segments?: readonly Uint8Array[]
  getRoot(name: string): number
  /**
   * Crash recovery only (absent otherwise): stores the aligned 8-byte word (lo, hi) at `at`
   * (inside the block being traced) and flushes it; recovery's final drain makes it durable.
   * For a tracer that finds a structure half-written by the crash and knows its one
   * committing word: e.g. a record element whose record is not intact becomes vacated.
   */
  repair?(at: number, lo: number, hi: number): void
}

export type TracerOption = Tracer | ((ctx: TraceContext) => Tracer)

export interface RecoveryReport {
  /** The heap was closed cleanly: nothing was traced. */
  clean: boolean
  /** Wall time of the open, in milliseconds. */
  ms: number
  liveBlocks: number
  liveBytes: number
  /** Blocks the bitmap image had allocated that were unreachable (exact after a killed process on mmap). */
  reclaimedBlocks: number
  reclaimedBytes: number
  /** An unfinished transaction was rolled back. */
  rolledBackTransaction: boolean
  /** Run and large chunks released because nothing reachable was left in them. */
  releasedChunks: number
  /** Why the heap was traced: not at all after a clean close; after a crash; or because the
   *  state saved at a clean close failed its consistency check (damage to the file). */
  reason: 'clean' | 'crash' | 'inconsistent-clean-state'
  /** 'precise' (a tracer was given), 'conservative' or 'none' (clean open). */
  tracing: 'precise' | 'conservative' | 'none'
  /**
   * Stale pointers found and treated as null: roots whose target is not an allocated block
   * (not a block start after a crash), and, with a precise tracer after a crash, pointer
   * fields whose target is not a block start (stored as 0). A conservative scan cannot tell a
   * stale field from data; a clean open traces nothing, so it finds stale roots only.
   */
  stalePointers: number
  /** Names of the stale roots, removed durably by the open. */
  staleRoots: string[]
  /** Threads that marked: 0 when nothing was traced, 1 serial, more with `recoveryWorkers` (parallel-mark.ts). */
  markingThreads: number
  /** Why a parallel mark gave up and the heap was marked on one thread instead (a worker failed). */
  markingFallback?: string
}

/** How a crash recovery may mark in parallel (Heap.open's recoveryWorkers). */
export interface ParallelRecovery {
  workers: number | 'auto' | undefined
  tracerModule: TracerModule | undefined
  /** The mapped heap file's descriptor (mmap regions only), else null: one thread marks. */
  fd: number | null
  roots: Array<[string, number]>
  repair: (at: number, lo: number, hi: number) => void
}

/**
 * Drops every root whose target fails `live` (a block freed while still a root): its pointer
 * is set to 0 (one store, flushed; the open's next drain makes it durable) and reported.
 * Idempotent, so a crash before the drain only repeats it at the next open.
 */
export function dropStaleRoots(roots: RootTable, live: (p: number) => boolean, report: RecoveryReport): void {
  for (const [name, p] of roots.entries()) {
    if (live(p)) continue
    roots.writePointer(name, roots.slotOf(name), 0)
    report.staleRoots.push(name)
    report.stalePointers++
  }
}

/**
 * Step 2 of open (read-only): checks every chunk entry and sets up the volatile
 * kinds of run and large chunks, without counts. Throws HeapCorruptError.
 */
/** Returns the chunks in use (run and large heads), in order. */
export function loadChunkTable(mem: Memory, layout: Layout, chunks: ChunkSpace, source: string): number[] {
  const u = mem.u32
  const count = chunks.chunkCount
  const classCount = chunks.classes.count
  const base = layout.chunkTableOff >>> 2
  const used: number[] = []
  const perPage = F.PAGE / F.CHUNK_ENTRY_SIZE
  // It runs cold at every open: pages of free entries are skipped by one native compare.
  for (let c = 0; c < layout.maxChunks; c++) {
    if (c % perPage === 0 && c + perPage <= layout.maxChunks &&
        ZERO_PAGE.compare(mem.bytes, layout.chunkTableOff + c * F.CHUNK_ENTRY_SIZE, layout.chunkTableOff + (c + perPage) * F.CHUNK_ENTRY_SIZE) === 0) {
      c += perPage - 1
      continue
    }
    const lo = u[base + 2 * c]
    if (lo === 0) continue // FREE, or covered by a large object (its kind was set by the head)
    used.push(c)
    const kind = lo & 0xff
    if (lo >>> 16 !== 0) badEntry(u, base, c, source, 'reserved bits set')
    if (c >= count) badEntry(u, base, c, source, 'in use past the end of the heap')
    if (chunks.kind[c] !== 0) badEntry(u, base, c, source, 'inside a large object')
    if (kind === F.KIND_RUN) {
      const sc = (lo >>> 8) & 0xff
      if (sc >= classCount) badEntry(u, base, c, source, `size class ${sc} does not exist`)
      chunks.initRun(c, sc)
    } else if (kind === F.KIND_LARGE) {
      const n = u[base + 2 * c + 1]
      if (n < 1 || c + n > count) badEntry(u, base, c, source, `a large object of ${n} chunks does not fit`)
      for (let j = 1; j < n; j++) if (u[base + 2 * (c + j)] !== 0) badEntry(u, base, c + j, source, `covered by the large object at chunk ${c}, but not free`)
      chunks.adoptLargeShape(c, n)
    } else badEntry(u, base, c, source, `unknown kind ${kind}`)
  }
  return used
}

const ZERO_PAGE = Buffer.alloc(F.PAGE)

function badEntry(u: Uint32Array, base: number, c: number, source: string, why: string): never {
  const lo = u[base + 2 * c]
  throw new HeapCorruptError(`heap: ${source}: chunk ${c}: ${why} (entry 0x${u[base + 2 * c + 1].toString(16)}_${lo.toString(16)})`)
}

/**
 * The hashes of the state a clean close saves and a clean open trusts (format.ts, superblock
 * word 144), over the chunks in use (`inUse`: the chunks whose entry is not FREE, in order).
 * `table`: the chunk count, and each such chunk's index, entry low half and, for a large
 * head, span (a FREE entry that became used, or the reverse, changes the list). `cache`: each
 * run's live count, and its bitmap bytes (CRC-32, native: a clean open runs it cold). A large object's bitmap is not hashed: its check (the head bit
 * alone, below) is exact. Reads the media only, so close and open compute them alike.
 */
export function cleanStateHashes(mem: Memory, layout: Layout, chunkCount: number, inUse: number[]): { table: number; cache: number } {
  const u = mem.u32
  const base = layout.chunkTableOff >>> 2
  const bytesPer = layout.chunkSize >>> (F.GRANULE_SHIFT + 3)
  let table = hashWord(0x4d414b41, chunkCount)
  let counts = 0x4d414b41
  let bits = 0
  // The bitmaps of consecutive runs go to the CRC in one call (the value is the same).
  let runFrom = 0
  let runTo = 0
  const flushRuns = (): void => {
    if (runTo > runFrom) bits = crc32(mem.bytes.subarray(layout.bitmapOff + runFrom * bytesPer, layout.bitmapOff + runTo * bytesPer), bits)
  }
  // It runs cold at every clean open, so few steps: an entry's kind and class (16 bits; the
  // reserved bits are checked 0 on load) share a word with its index (high bits apart).
  for (let i = 0; i < inUse.length; i++) {
    const c = inUse[i]
    const lo = u[base + 2 * c]
    const hi = u[base + 2 * c + 1]
    table = hashWord(table, (lo & 0xffff) | (c << 16))
    if (c > 0xffff) table = hashWord(table, c)
    if ((lo & 0xff) === F.KIND_RUN) {
      counts = hashWord(counts, hi)
      if (c !== runTo) { flushRuns(); runFrom = c }
      runTo = c + 1
    } else table = hashWord(table, hi)
  }
  flushRuns()
  return { table: hashFinish(table, inUse.length), cache: hashFinish(hashWord(counts, bits), inUse.length) }
}

/**
 * Clean open, first a check of what clean open trusts. The chunk table must match the hash
 * saved at close: it is the only record of the chunks, so a mismatch is HeapCorruptError
 * (tracing from a damaged table would lose data). Then the cache: the saved hash of live
 * counts and run bitmaps (any damage: swapped bits, a changed count), each count within its
 * run, each large object's head bit alone. (Free chunks' bits are never read; a claim clears
 * them.) Each run's popcount against its live count is proven by the close that wrote them
 * (`cleanStateFaults`), so the hash covers it: the open does not read the runs' bitmaps
 * again, a CRC aside. Reads only; false sends the open down the crash path (the bitmap is a
 * cache; marking rebuilds it).
 */
export function cleanStateConsistent(mem: Memory, layout: Layout, chunks: ChunkSpace, inUse: number[], source: string): boolean {
  const u = mem.u32
  const saved = cleanStateHashes(mem, layout, chunks.chunkCount, inUse)
  if (u[F.SB_TABLE_HASH >> 2] !== saved.table) {
    throw new HeapCorruptError(`heap: ${source}: the chunk table does not match the hash saved at the clean close (a damaged file); nothing was written`)
  }
  if (u[F.SB_CACHE_HASH >> 2] !== saved.cache) return false
  for (const c of inUse) {
    if (chunks.kind[c] === C_RUN) {
      if (u[(chunks.entryOff(c) >>> 2) + 1] > chunks.classes.perChunk[chunks.cls[c]]) return false
    } else if (!largeHeadAlone(chunks, c)) return false
  }
  return true
}

/**
 * What a clean close must prove before it writes the clean state (a clean open trusts it
 * without reading the runs' bitmaps): each run's popcount equals its live count
 * (perChunk − nFree), each large object's bitmap holds its head bit alone. Returns the first
 * fault, or null. A fault is a bug of this process's volatile state: close leaves the file
 * dirty (the next open traces it) and reports it.
 */
export function cleanStateFaults(chunks: ChunkSpace): string | null {
  for (let c = 0; c < chunks.chunkCount; c++) {
    if (chunks.kind[c] === C_RUN) {
      const live = chunks.classes.perChunk[chunks.cls[c]] - chunks.nFree[c]
      const bits = chunks.countBits(c)
      if (bits !== live) return `run ${c}: its bitmap holds ${bits} blocks, its count says ${live}`
    } else if (chunks.kind[c] === C_LARGE && !largeHeadAlone(chunks, c)) {
      return `large object at chunk ${c}: its bitmap is not its head bit alone`
    }
  }
  return null
}

function largeHeadAlone(chunks: ChunkSpace, c: number): boolean {
  let bits = 0
  for (let j = 0; j < chunks.span[c]; j++) bits += chunks.countBits(c + j)
  return bits === 1 && chunks.testBit(chunks.chunkBase(c))
}

/** Clean open: free counts come from the hints written at close; the bitmap is trusted as is. */
export function adoptClean(mem: Memory, chunks: ChunkSpace, inUse: number[]): void {
  const u = mem.u32
  for (const c of inUse) {
    if (chunks.kind[c] === C_RUN) {
      const live = u[(chunks.entryOff(c) >>> 2) + 1]
      chunks.adoptRun(c, chunks.cls[c], chunks.classes.perChunk[chunks.cls[c]] - live)
    } else if (chunks.kind[c] === C_LARGE) {
      chunks.adoptLarge(c, chunks.span[c])
    }
  }
  chunks.sortPartials()
}

/**
 * Steps 3-4 of a crash recovery: mark from the roots (stale pointers reported by the tracer
 * are nulled), then sweep: the bitmap becomes the mark bits, counts are rebuilt, and chunks
 * with nothing reachable are released (their entries flushed, not drained).
 */
export function markAndSweep(mem: Memory, layout: Layout, chunks: ChunkSpace, roots: number[],
  tracer: Tracer | null, report: RecoveryReport, parallel?: ParallelRecovery): void {
  let result: Marks | null = null
  report.markingThreads = 1
  const threads = parallel ? markingThreads(parallel.workers, chunks, parallel.fd !== null, tracer, parallel.tracerModule) : 1
  if (parallel && threads > 1) {
    const out = markInParallel({ mem, layout, chunks, roots: parallel.roots, tracer, tracerModule: parallel.tracerModule ?? null,
      threads, fd: parallel.fd!, repair: parallel.repair })
    if ('marks' in out) {
      result = out.marks
      report.markingThreads = out.threads
    } else report.markingFallback = out.failure // nothing of it was written: mark again, serially
  }
  const { bits: marks, stale } = result ?? markReachable(mem, layout, chunks, roots, tracer, false, true)
  report.stalePointers += stale
  const u = mem.u32

  // Sweep.
  const base = layout.bitmapOff >>> 2
  const per = layout.chunkSize >>> (F.GRANULE_SHIFT + 5)
  for (let c = 0; c < chunks.chunkCount; c++) {
    const k = chunks.kind[c]
    let live = 0
    let lost = 0
    for (let w = c * per; w < (c + 1) * per; w++) {
      live += popcount(marks[w])
      lost += popcount(u[base + w] & ~marks[w])
      u[base + w] = marks[w] // free and covered chunks get all-clear bits
    }
    if (k !== C_RUN && k !== C_LARGE) continue
    const size = k === C_RUN ? chunks.classes.sizes[chunks.cls[c]] : chunks.span[c] * layout.chunkSize
    report.reclaimedBlocks += lost
    report.reclaimedBytes += lost * size
    if (live === 0) {
      chunks.releaseChunks(c, k === C_LARGE ? chunks.span[c] : 1)
      report.releasedChunks++
    } else if (k === C_RUN) {
      chunks.adoptRun(c, chunks.cls[c], chunks.classes.perChunk[chunks.cls[c]] - live)
    } else {
      chunks.adoptLarge(c, chunks.span[c])
    }
  }
  chunks.sortPartials()
  report.liveBlocks = chunks.liveBlocks
  report.liveBytes = chunks.used
}
