import * as fs from 'fs'
import { isMainThread } from 'worker_threads'
import * as F from './format'
import { Region, Durability } from './region/region'
import { openRegion } from './region/open-region'
import { SnapshotRegion } from './region/snapshot-region'
import { MmapRegion } from './region/mmap-region'
import { createWhole } from './region/new-file'
import { Memory } from './memory'
import { Layout, LayoutOptions, layoutEnd, planLayout, chunksIn, writeSuperblock, readSuperblock, checkOwner, isClean, writeState,
  readChunkCount, writeChunkCount } from './superblock'
import { ChunkSpace, C_FREE, C_QUARANTINE, C_RUN, C_LARGE } from './chunk-space'
import { SizeClasses } from './size-classes'
import { RootTable } from './roots'
import { UndoLog } from './undo-log'
import { now } from './clock'
import { Tracer, TracerOption, TracerModule, ParallelRecovery, RecoveryReport, loadChunkTable, cleanStateConsistent, cleanStateFaults, cleanStateHashes, adoptClean, markAndSweep,
  dropStaleRoots } from './recovery'
import { checkHeap, CheckReport } from './check'
import { checkParallelOptions, loadTracerModule } from './parallel-mark'
import { collect, CollectReport } from './collector'
import { ArgumentError, HeapClosedError, InvalidPointerError, TransactionError, MakaluError, CommitFailedError,
  HeapFailedError, RegionFullError, ReadOnlyError, RegionError, HeapCorruptError, HeapSharedError } from './errors'
import { SharedSpace, ShareToken, OPENER_SLOT, HEAP_LOCK, lockWord, unlockWord, registerSim, findSim } from './shared-space'
import { attachMmapRegion } from './region/attach-region'
import { SimRegion } from './region/sim-region'

export { ShareToken } from './shared-space'

export { Tracer, TraceContext, TracerOption, TracerModule, RecoveryReport } from './recovery'
export { CheckReport } from './check'
export { CollectReport } from './collector'

export interface HeapCreateOptions extends LayoutOptions {
  /** Bytes of the heap file. */
  size: number
  /**
   * The heap may grow its file up to this many bytes (default: `size`, no growth). At most 256 GiB
   * on mmap (over 4 GiB: a wide heap, format version 4, viewed in 4 GiB segments: `segments`), at
   * most 4 GiB on the file backend.
   */
  maxSize?: number
  durability?: Durability
  backend?: 'mmap' | 'file'
  /** Says where pointers are for check() while this heap is open (recovery needs it again at open). */
  tracer?: TracerOption
}

export interface HeapOpenOptions {
  durability?: Durability
  /** Says where pointers are during crash recovery and check(); default: conservative scanning. */
  tracer?: TracerOption
  backend?: 'mmap' | 'file'
  /** The owner the heap was created with (HeapCreateOptions.owner); any other is a HeapFormatError, before anything is written. */
  owner?: string
  /**
   * Threads that mark in a crash recovery (the opening thread is one; the others are
   * worker_threads, each mapping the file): an integer from 1 (serial) or 'auto' (default:
   * the cores available, at most 4, when the chunks in use hold 6M blocks or more; else 1).
   * mmap backend only; with a `tracer`, only if `tracerModule` names it for the workers.
   * The result is the serial one (parallel-mark.ts); `recovery.markingThreads` says how many marked.
   */
  recoveryWorkers?: number | 'auto'
  /** The tracer factory as a module a worker thread can load (parallel recovery); alone, it is the tracer too. */
  tracerModule?: TracerModule
  /**
   * Open a private copy of the file (SnapshotRegion): no lock is taken and nothing is ever
   * written to the file; a recovery runs in the copy only; every write is a ReadOnlyError.
   * `durability` and `backend` do not apply.
   */
  readOnly?: boolean
}

export interface HeapAttachOptions {
  /** Says where pointers are for check() (as HeapOpenOptions.tracer; nothing is recovered at attach). */
  tracer?: TracerOption
}

/** What Heap.attach builds on: the shared state and this heap's slot in it. */
interface Attached { space: SharedSpace; slot: number; ownsRegion: boolean }

export type HeapCreateInOptions = Omit<HeapCreateOptions, 'size' | 'durability' | 'backend'>
export type HeapOpenInOptions = Pick<HeapOpenOptions, 'tracer' | 'owner'>

export interface HeapStats {
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
  roots: number
}

/**
 * A Makalu heap in a region: chunks, size classes, named roots, transactions,
 * and recovery by mark-and-sweep from the roots after a crash.
 *
 * Durability contract:
 * - alloc/free of small blocks write nothing durable; a block is durable only once
 *   the caller wrote it and persisted it (`persist`, or commit of a transaction).
 * - setRoot is durable when it returns, and drains first: initialise a block and
 *   flush it (or `persist`) before publishing it under a root.
 * - after a crash, a block is allocated exactly when it is reachable from a root.
 */
export class Heap {
  readonly region: Region
  readonly recovery: RecoveryReport
  readonly layout: Layout
  private readonly mem: Memory
  private readonly chunks: ChunkSpace
  private readonly rootTable: RootTable
  private readonly log: UndoLog
  private readonly tracerOption: TracerOption | undefined
  private isClosed = false
  /** Over a SnapshotRegion: every write is refused, close writes nothing. */
  readonly readOnly: boolean
  /** Set when an I/O error left the heap in a state only a reopen can settle. */
  private failure: HeapFailedError | null = null
  /** Stores reach media only through flush + drain (the file backend): snapshots need no drain each. */
  private readonly deferredWriteBack: boolean
  // The open transaction (volatile).
  private txDepth = 0
  /** Blocks allocated in the open transaction: a list, and one bit per granule for lookups. */
  private txAllocs: number[] = []
  private txAllocBits = new Uint32Array(0)
  private txFrees = new Set<number>()
  private txFlush: number[] = []
  private txRootsChanged = false
  private txSnapshots = new Map<number, number>()
  private readonly growListeners: Array<() => void> = []
  private txSerial = 0
  /**
   * The chunk space while the heap is open, writable, not failed and outside a transaction (alloc
   * and free may take its fast path), else null. One load and a compare, where a flag and the
   * field `chunks` would be two loads and a truthiness test.
   */
  private fast: ChunkSpace | null = null
  /** The state shared with heaps attached in other threads (shared-space.ts); this heap alone until share(). */
  private readonly shared: SharedSpace
  /** Whether close() closes the region (not for a heap attached over a SimRegion of its sharer). */
  private readonly ownsRegion: boolean
  /** Depth of this heap's hold on the heap lock (transactions, root changes). */
  private heapLockDepth = 0
  /** The shared root generation the root index was loaded at. */
  private rootGen = 0
  /** An attached heap in a worker: detaches when the worker exits. */
  private exitHook: (() => void) | null = null

  /** Creates a heap file of `size` bytes (it must not exist) and opens it. */
  static create(path: string, opts: HeapCreateOptions): Heap {
    if (!opts || typeof opts.size !== 'number') throw new ArgumentError('heap: Heap.create needs { size }')
    planLayout(opts.size, opts) // refuse bad options before a file exists
    const region = openRegion(path, { size: opts.size, maxSize: opts.maxSize, create: true, durability: opts.durability, backend: opts.backend })
    try {
      return Heap.format(region, opts, true)
    } catch (e) {
      // A refused create leaves no file: removed while still locked, then released.
      try { fs.unlinkSync(path) } catch { /* gone already */ }
      region.close()
      throw e
    }
  }

  /** Opens a heap file; recovers it if it was not closed cleanly. */
  static open(path: string, opts: HeapOpenOptions = {}): Heap {
    checkParallelOptions(opts.recoveryWorkers, opts.tracerModule, opts.tracer)
    const region = opts.readOnly ? new SnapshotRegion(path) : openRegion(path, { durability: opts.durability, backend: opts.backend })
    try {
      return new Heap(region, path, opts.tracer ?? (opts.tracerModule && loadTracerModule(opts.tracerModule)), opts.owner,
        { workers: opts.recoveryWorkers, tracerModule: opts.tracerModule })
    } catch (e) {
      region.close()
      throw e
    }
  }

  /** Formats a new heap over the whole region (any Region: SimRegion in tests). */
  static createIn(region: Region, opts: HeapCreateInOptions = {}): Heap { return Heap.format(region, opts, false) }

  /** createIn; `zeroed`: the region is a new file, all zeros (nothing to clear: a big heap's metadata stays sparse). */
  private static format(region: Region, opts: HeapCreateInOptions, zeroed: boolean): Heap {
    const layout = planLayout(region.size, { ...opts, maxSize: opts.maxSize ?? region.size })
    const mem = new Memory(region)
    mem.setHeapEnd(layoutEnd(layout))
    // Formatting, in order: everything but the magic first; then the superblock (commits: it is a heap).
    if (!zeroed) mem.bytes.fill(0, F.PAGE, layout.dataOff)
    writeChunkCount(mem, chunksIn(layout, region.size))
    writeState(mem, F.STATE_DIRTY)
    region.flush(F.PAGE, layout.dataOff - F.PAGE)
    region.flush(0, F.PAGE)
    region.drain()
    writeSuperblock(mem, layout)
    region.flush(0, F.PAGE)
    region.drain()
    const heap = new Heap(region, region.kind, opts.tracer, opts.owner)
    if (zeroed) heap.chunks.markFresh(0, heap.chunks.chunkCount)
    return heap
  }

  /** Opens the heap held by a region; recovers it if it was not closed cleanly. */
  static openIn(region: Region, opts: HeapOpenInOptions = {}): Heap {
    return new Heap(region, region.kind, opts.tracer, opts.owner)
  }

  // ── sharing between worker_threads ───────────────────────────────────────
  /**
   * A token (structured-cloneable: postMessage, workerData) with which another worker_thread
   * of this process attaches to this open heap (Heap.attach): the same memory, allocation in
   * parallel. mmap backend (and SimRegion, attachable in this thread only); the file backend
   * is refused (HeapSharedError): its bytes are a private copy per heap. See the README's
   * "Sharing a heap between worker_threads" for what is serialised and what is not.
   */
  share(): ShareToken {
    this.checkWritable('share')
    if (this.mem.wide) throw new HeapSharedError('heap: share() of a heap that may pass 4 GiB (a wide heap) is not supported yet')
    const r = this.region
    let region: ShareToken['region']
    if (r instanceof MmapRegion) region = { kind: 'mmap', path: r.path, fd: r.fd, durability: r.durability }
    else if (r instanceof SimRegion) region = { kind: 'sim', id: registerSim(r) }
    else {
      throw new HeapSharedError(`heap: share() needs the mmap backend; this heap's region is '${r.kind}' ` +
        '(the file backend keeps a private copy of the file in each heap, written back at drains: two copies would overwrite each other)')
    }
    this.shared.markShared()
    return { makaluShare: 1, region, state: this.shared.buffers }
  }

  /**
   * Attaches to a heap shared by another thread of this process (heap.share()): maps the file
   * on this thread and takes a slot in the shared state. Nothing is recovered or written.
   * close() detaches (hands this heap's runs and cached blocks back; the file stays open).
   */
  static attach(token: ShareToken, opts: HeapAttachOptions = {}): Heap {
    const t = token as Partial<ShareToken> | null
    if (!t || typeof t !== 'object' || t.makaluShare !== 1 || !t.region || !t.state || !(t.state.ctl instanceof SharedArrayBuffer)) {
      throw new ArgumentError('heap: Heap.attach needs a token from heap.share() (posted to this thread as it was)')
    }
    let region: Region
    let ownsRegion = true
    if (t.region.kind === 'mmap') region = attachMmapRegion(t.region.path, t.region.fd, t.region.durability)
    else if (t.region.kind === 'sim') {
      const r = findSim(t.region.id)
      if (!(r instanceof SimRegion)) throw new HeapSharedError('heap: attach: a SimRegion heap can be attached only in the thread that shared it')
      if (r.closed) throw new HeapSharedError('heap: attach: the heap that shared this token is closed')
      region = r
      ownsRegion = false
    } else throw new ArgumentError(`heap: Heap.attach: unknown region kind in the token`)
    try {
      const layout = readSuperblock(new Memory(region), region.kind)
      const space = new SharedSpace(layout, new SizeClasses(layout.chunkSize).count, t.state)
      const slot = space.claimSlot()
      try {
        const heap = new Heap(region, region.kind, opts.tracer, layout.owner, undefined, { space, slot, ownsRegion })
        if (!isMainThread) {
          // A worker that ends (returns, throws, process.exit) without close() detaches all the
          // same; terminate() runs no JS, and leaves the slot held (see the README).
          heap.exitHook = () => { try { heap.close() } catch { /* inside a transaction: left held */ } }
          process.once('exit', heap.exitHook)
        }
        return heap
      } catch (e) {
        space.lockChunks()
        try { space.releaseSlot(slot) } finally { space.unlockChunks() }
        throw e
      }
    } catch (e) {
      if (ownsRegion) region.close()
      throw e
    }
  }

  /** Whether this heap was attached (Heap.attach), not opened. */
  get attached(): boolean { return this.chunks.slot !== OPENER_SLOT }
  /** Heaps attached to this heap's file, this one included (1 when not shared). */
  get attachedHeaps(): number { return this.shared.attachedCount() }

  /**
   * Runs fn holding the heap lock: the lock that transactions and root changes of every heap
   * attached to this file take (shared heaps), so fn's reads and writes of shared metadata
   * (pobj's type table) are not interleaved with another heap's. The roots are read afresh
   * first. Re-entrant (a transaction inside fn is fine); fn must be synchronous.
   */
  exclusive<T>(fn: () => T): T {
    this.checkUsable()
    this.lockHeap()
    try {
      if (this.shared.markedShared) this.syncRoots()
      return fn()
    } finally { this.unlockHeap() }
  }

  private lockHeap(): void { if (this.heapLockDepth++ === 0) lockWord(this.shared.ctl, HEAP_LOCK) }
  private unlockHeap(): void { if (--this.heapLockDepth === 0) unlockWord(this.shared.ctl, HEAP_LOCK) }

  /** Reloads the root index if another heap changed the roots since (shared heaps only). */
  private syncRoots(): void {
    if (this.shared.rootGen === this.rootGen) return
    this.lockHeap()
    try {
      this.rootGen = this.shared.rootGen
      this.rootTable.load(() => true, 'the root table')
    } finally { this.unlockHeap() }
  }

  /** The roots changed: other heaps reload their index. */
  private rootsChanged(): void {
    this.shared.bumpRootGen()
    this.rootGen = this.shared.rootGen
  }

  private refuseWhileShared(what: string): void {
    if (this.shared.othersAttached(this.chunks.slot)) {
      throw new HeapSharedError(`heap: ${what} while ${this.shared.attachedCount() - 1} other heap(s) are attached (worker_threads); ` +
        'close the attached heaps first')
    }
  }

  private constructor(region: Region, source: string, tracerOption: TracerOption | undefined, owner: string | undefined,
    parallel?: Pick<ParallelRecovery, 'workers' | 'tracerModule'>, attached?: Attached) {
    const t0 = now()
    this.region = region
    this.readOnly = region.kind === 'snapshot'
    this.tracerOption = tracerOption
    this.deferredWriteBack = region.writeBack === 'at-drain'
    const mem = (this.mem = new Memory(region))
    // 1. Verify the superblock; everything up to the first write below only reads.
    const layout = (this.layout = readSuperblock(mem, source))
    checkOwner(layout, owner, source)
    mem.setHeapEnd(layoutEnd(layout))
    // mmap: address space for the heap's maxSize, mapped once, so that growth keeps the buffer (mmap-region.ts).
    if (region.canGrow && region.reserve?.(layout.dataOff + layout.maxChunks * layout.chunkSize)) mem.refresh()
    const classCount = new SizeClasses(layout.chunkSize).count
    this.shared = attached?.space ?? new SharedSpace(layout, classCount, undefined, mem.wide)
    this.ownsRegion = attached?.ownsRegion ?? true
    this.chunks = new ChunkSpace(mem, layout, readChunkCount(mem), (n) => this.grow(n), () => this.drain(), this.shared,
      attached?.slot ?? OPENER_SLOT)
    this.rootTable = new RootTable(mem, layout)
    this.log = new UndoLog(mem, layout)
    if (attached) {
      // The sharing heap recovered the file and keeps the chunk state: read the roots, nothing more.
      this.recovery = {
        clean: true, ms: 0, liveBlocks: 0, liveBytes: 0, reclaimedBlocks: 0, reclaimedBytes: 0, rolledBackTransaction: false,
        releasedChunks: 0, tracing: 'none', reason: 'clean', stalePointers: 0, staleRoots: [], markingThreads: 0,
      }
      // Chunks the sharing heap claimed before this attach may not be drained yet, and this
      // heap's drains do not cover its flushes: the table is made durable once, here.
      region.flush(layout.chunkTableOff, layout.maxChunks * F.CHUNK_ENTRY_SIZE)
      region.drain()
      this.rootGen = -1
      this.syncRoots()
      this.log.resume()
      this.fast = this.chunks
      return
    }
    const inUse = loadChunkTable(mem, layout, this.chunks, source)
    const dataEnd = layout.dataOff + this.chunks.chunkCount * layout.chunkSize
    const pending = this.log.pending()
    const entries = pending ? this.log.scan(layout.rootTableOff, dataEnd, source) : []
    const closedCleanly = isClean(mem) && !pending
    const clean = closedCleanly && cleanStateConsistent(mem, layout, this.chunks, inUse, source)
    const report: RecoveryReport = (this.recovery = {
      clean, ms: 0, liveBlocks: 0, liveBytes: 0, reclaimedBlocks: 0, reclaimedBytes: 0,
      rolledBackTransaction: false, releasedChunks: 0, tracing: 'none',
      reason: clean ? 'clean' : closedCleanly ? 'inconsistent-clean-state' : 'crash',
      stalePointers: 0, staleRoots: [], markingThreads: 0,
    })
    // The table only decodes the slots; whether a root's target is a block is judged below,
    // where a stale root (its block freed while still a root) is dropped, not fatal.
    const anyTarget = (): boolean => true
    if (!pending) this.rootTable.load(anyTarget, source)

    if (clean) {
      adoptClean(mem, this.chunks, inUse)
      // Open marks the heap dirty durably before the first mutation; stale roots are dropped
      // after it (in the same drain).
      writeState(mem, F.STATE_DIRTY)
      region.flush(F.SB_STATE, 8)
      dropStaleRoots(this.rootTable, (p) => this.chunks.allocatedSize(p) > 0, report)
      region.drain()
    } else {
      writeState(mem, F.STATE_DIRTY)
      region.flush(F.SB_STATE, 8)
      // 2. Roll back the unfinished transaction.
      if (pending) {
        this.log.restore(entries)
        region.drain()
        this.log.adoptActiveAsCommitted()
        region.drain()
        report.rolledBackTransaction = true
        this.rootTable.load(anyTarget, source)
      }
      // 3-4. Drop stale roots; mark from every other root (stale fields are nulled); sweep.
      dropStaleRoots(this.rootTable, (p) => this.chunks.blockSize(p) > 0, report)
      const tracer = this.tracer(true)
      report.tracing = tracer ? 'precise' : 'conservative'
      markAndSweep(mem, layout, this.chunks, this.rootTable.pointers(), tracer, report, parallel && {
        ...parallel, fd: region instanceof MmapRegion ? region.fd : null, roots: this.rootTable.entries(), repair: (at, lo, hi) => this.repairWord(at, lo, hi),
      })
      // 5. Persist the result: released chunk entries, dropped roots, nulled fields.
      this.drain()
    }
    this.log.resume()
    this.chunks.resetFreeHint()
    report.liveBlocks = this.chunks.liveBlocks
    report.liveBytes = this.chunks.used
    report.ms = now() - t0
    this.fast = this.readOnly ? null : this.chunks
  }

  // ── views ────────────────────────────────────────────────────────────────
  /** The layer that formatted the heap ('' for a raw allocator heap). */
  get owner(): string { return this.layout.owner }
  /** The current view of the region (replaced when the heap grows). */
  get bytes(): Uint8Array { return this.mem.bytes }
  /**
   * The heap in segments of 4 GiB (one segment, the same view as `bytes`, up to 4 GiB): the
   * byte at offset p is `segments[Math.floor(p / 2 ** 32)][p >>> 0]`. A block never crosses a
   * segment boundary, so one view serves a whole block. Replaced when the heap grows (onGrow).
   */
  get segments(): readonly Uint8Array[] { return this.mem.seg8 }
  /** The size the heap may grow to (its layout's end); over 4 GiB it is a wide heap (format version 4). */
  get maxSize(): number { return layoutEnd(this.layout) }
  get closed(): boolean { return this.isClosed }
  /** Whether an I/O error left the heap unusable until it is reopened (see HeapFailedError). */
  get failed(): boolean { return this.failure !== null }
  get inTransaction(): boolean { return this.txDepth > 0 }
  /** Counts top-level transactions begun since open: tells one transaction from the next. */
  get transactionSerial(): number { return this.txSerial }
  /** Whether each snapshot drains (mmap, NVM) or only the commit does (the file backend). */
  get snapshotDrains(): boolean { return !this.deferredWriteBack }
  /** Bytes of the undo log: what one transaction may snapshot (each snapshot costs its bytes plus a 24-byte header). */
  get undoLogBytes(): number { return this.layout.logSize }
  /** How many snapshots of `length` bytes each one transaction can hold (its budget, for structures that size their batches). */
  snapshotCapacity(length: number): number {
    if (!(Number.isSafeInteger(length) && length > 0)) throw new ArgumentError(`heap: snapshotCapacity(${String(length)}): a length must be a positive integer`)
    return Math.floor((this.layout.logSize - F.LOG_HEADER_SIZE) / (F.LOG_ENTRY_HEADER + ((length + 7) & ~7)))
  }
  /** Usable bytes of allocated blocks (what stats().used says, without the whole-heap walk). */
  get usedBytes(): number { return this.chunks.used }
  /** Offset of the first chunk: every block lies at or past it. */
  get dataOffset(): number { return this.layout.dataOff }
  /** The largest small size; larger requests take whole chunks. */
  get maxSmallSize(): number { return this.chunks.classes.maxSmall }

  // ── allocation ───────────────────────────────────────────────────────────
  /** A zero-filled block of at least `size` bytes; its offset (never 0). Small sizes write nothing durable. */
  alloc(size: number): number {
    // The fast path (a small size, outside transactions) stays small so that callers inline it.
    const fast = this.fast
    if (fast !== null) {
      const p = fast.allocSize(size)
      if (p >= 0) return p
    }
    return this.allocSlow(size)
  }

  private allocSlow(size: number): number {
    this.checkWritable('alloc')
    if (!(size >= 0 && size <= 2 ** 32)) throw new ArgumentError(`heap: alloc(${size}): size must be a number of bytes from 0 to 4 GiB`)
    const classes = this.chunks.classes
    const p = size <= classes.maxSmall ? this.chunks.allocSmall(classes.classOf(size || 1)) : this.chunks.allocLarge(size)
    if (this.txDepth > 0) this.noteTxAlloc(p)
    return p
  }

  /**
   * Frees a block; inside a transaction the free happens at commit, except for a block
   * allocated in the same transaction: nothing before the transaction can reach it and a
   * rollback would free it anyway, so it is freed now (and can be reused in the transaction).
   */
  free(ptr: number): void {
    const fast = this.fast
    if (fast === null || !fast.freeFast(ptr)) this.freeSlow(ptr)
  }

  private freeSlow(ptr: number): void {
    this.checkWritable('free')
    this.chunks.validate(ptr, 'free')
    if (this.txDepth > 0) {
      if (this.isTxAlloc(ptr)) {
        const g = Math.floor((ptr - this.layout.dataOff) / 16)
        this.txAllocBits[Math.floor(g / 32)] &= ~(1 << (g & 31)) // the rollback and the commit skip it now
        this.chunks.free(ptr)
        return
      }
      if (this.txFrees.has(ptr)) throw new InvalidPointerError(`heap: free(${ptr}): freed twice in this transaction`)
      this.txFrees.add(ptr)
      return
    }
    this.chunks.free(ptr)
  }

  /** Usable bytes of the allocated block at ptr. */
  usableSize(ptr: number): number {
    this.checkUsable()
    return this.chunks.validate(ptr, 'usableSize')
  }

  /** Whether ptr is the start of an allocated block. */
  isAllocated(ptr: number): boolean {
    this.checkUsable()
    return typeof ptr === 'number' && this.chunks.allocatedSize(ptr) > 0
  }

  /** Start of the allocated block holding byte p, or −1. */
  blockContaining(p: number): number { return this.chunks.blockContaining(p) }

  /** Makes [ptr, ptr+length) durable: flush + drain now; inside a transaction, at commit. */
  persist(ptr: number, length: number): void {
    this.checkWritable('persist')
    this.checkRange(ptr, length, 'persist')
    if (this.txDepth > 0) {
      this.txFlush.push(ptr, length)
      return
    }
    this.region.flush(ptr, length)
    this.drain()
  }

  /** Schedules write-back of a range without waiting (a later drain makes it durable). */
  flush(ptr: number, length: number): void {
    this.checkRange(ptr, length, 'flush')
    this.region.flush(ptr, length)
  }

  /**
   * Whether a chunk was claimed since the last drain (its entry is flushed, not yet durable).
   * Publishing a block of it then needs a drain first. A structure that publishes a block in
   * the same drain that writes its bytes (a record: pobj) drains first while this is true.
   */
  get chunkClaimsUndrained(): boolean { return this.chunks.claimsUndrained }

  /** Waits until everything flushed so far is durable. */
  drain(): void {
    this.region.drain()
    this.chunks.afterDrain()
  }

  // ── roots ────────────────────────────────────────────────────────────────
  /** Binds `name` to ptr (0 removes it). Durable when it returns; inside a transaction, at commit. */
  setRoot(name: string, ptr: number): void {
    this.checkWritable('setRoot')
    if (this.txDepth > 0) return this.setRootLocked(name, ptr)
    this.lockHeap()
    try {
      this.syncRoots()
      this.setRootLocked(name, ptr)
    } finally { this.unlockHeap() }
  }

  private setRootLocked(name: string, ptr: number): void {
    const encoded = RootTable.encodeName(name)
    if (ptr !== 0) this.chunks.validate(ptr, 'setRoot')
    let slot = this.rootTable.slotOf(name)
    if (slot < 0 && ptr === 0) return
    if (this.txDepth > 0) {
      // The whole slot is logged: a slot freed earlier in this transaction may be reused here,
      // and a rollback must give it back its old name as well as its pointer.
      const fresh = slot < 0
      if (fresh) slot = this.rootTable.freeSlot(name)
      const off = this.rootTable.slotOff(slot)
      this.snapshot(off, F.ROOT_SLOT_SIZE)
      this.txFlush.push(off, F.ROOT_SLOT_SIZE)
      this.txRootsChanged = true
      if (fresh) this.rootTable.writeName(slot, encoded, false) // snapshotted: flushed at commit, after the log
      this.rootTable.writePointer(name, slot, ptr, false)
      return
    }
    if (slot < 0) {
      slot = this.rootTable.freeSlot(name)
      this.rootTable.writeName(slot, encoded)
    }
    this.drain() // what the root will reach, and the name, are durable first
    this.rootTable.writePointer(name, slot, ptr) // commits
    this.rootsChanged()
    this.drain()
  }

  /** The pointer bound to `name`, or 0. */
  getRoot(name: string): number {
    this.checkUsable()
    if (this.shared.markedShared) this.syncRoots()
    return this.rootTable.get(name)
  }

  roots(): Array<[string, number]> {
    this.checkUsable()
    if (this.shared.markedShared) this.syncRoots()
    return this.rootTable.entries()
  }

  // ── transactions ─────────────────────────────────────────────────────────
  /**
   * Runs fn as one failure-atomic section: after a crash, all of its snapshotted
   * changes, allocations, frees and root changes took effect, or none did.
   * A throw rolls back and rethrows. Nested calls join the outer transaction.
   * Drains: one per snapshot and two at commit; on an 'at-drain' region (the file
   * backend) three at commit and none per snapshot. One if nothing was snapshotted.
   * Inside, do not flush ranges you snapshotted: `persist` waits for the commit.
   */
  transaction<T>(fn: () => T): T {
    this.checkWritable('transaction')
    if (this.txDepth > 0) {
      this.txDepth++
      try { return fn() } finally { this.txDepth-- }
    }
    this.lockHeap()
    this.txDepth = 1
    this.fast = null
    this.txSerial++
    let result: T
    try {
      if (this.shared.markedShared) {
        // Another heap may have run transactions and changed roots since this one's last.
        this.log.resume()
        this.syncRoots()
      }
      result = fn()
      if (result instanceof Promise) throw new TransactionError('heap: a transaction function must be synchronous (it returned a Promise)')
    } catch (e) {
      this.abortOrFail(e)
      throw e
    }
    this.commit()
    return result
  }

  /** Logs the current bytes of [ptr, ptr+length) so a crash or a throw restores them. Drains. */
  snapshot(ptr: number, length: number): void {
    if (this.txDepth === 0) throw new TransactionError('heap: snapshot() outside a transaction')
    this.checkRange(ptr, length, 'snapshot')
    if (length === 0 || this.txSnapshots.get(ptr)! >= length) return
    const block = this.chunks.blockContaining(ptr)
    // A range inside one block allocated in this transaction needs no log: a rollback frees
    // the block. A range that runs past that block is logged whole.
    if (block >= 0 && this.isTxAlloc(block) && ptr + length <= block + this.chunks.allocatedSize(block)) return
    this.log.append(ptr, length)
    // The old bytes must be durable before the new ones can reach media. On a region whose
    // stores reach media only through flush + drain ('at-drain'), commit orders that instead.
    if (!this.deferredWriteBack) this.drain()
    this.txSnapshots.set(ptr, length)
  }

  /**
   * Commit, in order:
   *   1. ('at-drain' regions, if anything was snapshotted) drain: the undo entries, alone
   *   2. flush every snapshotted range, every block allocated inside and every persisted range; drain
   *   3. store committedTx (commits); drain
   *   4. the frees deferred to commit
   * A drain that fails in steps 1-2 leaves the transaction uncommitted: it is rolled back and
   * CommitFailedError says so. One that fails in step 3 leaves its outcome unknown until the
   * file is read again: the heap fails (HeapFailedError) and the next open settles it.
   */
  private commit(): void {
    const snapshots = this.log.entries
    try {
      if (snapshots > 0 || this.txAllocs.length > 0 || this.txFlush.length > 0) {
        // 'at-drain': the snapshots were not drained one by one; the undo entries go first, alone
        // (the changed data has not been flushed, so it cannot reach media with them).
        if (this.deferredWriteBack && snapshots > 0) this.drain()
        for (const [p, len] of this.txSnapshots) this.region.flush(p, len)
        for (const p of this.txAllocs) if (this.isTxAlloc(p)) this.region.flush(p, this.chunks.allocatedSize(p))
        for (let i = 0; i < this.txFlush.length; i += 2) this.region.flush(this.txFlush[i], this.txFlush[i + 1])
        this.drain()
      }
    } catch (e) {
      this.abortOrFail(e)
      throw new CommitFailedError(`heap: the transaction did not commit (${(e as Error).message}); it was rolled back`, { cause: e })
    }
    if (snapshots > 0) {
      this.log.markCommitted() // commits
      try {
        this.drain()
      } catch (e) {
        this.endTransaction()
        this.fail(e, 'the commit of a transaction could not be confirmed durable')
      }
    }
    const frees = this.txFrees
    this.endTransaction()
    for (const p of frees) this.chunks.free(p)
  }

  /** Rolls the open transaction back; if a drain fails on the way, the heap fails. */
  private abortOrFail(cause: unknown): void {
    try {
      this.abort()
    } catch (e) {
      this.endTransaction()
      this.fail(e, `a transaction could not be rolled back durably (after: ${(cause as Error)?.message ?? String(cause)})`)
    }
  }

  /**
   * Abort, in order: copy the logged bytes back; drain; store committedTx (ends the log); drain;
   * free the blocks allocated inside.
   */
  private abort(): void {
    const entries = this.log.ownEntries()
    if (entries.length > 0) {
      this.log.restore(entries)
      this.drain()
      this.log.markCommitted()
      this.drain()
    }
    // The blocks still allocated by the transaction (one freed inside it, and perhaps allocated
    // again, is listed more than once; its bit says whether it is held now, and is cleared here).
    const allocs = this.txAllocs.filter((p) => {
      if (!this.isTxAlloc(p)) return false
      const g = Math.floor((p - this.layout.dataOff) / 16)
      this.txAllocBits[Math.floor(g / 32)] &= ~(1 << (g & 31))
      return true
    })
    const rootsChanged = this.txRootsChanged
    this.endTransaction()
    for (const p of allocs) this.chunks.free(p)
    if (rootsChanged) this.rootTable.load(() => true, 'abort') // targets are judged by open and check(), not here
  }

  /** From now on every call throws HeapFailedError; close() releases the file as it is (dirty). */
  private fail(cause: unknown, what: string): never {
    const detail = (cause as Error)?.message ?? String(cause)
    this.fast = null
    this.failure = new HeapFailedError(`heap: ${what} (${detail}); this heap can no longer be used: close it and open ` +
      'it again (recovery keeps each transaction whole or not at all)', { cause })
    throw this.failure
  }

  private noteTxAlloc(p: number): void {
    const g = Math.floor((p - this.layout.dataOff) / 16)
    if (Math.floor(g / 32) >= this.txAllocBits.length) {
      const bigger = new Uint32Array(Math.floor((this.chunks.chunkCount * this.layout.chunkSize) / 512) + 1) // not >>> 9: past 4 GiB it wraps
      bigger.set(this.txAllocBits)
      this.txAllocBits = bigger
    }
    this.txAllocBits[Math.floor(g / 32)] |= 1 << (g & 31)
    this.txAllocs.push(p)
  }

  private isTxAlloc(block: number): boolean {
    const g = Math.floor((block - this.layout.dataOff) / 16)
    return Math.floor(g / 32) < this.txAllocBits.length && (this.txAllocBits[Math.floor(g / 32)] & (1 << (g & 31))) !== 0
  }

  private endTransaction(): void {
    const wasOpen = this.txDepth > 0
    this.txDepth = 0
    if (wasOpen) {
      if (this.txRootsChanged) this.rootsChanged()
      this.unlockHeap()
    }
    this.fast = this.readOnly || this.failure ? null : this.chunks
    const bits = this.txAllocBits
    if (this.txAllocs.length > bits.length >>> 3) bits.fill(0)
    else for (const p of this.txAllocs) { const g = Math.floor((p - this.layout.dataOff) / 16); bits[Math.floor(g / 32)] = 0 }
    this.txAllocs = []
    this.txFrees = new Set()
    this.txFlush = []
    this.txSnapshots.clear()
    this.txRootsChanged = false
  }

  // ── collection ───────────────────────────────────────────────────────────
  /**
   * Frees every allocated block not reachable from the named roots or from `roots`, tracing
   * with `tracer` (precise) or, without one, conservatively. Writes nothing durable (a chunk
   * left empty is released by one flushed store): a crash during it is an ordinary crash.
   * Outside a transaction only (the undo log's old bytes may hold pointers a rollback would
   * bring back): TransactionError inside one.
   */
  collect(opts: { roots?: Iterable<number>; tracer?: Tracer } = {}): CollectReport {
    this.checkWritable('collect')
    if (this.txDepth > 0) throw new TransactionError('heap: collect() inside a transaction; call it after the transaction ends')
    this.refuseWhileShared('collect()')
    const roots = this.rootTable.pointers()
    if (opts.roots) for (const p of opts.roots) roots.push(p)
    return collect(this.mem, this.layout, this.chunks, roots, opts.tracer ?? null)
  }

  // ── inspection ───────────────────────────────────────────────────────────
  /** Calls fn for every allocated block, in address order. */
  forEachBlock(fn: (ptr: number, size: number) => void): void {
    this.checkUsable()
    this.chunks.forEachBlock(fn)
  }

  /** Exact figures, also right after a crash recovery. */
  stats(): HeapStats {
    this.checkUsable()
    const c = this.chunks
    // Blocks other heaps freed in this heap's runs count as live until taken from its stack.
    if (!this.readOnly && this.shared.head(c.slot) !== 0) c.drainRemote()
    const capacity = c.chunkCount * this.layout.chunkSize
    let freeChunks = 0
    for (let i = 0; i < c.chunkCount; i++) if (c.kind[i] === C_FREE || c.kind[i] === C_QUARANTINE) freeChunks++
    return {
      size: this.region.size, capacity, used: c.used, free: capacity - c.used, liveBlocks: c.liveBlocks,
      largestFree: c.largestFree(), chunks: c.chunkCount, freeChunks, roots: this.rootTable.count,
    }
  }

  /** Verifies every invariant of the heap (expensive: whole-heap). */
  check(): CheckReport {
    this.checkUsable()
    // Under the heap lock: no other heap is inside a transaction (the log is settled). Other
    // heaps' allocations are not stopped: check a shared heap while its workers are idle.
    this.lockHeap()
    try {
      if (this.shared.markedShared) this.syncRoots()
      return checkHeap(this.mem, this.layout, this.chunks, this.rootTable, this.log, this.txDepth > 0, this.tracer())
    } finally { this.unlockHeap() }
  }

  /**
   * The tracer of the heap as it is now (a factory reads the heap when called), or null.
   * `recovering`: the factory may repair what the crash left half-written (TraceContext.repair).
   */
  private tracer(recovering = false): Tracer | null {
    const t = this.tracerOption
    if (typeof t !== 'function') return this.segmentedTracer(t ?? null)
    const mem = this.mem
    const repair = (at: number, lo: number, hi: number): void => this.repairWord(at, lo, hi)
    return this.segmentedTracer(t(recovering
      ? { bytes: mem.bytes, segments: mem.seg8, getRoot: (name) => this.rootTable.get(name), repair }
      : { bytes: mem.bytes, segments: mem.seg8, getRoot: (name) => this.rootTable.get(name) }))
  }

  /** A heap over 4 GiB reads blocks in segments: a tracer must say it indexes them so (recovery.ts Tracer.segmented). */
  private segmentedTracer(t: Tracer | null): Tracer | null {
    if (t === null || !this.mem.wide || t.segmented === true) return t
    throw new ArgumentError('heap: this heap may pass 4 GiB (its blocks are read in 4 GiB segments), and the tracer does not ' +
      'declare segmented: true (it would index bytes[ptr] past the segment and miss every pointer); nothing was traced')
  }

  /** TraceContext.repair: stores an aligned 8-byte word of the data and flushes it. */
  private repairWord(at: number, lo: number, hi: number): void {
    this.checkRange(at, 8, 'recovery repair')
    if ((at & 7) !== 0) throw new ArgumentError(`heap: recovery repair(${at}): not an aligned 8-byte word`)
    const u = this.mem.u32At(at)
    u[at >>> 2] = lo
    u[(at >>> 2) + 1] = hi
    this.region.flush(at, 8)
  }

  // ── shutdown ─────────────────────────────────────────────────────────────
  /**
   * Clean shutdown, in order: prove each run's bitmap matches its count (recovery.ts
   * cleanStateFaults: a clean open trusts it); write each run's live count into its entry; store the hashes of
   * the saved state (chunk table; live counts and run bitmaps: recovery.ts cleanStateHashes);
   * flush those and the bitmap; drain; store state = CLEAN (commits); drain; close the region.
   */
  close(): void {
    if (this.isClosed) return
    if (this.attached) {
      // Detach: this heap's runs and cached blocks are handed back; nothing durable is written.
      if (this.txDepth > 0) throw new TransactionError('heap: close() inside a transaction')
      this.fast = null
      this.chunks.detach()
      this.isClosed = true
      if (this.exitHook) process.removeListener('exit', this.exitHook)
      if (this.ownsRegion) this.region.close()
      return
    }
    if (!this.readOnly) {
      if (!this.failure && this.txDepth > 0) throw new TransactionError('heap: close() inside a transaction')
      this.shared.lockChunks()
      try {
        this.refuseWhileShared('close() of the heap that shared the file')
        this.shared.markOpenerClosed()
      } finally { this.shared.unlockChunks() }
      if (!this.failure) this.chunks.adoptAll()
    }
    this.fast = null
    if (this.failure || this.readOnly) {
      // Nothing more is written: the file stays dirty, and the next open recovers it.
      this.isClosed = true
      this.region.close()
      return
    }
    if (this.txDepth > 0) throw new TransactionError('heap: close() inside a transaction')
    const c = this.chunks
    const fault = cleanStateFaults(c)
    if (fault !== null) {
      this.isClosed = true
      this.region.close()
      throw new HeapCorruptError(`heap: close(): ${fault}; the file is left dirty, and the next open rebuilds the bitmap by tracing`)
    }
    const u = this.mem.u32
    for (let i = 0; i < c.chunkCount; i++) {
      if (c.kind[i] !== C_RUN) continue
      u[(c.entryOff(i) >>> 2) + 1] = c.classes.perChunk[c.cls[i]] - c.nFree[i]
      this.region.flush(c.entryOff(i), 8)
    }
    const inUse: number[] = []
    for (let i = 0; i < c.chunkCount; i++) if (c.kind[i] === C_RUN || c.kind[i] === C_LARGE) inUse.push(i)
    const saved = cleanStateHashes(this.mem, this.layout, c.chunkCount, inUse)
    u[F.SB_TABLE_HASH >> 2] = saved.table
    u[F.SB_CACHE_HASH >> 2] = saved.cache
    this.region.flush(F.SB_TABLE_HASH, 8)
    const [off, len] = c.bitmapRange(0, c.chunkCount)
    this.region.flush(off, len)
    try {
      this.drain()
      writeState(this.mem, F.STATE_CLEAN)
      this.region.flush(F.SB_STATE, 8)
      this.region.drain()
    } catch (e) {
      this.isClosed = true
      this.region.close()
      throw new HeapFailedError(`heap: close() could not write the clean state (${(e as Error).message}); the file ` +
        'is released as it is, and the next open recovers it', { cause: e })
    }
    this.isClosed = true
    this.region.close()
  }

  /**
   * Writes a consistent copy of the heap to `path` (a new file: an existing one is never
   * overwritten) and syncs it; returns its size and the time taken. The copy is the heap as
   * it is between two operations: call it outside a transaction (TransactionError inside).
   * It is not marked clean, so its first open traces it once, as after a crash, and finds
   * exactly what this heap holds now. A failure (a full disk) or a crash leaves no file at
   * `path`, only at worst the copy being written beside it (`path.<pid>.<random>`; see new-file.ts).
   */
  backup(path: string): { bytes: number; ms: number } {
    this.checkUsable()
    if (this.txDepth > 0) throw new TransactionError('heap: backup() inside a transaction; call it after the transaction ends')
    this.refuseWhileShared('backup()')
    const t0 = now()
    if (!createWhole(path, this.mem.seg8, 'a backup', true)) {
      throw new RegionError(`heap: backup to ${path}: the file exists (a backup never overwrites one)`)
    }
    return { bytes: this.mem.size, ms: now() - t0 }
  }

  /**
   * Calls `listener` after every growth of the heap (when `heap.bytes` and the region's
   * buffer are replaced), so that layers holding views over the old buffer can refresh them.
   */
  onGrow(listener: () => void): void { this.growListeners.push(listener) }

  // ── internals ────────────────────────────────────────────────────────────
  /** Grows the region by at least n chunks, if it can. Order: the file grows; then chunkCount (commits). */
  private grow(n: number): boolean {
    const c = this.chunks
    if (!this.region.canGrow || c.chunkCount + n > this.layout.maxChunks) return false
    if (this.shared.othersAttached(c.slot)) return false // the other heaps' mappings would not follow
    let target = Math.min(this.layout.maxChunks, c.chunkCount + Math.max(n, Math.ceil(c.chunkCount / 2)))
    const oldSize = this.region.size
    for (;;) {
      try {
        this.region.grow(this.layout.dataOff + target * this.layout.chunkSize)
        break
      } catch (e) {
        if (!(e instanceof MakaluError)) throw e
        // A file system without room for the usual step may still hold what this request needs.
        if (e instanceof RegionFullError && target > c.chunkCount + n) { target = c.chunkCount + n; continue }
        return false
      }
    }
    this.mem.refresh()
    writeChunkCount(this.mem, target)
    this.region.flush(F.SB_CHUNK_COUNT, 8)
    this.drain()
    c.grewTo(target, Math.ceil((oldSize - this.layout.dataOff) / this.layout.chunkSize)) // the new bytes read as zero
    for (const listener of this.growListeners) listener()
    return true
  }

  /** A range callers may flush, persist or snapshot: inside the root table, or inside the chunks. */
  private checkRange(ptr: number, length: number, what: string): void {
    const l = this.layout
    const inRoots = ptr >= l.rootTableOff && ptr + length <= l.logOff
    const inChunks = ptr >= l.dataOff && ptr + length <= l.dataOff + this.chunks.chunkCount * l.chunkSize
    if (!(Number.isInteger(ptr) && Number.isInteger(length) && length >= 0 && (inRoots || inChunks))) {
      throw new ArgumentError(`heap: ${what}(${ptr}, ${length}): range outside the heap's data`)
    }
    if (length > 0 && Math.floor(ptr / F.SEGMENT_SIZE) !== Math.floor((ptr + length - 1) / F.SEGMENT_SIZE)) {
      throw new ArgumentError(`heap: ${what}(${ptr}, ${length}): range crosses a 4 GiB segment boundary (no block does)`)
    }
  }


  /** checkUsable, and a ReadOnlyError for `what` on a heap opened read-only. */
  private checkWritable(what: string): void {
    this.checkUsable()
    if (this.readOnly) {
      throw new ReadOnlyError(`heap: ${what}() on a heap opened read-only (a private copy of ${(this.region as SnapshotRegion).path}; nothing is written)`)
    }
  }

  private checkUsable(): void {
    if (this.isClosed) throw new HeapClosedError('heap: the heap is closed')
    if (this.failure) throw new HeapFailedError(this.failure.message, { cause: this.failure.cause })
  }
}
