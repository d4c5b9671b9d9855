/**
 * PHeap: a heap of persistent objects over the allocator's Heap.
 *
 * Crash guarantees (DESIGN.md §3-§6):
 * - `transaction(fn)`: every field write inside is logged (once per small block,
 *   else once per field); after a crash all of fn's writes, allocations, frees
 *   and root changes took effect, or none did. A throw rolls back and rethrows.
 * - A field write outside a transaction is failure-atomic on its own (one
 *   untorn store) and durable when it returns: store, flush, drain. In 'power'
 *   durability each such write costs an msync/fdatasync; group writes in a
 *   transaction (one snapshot drain per object plus two drains at commit).
 * - `new` outside a transaction writes the block and flushes it without
 *   draining; the first publishing store (a ref or array field, a root) drains
 *   first, so an object is always durable before anything points to it.
 * - After a crash, recovery keeps exactly the blocks reachable from the roots,
 *   traced precisely from the persisted type table (tracer.ts).
 *
 * Lifetime is reachability, as for JS objects: there is no delete. `gc()` (and the automatic
 * policy, see GcPolicy) frees every block not reachable from the named roots or from a handle
 * still alive in this process. Since nothing reachable is ever freed, a reference reads back
 * the object stored in it, or null: never another object.
 */
import * as fs from 'fs'
import { Heap, Durability, HeapClosedError, HeapFormatError, ArgumentError, Region, TransactionError, HeapSharedError, ShareToken } from '@makalu/allocator'
import { FieldTypeError, ForeignHandleError, FreedObjectError, TypeMismatchError, UnknownTypeError, SchemaMismatchError } from './errors'
import type { AllocHeap, AllocHeapStats, RecoveryReport, TraceContext } from './heap-port'
import { Class, ElementKind, ArrayValueKind } from './metadata-args'
import { Layout, layoutOf, isPersistentClass, stableNameOf } from './layout-builder'
import { TypeTable, TableHost } from './type-table'
import { TypeRegistry } from './type-registry'
import { Handle, HandleCtor, HandleHost, handleCtorOf, badValue } from './handles'
import { PArray, ArrayHost, createArray, createFixedArray, arrayBlockInfo, arrayDataSize, checkArrays } from './persistent-array'
import { UpgradePlan, ViewHost, viewCtorOf, convertValue } from './schema-evolution'
import { Migration, Progress, RecordHost, applyRecord, commitRecord } from './migration'
import { readFieldValue } from './stored-values'
import { checkValues } from './value-check'
import { stringEncoding, valueBlockSize, writeStringBlock, writeBytesBlock } from './value-blocks'
import { pobjTracer, pobjTracerModule, PreciseTracer } from './tracer'
import { settleRecordArray, SettleHost } from './record-blocks'
import { exportGraph, importGraph, PlainGraph } from './transform'
import {
  TAG_STRING, TAG_STRING16, TAG_ARRAY, TAG_ARRAY_HEAD, TAG_TYPE_TABLE, FIRST_TYPE_ID, ARRAY_HEADER_SIZE, STRING_HEADER_SIZE, ELEMENT_SIZE,
  CODE_KIND, ARR_ELEM, ARR_LENGTH, STR_LEN, RESERVED_ROOT_PREFIX, ABSENT_F64, writePtr, readPtr, arrayElements,
  TAG_FORWARD, TAG_BYTES, TAG_RECORD, RECORD_HEADER_SIZE, recordByteLength, forwardTarget, writeForwarder,
} from './object-format'

/** What `new` accepts: the class's own data members, each optional (methods are not fields). */
export type Init<T> = { [K in keyof T as T[K] extends (...args: never[]) => unknown ? never : K]?: T[K] }

export interface PHeapOptions {
  /** The @Persistent classes this program uses; checked against the heap's type table. */
  types?: Class[]
  /** Automatic collection: a policy, or false for none (then only gc() collects). Default: {}. */
  gc?: GcPolicy | false
  /**
   * Rewrites, before open returns, the objects stored in older layout versions of these
   * classes (changes the automatic rules can not make: migration.ts). Crash-atomic.
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  migrations?: Migration<any>[]
  /** Called as long work (a migration) advances. */
  onProgress?: (p: Progress) => void
}

/**
 * When to collect by itself: at an allocation or at the end of a transaction, once the bytes in
 * use have grown past the live bytes of the last collection by `growth` times those bytes and
 * by at least `minBytes` (as a JS engine sizes its next collection from the live heap).
 */
export interface GcPolicy {
  /** Default 1 (collect when the heap has doubled since the last collection). */
  growth?: number
  /** Default 8 MiB. */
  minBytes?: number
}

export interface GcStats {
  collections: number
  /** Total and last pause, in milliseconds. */
  totalMs: number
  lastMs: number
  /** Bytes freed by the last collection. */
  lastFreedBytes: number
}

export interface GcReport { ms: number; markedBlocks: number; freedBlocks: number; freedBytes: number }
export interface PHeapCreateOptions extends PHeapOptions {
  size: number
  maxSize?: number
  durability?: Durability
  chunkSize?: number
  logSize?: number
  rootCapacity?: number
  backend?: 'mmap' | 'file'
}
export interface PHeapOpenOptions extends PHeapOptions {
  durability?: Durability
  backend?: 'mmap' | 'file'
  /**
   * Threads that mark in a crash recovery (allocator `recoveryWorkers`): 1 (serial), n, or
   * 'auto' (default: several only for big heaps, mmap backend). Same result either way.
   */
  recoveryWorkers?: number | 'auto'
  /**
   * Open a private copy of the file: no lock, nothing ever written to the file (a recovery runs
   * in the copy); every write, and a class in `types` the heap does not know yet, is a ReadOnlyError.
   */
  readOnly?: boolean
}
export type PHeapCreateInOptions = Omit<PHeapCreateOptions, 'size' | 'durability' | 'backend'>
export type PHeapOpenInOptions = PHeapOptions

/** What pheap.share() returns: structured-cloneable, for PHeap.attach in another worker_thread of this process. */
export interface PHeapShareToken { readonly makaluPHeap: 1; readonly raw: ShareToken }
/** Attaching: the classes this worker uses (registered in the shared type table if new), and the gc policy while alone. */
export type PHeapAttachOptions = Pick<PHeapOptions, 'types' | 'gc'>
/** An object passed between workers of one shared heap (pheap.tokenOf / pheap.fromToken): plain data. */
export interface ObjectToken { readonly makaluObject: 1; readonly ptr: number; readonly tag: number }

export interface TypeStats { count: number; bytes: number }
export interface PHeapStats extends AllocHeapStats {
  /** Live objects and their block bytes, per stable name. */
  types: Record<string, TypeStats>
  strings: TypeStats
  /** Blocks of bytes values. */
  bytes: TypeStats
  /** Record blocks (of record arrays: PersistentMap entries, for example). */
  records: TypeStats
  arrays: TypeStats
  typeTable: TypeStats
  /** Old blocks of objects upgraded to a newer layout version (each forwards to the object's block). */
  forwarders: TypeStats
  gc: GcStats
}

/** Objects of at most this many bytes are snapshotted whole at their first write in a transaction. */
const WHOLE_BLOCK_LOG = 256
const ARRAY_VALUE_KINDS: readonly string[] = ['i32', 'u32', 'f64', 'i64', 'string', 'record']

/** What a crash recovery left for PHeap: the record arrays whose pointer-free records it did not read. */
export interface RecoverySink { unchecked: number[] }

/** pobj's tracer, keeping what a crash recovery (the trace given ctx.repair) left unchecked. */
function recoveryTracer(sink: RecoverySink): (ctx: TraceContext) => PreciseTracer {
  return (ctx) => {
    const t = pobjTracer(ctx, true) as PreciseTracer
    if (ctx.repair) sink.unchecked = t.uncheckedRecordArrays
    return t
  }
}

/**
 * pobj heaps over 4 GiB (wide: the allocator's 4 GiB segments) are read through one DataView of
 * the whole mapping and the segment views of each block; up to 64 GiB (README "Limits").
 */
const WIDE_LIMIT = 64 * 2 ** 30
const SEGMENT = 2 ** 32

function refuseWide(maxSize: number | undefined): void {
  if (typeof maxSize === 'number' && maxSize > WIDE_LIMIT) {
    throw new ArgumentError(`pobj: maxSize ${maxSize} is over 64 GiB; pobj heaps are at most 64 GiB (the allocator alone, ` +
      "@makalu/allocator's Heap on mmap, holds heaps up to 256 GiB); nothing was created")
  }
}

export class PHeap implements HandleHost, ArrayHost {
  /** @internal The current view (refreshed after every allocation). */
  dv!: DataView
  private u8!: Uint8Array
  private buf!: Buffer
  /** Heaps over 4 GiB only: each 4 GiB segment as bytes and as a Buffer (index p >>> 0); [] in a heap of one segment. */
  private seg8: Uint8Array[] = []
  private segBuf: Buffer[] = []
  /** The region size the views were made for. */
  private viewSize = -1
  /** @internal The heap may grow over 4 GiB (maxSize > 4 GiB): pointers have a high word; records and forwarders are refused. */
  readonly wide: boolean
  private readonly table: TypeTable
  private readonly registry: TypeRegistry
  /** Identity map: one handle per live block while anything holds it. Dead entries are swept when it doubles. */
  private readonly live = new Map<number, WeakRef<object>>()
  /** Record arrays whose pointer-free records the last crash recovery did not check (settleRecords). */
  private readonly unsettled: Set<number>
  private sweepAt = 1024
  private inTx = false
  private readonly txLogged = new Set<number>()
  private readonly txCreated: number[] = []
  /** ArrayHost.txNote: per-transaction notes of arrays (the length a transaction first found). */
  private readonly txNotes = new Map<number, number>()
  private readonly gcPolicy: Required<GcPolicy> | null
  private readonly gcStats: GcStats = { collections: 0, totalMs: 0, lastMs: 0, lastFreedBytes: 0 }
  /** Bytes in use after the last collection (or at open): the base of the automatic policy. */
  private liveAfterGc: number
  /** The block `new` is initialising: its writes need no log and no persist. */
  private initBlock = 0
  /** A block was flushed but not drained since: drain before publishing a pointer. */
  private pendingInit = false
  /** While a migration runs: the blocks it made, the only ones it may write (else null). */
  private migrationBlocks: Set<number> | null = null
  /** Objects upgraded in the open transaction: undone in memory if it rolls back. */
  private readonly txUpgrades: Array<{ h: Handle; from: number; to: number; proto: object }> = []

  /**
   * The owner tag pobj formats its heaps with: PHeap opens no other heap (a raw allocator
   * heap would be misread, and its crash recovery would free live data); the allocator opens
   * a pobj heap only when passed `{ owner: PHeap.OWNER }`.
   */
  static readonly OWNER = 'makalu.pobj'

  /** Creates a heap file and opens it. */
  static create(path: string, opts: PHeapCreateOptions): PHeap {
    const { types, gc, migrations, onProgress, ...heapOpts } = opts
    // Refuse bad classes and options before a file exists; a later refusal removes the file.
    checkGcPolicy(gc)
    for (const c of types ?? []) checkPersistentClass(c)
    refuseWide(heapOpts.maxSize)
    const heap = Heap.create(path, { ...heapOpts, owner: PHeap.OWNER, tracer: pobjTracer })
    try {
      return PHeap.wrap(heap, { types, gc, migrations, onProgress })
    } catch (e) {
      if (!heap.closed) heap.close()
      fs.rmSync(path, { force: true })
      throw e
    }
  }
  /** Opens a heap file, recovering it with the precise tracer if it was not closed cleanly. */
  static open(path: string, opts: PHeapOpenOptions = {}): PHeap {
    const { types, gc, migrations, onProgress, ...heapOpts } = opts
    const sink: RecoverySink = { unchecked: [] }
    const heap = Heap.open(path, { ...heapOpts, tracer: recoveryTracer(sink), tracerModule: pobjTracerModule, owner: PHeap.OWNER })
    return PHeap.wrap(heap, { types, gc, migrations, onProgress }, sink)
  }
  /** Formats a new heap over a region (a SimRegion in tests). */
  static createIn(region: Region, opts: PHeapCreateInOptions = {}): PHeap {
    const { types, gc, migrations, onProgress, ...heapOpts } = opts
    refuseWide(heapOpts.maxSize)
    return PHeap.wrap(Heap.createIn(region, { ...heapOpts, owner: PHeap.OWNER, tracer: pobjTracer }), { types, gc, migrations, onProgress })
  }
  /** Opens the heap of a region, recovering it with the precise tracer if needed. */
  static openIn(region: Region, opts: PHeapOpenInOptions = {}): PHeap {
    const sink: RecoverySink = { unchecked: [] }
    return PHeap.wrap(Heap.openIn(region, { tracer: recoveryTracer(sink), owner: PHeap.OWNER }), opts, sink)
  }
  /**
   * Wraps an open allocator heap; on a typed error the heap is closed again. A heap pobj did not format is refused, left open.
   * @param recovered what the recovery of `heap` left unchecked (PHeap.open passes it); a heap recovered by another
   *   tracer is wrapped with none, so its records must not have been torn.
   */
  static wrap(heap: AllocHeap, opts: PHeapOptions = {}, recovered?: RecoverySink): PHeap {
    if (heap.owner !== PHeap.OWNER) {
      throw new HeapFormatError(`pobj: the heap belongs to ${heap.owner ? `'${heap.owner}'` : 'no layer (a raw allocator heap)'}, not to '${PHeap.OWNER}'`)
    }
    if (heap.maxSize > WIDE_LIMIT) {
      if (!heap.closed && !heap.inTransaction) heap.close()
      throw new HeapFormatError(`pobj: the heap may grow to ${heap.maxSize} bytes, over 64 GiB; ` +
        'pobj reads heaps of at most 64 GiB (nothing was written)')
    }
    try {
      return new PHeap(heap, opts, recovered?.unchecked ?? [])
    } catch (e) {
      if (!heap.closed && !heap.inTransaction) heap.close()
      throw e
    }
  }

  private constructor(readonly raw: AllocHeap, opts: PHeapOptions, uncheckedRecords: number[]) {
    this.wide = raw.maxSize > SEGMENT
    this.gcPolicy = checkGcPolicy(opts.gc ?? {})
    this.liveAfterGc = raw.usedBytes
    this.refresh()
    raw.onGrow(() => this.refresh()) // a grow by anyone's alloc (raw users too) replaces the buffer
    this.unsettled = new Set(uncheckedRecords)
    // An attached heap reads and registers types under the heap lock: others may be appending.
    const locked = <T>(fn: () => T): T => (raw.attached && raw.exclusive ? raw.exclusive(fn) : fn())
    this.table = locked(() => TypeTable.load(this.tableHost()))
    this.registry = new TypeRegistry(this.table, (ids) => this.countObjects(ids), (ids) => this.table.retire(ids))
    // A migration committed before a crash is finished first (migration.ts, step 5).
    // The old blocks' own strings were kept by recovery (the record traced them): collect them.
    if (!raw.readOnly && !raw.attached && applyRecord(this.recordHost()) > 0) this.collectFromRoots()
    const migrations = checkMigrations(opts.migrations)
    if (raw.attached && migrations.length > 0) throw new HeapSharedError('pobj: migrations run at the open of the heap that shares the file, not at an attach')
    locked(() => this.registerTypes(opts, migrations))
  }

  /** Checks the classes of `types` and migrations against the type table; registers and migrates (at open). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  private registerTypes(opts: PHeapOptions, migrations: Migration<any>[]): void {
    if (this.raw.attached) this.table.reload()
    for (const m of migrations) if (m.from !== undefined) this.registry.alias(m.from, m.to)
    const types = [...(opts.types ?? []), ...migrations.map((m) => m.to).filter((c) => !(opts.types ?? []).includes(c))]
    // Check every class first, so a mismatch leaves the heap as it was.
    // The classes of `types` and those they refer to (refs, ref arrays), transitively.
    const layouts = withTargets(types.map(checkPersistentClass))
    for (const l of layouts) this.registry.claim(l)
    const migrating = new Set(migrations.map((m) => m.from ?? stableNameOf(m.to)))
    const toMigrate: UpgradePlan[] = []
    const empty: number[] = []
    for (const l of layouts) {
      const v = this.registry.vet(l, migrating.has(l.stableName))
      toMigrate.push(...v.toMigrate)
      empty.push(...v.empty)
    }
    for (const m of migrations) {
      if (m.from === undefined || m.from === stableNameOf(m.to)) continue
      const l = layoutOf(m.to)
      for (const e of this.table.versionsOf(m.from)) if (!e.retired) toMigrate.push(this.registry.planFor(e, l))
    }
    // Then write: retire versions with no object left, register the current layouts, migrate.
    if (empty.length > 0) this.table.retire(empty)
    for (const l of layouts) { this.registry.markVetted(l.stableName); this.typeIdOf(l) }
    if (toMigrate.length > 0) this.migrate(toMigrate, migrations, opts.onProgress)
  }

  // ── objects ──────────────────────────────────────────────────────────────
  /** Allocates an object of `cls`, sets the fields of `init` (undefined values skipped), returns its handle. The constructor is not run. */
  new<T extends object>(cls: Class<T>, init?: Init<T>): T {
    this.checkOpen()
    this.maybeCollect()
    const layout = this.registry.layoutFor(cls)
    const keys = init ? Object.keys(init).filter((k) => (init as Record<string, unknown>)[k] !== undefined) : []
    for (let i = 0; i < keys.length; i++) {
      if (!layout.byName.has(keys[i])) throw new FieldTypeError(`pobj: ${cls.name} has no persistent field '${keys[i]}'`)
    }
    const typeId = this.typeIdOf(layout)
    const p = this.allocBlock(layout.size)
    this.dv.setUint32(p, typeId, true)
    for (const off of layout.absentSlots) this.dv.setFloat64(p + off, ABSENT_F64, true) // optional numbers start absent
    for (const [off, v] of layout.enumDefaults) this.dv.setInt32(p + off, v, true) // an enum starts as a member
    const h = new (handleCtorOf(layout) as HandleCtor)(this, p) as unknown as T
    this.remember(p, h)
    if (keys.length > 0) this.initialise(p, h, () => { for (const k of keys) (h as Record<string, unknown>)[k] = (init as Record<string, unknown>)[k] })
    if (!this.inTx) this.flushNew(p, layout.size)
    return h
  }

  /**
   * A growable persistent array (push, pop, splice: persistent-array.ts) of `length` zero
   * values (0, 0n, '', null) or of `values`, of a number kind, strings, or refs to `cls`.
   */
  newArray<C extends object>(element: Class<C>, values: ArrayLike<C>): PArray<C>
  newArray<C extends object>(element: Class<C>, lengthOrValues: number | ArrayLike<C | null>): PArray<C | null>
  newArray(element: 'i64', lengthOrValues: number | ArrayLike<bigint>): PArray<bigint>
  newArray(element: 'i32' | 'u32' | 'f64', lengthOrValues: number | ArrayLike<number>): PArray<number>
  newArray(element: 'string', lengthOrValues: number | ArrayLike<string>): PArray<string>
  newArray<T = unknown>(element: ArrayValueKind | Class, lengthOrValues: number | ArrayLike<T>): PArray<T> {
    this.checkOpen()
    this.maybeCollect()
    const [kind, elemClass, elemTypeId] = this.arrayElement(element, 'newArray')
    const a = createArray<T>(this, kind, elemClass, elemTypeId, lengthOrValues)
    this.remember(a._$ptr, a)
    return a
  }

  /**
   * A fixed-length array (zero / null filled), for data structures that manage their own slot
   * arrays through the block API (its block is a plain TAG_ARRAY block: object-format.ts).
   * get, set and reading as a PArray; push, pop, splice and `length =` throw FixedArrayError.
   */
  newFixedArray<C extends object>(element: Class<C>, length: number): PArray<C | null>
  newFixedArray(element: 'i64', length: number): PArray<bigint>
  newFixedArray(element: 'i32' | 'u32' | 'f64', length: number): PArray<number>
  newFixedArray(element: 'string', length: number): PArray<string>
  /** A record array, every element empty: its owner publishes records in it (record-blocks.ts). */
  newFixedArray(element: 'record', length: number): PArray<Uint8Array | null>
  newFixedArray<T = unknown>(element: ArrayValueKind | Class, length: number): PArray<T> {
    this.checkOpen()
    this.maybeCollect()
    const [kind, elemClass, elemTypeId] = this.arrayElement(element, 'newFixedArray')
    if (kind === 'record' && this.wide) {
      throw new ArgumentError('pobj: newFixedArray: record arrays are not supported in heaps over 4 GiB yet (a record element holds a 32-bit pointer)')
    }
    const a = createFixedArray<T>(this, kind, elemClass, elemTypeId, length)
    this.remember(a._$ptr, a)
    return a
  }

  private arrayElement(element: ArrayValueKind | Class, where: string): [ElementKind, Class | undefined, number] {
    if (typeof element === 'function') return ['ref', element, this.typeIdOf(this.registry.layoutFor(element))]
    if (ARRAY_VALUE_KINDS.includes(element)) return [element, undefined, 0]
    throw new FieldTypeError(`pobj: ${where}: element must be one of ${ARRAY_VALUE_KINDS.join(', ')} or a @Persistent class, got ${String(element)}`)
  }

  // ── collection ───────────────────────────────────────────────────────────
  /**
   * Frees every object, string and array not reachable from a named root or from a handle
   * still alive in this process (objects of classes not loaded here are traced too, from
   * the heap's type table). Writes nothing durable; a crash during it is an ordinary crash.
   * Inside a transaction: TransactionError (the automatic policy waits for its end).
   * A handle dropped by the program counts as alive until the JS engine has collected it.
   *
   * With `{ fromHandles: false }` only the named roots count: handles of the objects freed
   * then become unusable (FreedObjectError), as after a crash. Deterministic, whatever the
   * JS engine has collected.
   */
  gc(opts: { fromHandles?: boolean } = {}): GcReport {
    this.checkOpen()
    if (this.inTx) throw new TransactionError('pobj: gc() inside a transaction; call it after the transaction (automatic collection waits for its end)')
    const fromHandles = opts.fromHandles ?? true
    const held: number[] = []
    for (const [p, w] of this.live) {
      if (w.deref() === undefined) this.live.delete(p)
      else if (fromHandles) held.push(p)
    }
    const raw = this.raw
    const r = raw.collect({ roots: held, tracer: pobjTracer({ bytes: raw.bytes, segments: raw.segments, getRoot: (n) => raw.getRoot(n) }) })
    if (!fromHandles) {
      for (const [p, w] of this.live) {
        if (raw.isAllocated(p)) continue // no allocation ran since: not allocated means freed just now
        const h = w.deref() as Handle | undefined
        if (h) h._$ptr = 0
        this.live.delete(p)
      }
    }
    const g = this.gcStats
    g.collections++
    g.totalMs += r.ms
    g.lastMs = r.ms
    g.lastFreedBytes = r.freedBytes
    this.liveAfterGc = raw.usedBytes
    return { ms: r.ms, markedBlocks: r.markedBlocks, freedBlocks: r.freedBlocks, freedBytes: r.freedBytes }
  }

  /** The automatic policy, at a safe point: no block is half-built, no transaction is open. */
  private maybeCollect(): void {
    const policy = this.gcPolicy
    if (policy === null || this.inTx || this.initBlock !== 0 || this.raw.closed) return
    if ((this.raw.attachedHeaps ?? 1) > 1) return // no collection while other heaps are attached (README)
    const grown = this.raw.usedBytes - this.liveAfterGc
    if (grown >= policy.minBytes && grown >= policy.growth * this.liveAfterGc) this.gc()
  }

  /** Runs fn failure-atomically (see the class comment). Nested calls join the outer transaction. */
  transaction<T>(fn: () => T): T {
    this.checkOpen()
    if (this.inTx) return fn()
    if (this.migrationBlocks !== null) throw new TransactionError('pobj: transaction() inside a migration (a migration is atomic as a whole)')
    this.inTx = true
    let ok = false
    let r: T
    try {
      r = this.raw.transaction(fn)
      ok = true
    } finally {
      this.endTransaction(ok)
    }
    this.maybeCollect()
    return r
  }

  private endTransaction(committed: boolean): void {
    this.inTx = false
    if (!committed) {
      // The heap restored the logged bytes (an upgraded object's old header among them) and
      // freed the blocks allocated inside (its new block among them).
      for (let i = this.txUpgrades.length - 1; i >= 0; i--) {
        const u = this.txUpgrades[i]
        Object.setPrototypeOf(u.h, u.proto)
        u.h._$ptr = u.from
        this.live.delete(u.to)
        this.live.set(u.from, new WeakRef(u.h))
      }
      for (const p of this.txCreated) {
        const h = this.live.get(p)?.deref() as Handle | undefined
        if (h) h._$ptr = 0
        this.live.delete(p)
      }
      this.refresh()
    }
    this.txLogged.clear()
    this.txCreated.length = 0
    this.txNotes.clear()
    this.txUpgrades.length = 0
  }

  // ── roots ────────────────────────────────────────────────────────────────
  /** Binds `name` to obj (null removes it); durable when it returns (inside a transaction, at commit). */
  setRoot(name: string, obj: object | null): void {
    this.checkOpen()
    if (typeof name !== 'string' || name.startsWith(RESERVED_ROOT_PREFIX)) {
      throw new ArgumentError(`pobj: root name ${JSON.stringify(name)} is reserved or not a string`)
    }
    const p = obj === null ? 0 : this.ptrOf(obj, 'setRoot')
    if (this.migrationBlocks !== null) this.refuseMigrationWrite(0)
    this.raw.setRoot(name, p)
    if (!this.inTx) this.pendingInit = false // setRoot drained first
  }

  /**
   * The object under root `name`, or null. With a class: throws TypeMismatchError if
   * the object is not one. With a factory: creates and binds the root when missing.
   */
  root<T extends object>(name: string): T | null
  root<T extends object>(name: string, cls: Class<T>): T | null
  root<T extends object>(name: string, create: () => T): T
  root<T extends object>(name: string, cls: Class<T>, create: () => T): T
  root<T extends object>(name: string, a?: Class<T> | (() => T), b?: () => T): T | null {
    this.checkOpen()
    const cls = a !== undefined && (isPersistentClass(a) || (a as unknown) === PArray) ? a as Class<T> : undefined
    const create = b ?? (a !== undefined && cls === undefined ? a as () => T : undefined)
    const p = this.raw.getRoot(name)
    let obj: T
    if (p === 0) {
      if (!create) return null
      obj = create()
      this.checkRootClass(name, obj, cls)
      this.setRoot(name, obj)
      return obj
    }
    obj = this.handleAt(p) as T
    this.checkRootClass(name, obj, cls)
    return obj
  }

  private checkRootClass(name: string, obj: unknown, cls: Class | undefined): void {
    if (cls && !(obj instanceof cls)) {
      const actual = (obj as object)?.constructor?.name ?? String(obj)
      throw new TypeMismatchError(`pobj: root '${name}' holds a ${actual}, not a ${cls.name}`)
    }
  }

  /** Names of the user roots. */
  rootNames(): string[] {
    this.checkOpen()
    return this.raw.roots().map(([n]) => n).filter((n) => !n.startsWith(RESERVED_ROOT_PREFIX))
  }

  // ── export / import (class-transformer) ──────────────────────────────────
  /** The object graph reachable from `obj` as plain, JSON-safe data; shared refs and cycles preserved. */
  toPlain(obj: object | null): PlainGraph {
    this.settleRecords()
    this.checkOpen()
    if (obj !== null) this.ptrOf(obj, 'toPlain')
    return exportGraph(this, obj)
  }

  /** Rebuilds a graph made by toPlain in this heap, in one transaction; returns the root (of `cls`), unpublished. */
  fromPlain<T extends object>(cls: Class<T>, plain: PlainGraph): T {
    this.checkOpen()
    return importGraph(this, cls, plain, (name) => this.classForStableName(name))
  }

  /**
   * The block offset of a handle of this heap (for data structures that read blocks through
   * heap.raw). FieldTypeError, ForeignHandleError or FreedObjectError for anything else; `where`
   * names the caller in those messages.
   */
  pointerOf(obj: object, where = 'pointerOf'): number {
    this.checkOpen()
    return this.ptrOf(obj, where)
  }

  /** The handle of the object or array in block `ptr` (the one a ref to it reads); FreedObjectError if it holds none. */
  objectAt(ptr: number): object {
    this.checkOpen()
    if (!this.raw.isAllocated(ptr)) throw new FreedObjectError(`pobj: objectAt(${ptr}): no allocated block starts there`)
    return this.handleAt(ptr)
  }

  /** This heap's type id of `cls` (the tag of its objects' blocks), registering the class durably on first use. */
  typeId(cls: Class): number {
    this.checkOpen()
    return this.typeIdOf(this.registry.layoutFor(cls))
  }

  /** The class bound to a stable name in this heap (passed in types, used, or unique among @Persistent classes). */
  classForStableName(name: string): Class { return this.registry.classForStableName(name) }

  // ── inspection ───────────────────────────────────────────────────────────
  /** Live objects (of `cls` or its subclasses); objects of types with no loaded class are skipped. */
  *objects<T extends object>(cls?: Class<T>): IterableIterator<T> {
    this.checkOpen()
    const ptrs: number[] = []
    this.forEachBlock((p) => { if (this.dv.getUint32(p, true) >= FIRST_TYPE_ID) ptrs.push(p) })
    for (const p of ptrs) {
      if (this.closed) return
      if (!this.raw.isAllocated(p)) continue
      const layout = this.registry.tryLayoutForTypeId(this.dv.getUint32(p, true))
      if (!layout) continue
      if (cls && layout.cls !== cls && !(layout.cls.prototype instanceof cls)) continue
      yield this.handleAt(p) as T
    }
  }

  /** The allocator's figures plus counts and bytes per type, strings, arrays and the type table. */
  stats(): PHeapStats {
    this.checkOpen()
    const s: PHeapStats = {
      ...this.raw.stats(), types: {}, strings: { count: 0, bytes: 0 }, bytes: { count: 0, bytes: 0 }, records: { count: 0, bytes: 0 }, arrays: { count: 0, bytes: 0 }, typeTable: { count: 0, bytes: 0 },
      forwarders: { count: 0, bytes: 0 }, gc: { ...this.gcStats },
    }
    for (const e of this.table.all) s.types[e.name] = { count: 0, bytes: 0 }
    this.forEachBlock((p, size) => {
      const tag = this.dv.getUint32(p, true)
      const t = tag === TAG_STRING || tag === TAG_STRING16 ? s.strings : tag === TAG_BYTES ? s.bytes : tag === TAG_RECORD ? s.records : tag === TAG_ARRAY || tag === TAG_ARRAY_HEAD ? s.arrays : tag === TAG_TYPE_TABLE ? s.typeTable
        : tag === TAG_FORWARD ? s.forwarders
        : s.types[this.table.byTypeId(tag)?.name ?? '?'] ??= { count: 0, bytes: 0 }
      t.count += tag === TAG_ARRAY_HEAD && arrayElements(this.dv, p) !== 0 ? 0 : 1 // an array is counted once: by its elements block
      t.bytes += size
    })
    return s
  }

  /** The type table as stored (stable names, ids, fields). */
  get types(): TypeTable { return this.table }
  get recovery(): RecoveryReport { return this.raw.recovery }
  get closed(): boolean { return this.raw.closed }
  get inTransaction(): boolean { return this.inTx }

  /** Never the heap's bytes: a handle spread into a plain object carries its heap along. */
  toJSON(): { PHeap: string } { return { PHeap: this.closed ? 'closed' : `${this.raw.region.kind}, ${this.raw.region.size} bytes` } }
  [Symbol.for('nodejs.util.inspect.custom')](): string { return `PHeap <${this.toJSON().PHeap}>` }

  /**
   * Whole-heap check: the allocator's invariants, the array blocks' (persistent-array.ts
   * checkArrays) and every object's field values (value-check.ts).
   */
  check(): { ok: boolean; violations: string[]; stalePointers: number } {
    this.checkOpen()
    const c = this.raw.check()
    const raw = this.raw
    const arrays = checkArrays(this.dv, (fn) => this.forEachBlock(fn), (p) => raw.usableSize(p), (p) => raw.isAllocated(p))
    const values = c.ok ? checkValues({
      dv: this.dv, bytes: this.u8, forEachBlock: (fn) => this.forEachBlock(fn), isAllocated: (p) => raw.isAllocated(p),
      usableSize: (p) => raw.usableSize(p), entry: (id) => this.table.byTypeId(id),
    }) : [] // values are read only in a sound heap
    const extra = [...arrays, ...values]
    return extra.length === 0 ? c : { ok: false, violations: [...c.violations, ...extra], stalePointers: c.stalePointers }
  }

  /**
   * Writes a consistent copy of the heap to `path` (a new file) and syncs it: the heap as it is
   * between two operations (TransactionError inside a transaction). The copy's first open
   * traces it once, as after a crash. See Heap.backup.
   */
  backup(path: string): { bytes: number; ms: number } {
    this.checkOpen()
    if (this.inTx) throw new TransactionError('pobj: backup() inside a transaction; call it after the transaction')
    return this.raw.backup(path)
  }

  // ── sharing between worker_threads ───────────────────────────────────────
  /**
   * A token another worker_thread of this process attaches with (PHeap.attach): the same
   * objects, allocated and written in parallel (mmap backend). See the README: "Sharing a heap
   * between worker_threads".
   */
  share(): PHeapShareToken {
    this.checkOpen()
    if (!this.raw.share) throw new HeapSharedError('pobj: this heap can not be shared (its allocator heap has no share())')
    return { makaluPHeap: 1, raw: this.raw.share() as ShareToken }
  }

  /** Attaches to a PHeap shared by another thread (pheap.share()); `types` are registered in its type table if new. */
  static attach(token: PHeapShareToken, opts: PHeapAttachOptions = {}): PHeap {
    if (!token || typeof token !== 'object' || token.makaluPHeap !== 1) throw new ArgumentError('pobj: PHeap.attach needs a token from pheap.share()')
    checkGcPolicy(opts.gc)
    for (const c of opts.types ?? []) checkPersistentClass(c)
    return PHeap.wrap(Heap.attach(token.raw, { tracer: pobjTracer }), opts)
  }

  /** A token for an object or array of this heap, to post to another worker attached to it (fromToken there). */
  tokenOf(obj: object): ObjectToken {
    this.checkOpen()
    const ptr = this.ptrOf(obj, 'tokenOf')
    return { makaluObject: 1, ptr, tag: this.dv.getUint32(ptr, true) }
  }

  /**
   * The handle, in this heap, of the object a token names. FreedObjectError if its block no
   * longer holds it (keep an object reachable from a root, or its sender's handle alive, while
   * tokens of it travel: no collection runs while heaps are attached, but the raw free does).
   */
  fromToken(token: ObjectToken): object {
    this.checkOpen()
    if (!token || typeof token !== 'object' || token.makaluObject !== 1 || !Number.isSafeInteger(token.ptr)) {
      throw new ArgumentError('pobj: fromToken needs a token from pheap.tokenOf()')
    }
    if (!this.raw.isAllocated(token.ptr) || this.dv.getUint32(token.ptr, true) !== token.tag) {
      throw new FreedObjectError(`pobj: fromToken: the object at ${token.ptr} is no longer there`)
    }
    return this.handleAt(token.ptr)
  }

  /** Clean shutdown; every handle becomes unusable. */
  close(): void {
    if (this.closed) return
    if (this.inTx) throw new ArgumentError('pobj: close() inside a transaction')
    this.settleRecords() // a clean close vouches for every record
    for (const w of this.live.values()) {
      const h = w.deref() as Handle | undefined
      if (h) h._$ptr = 0
    }
    this.live.clear()
    this.raw.close()
  }

  /** Every allocated block, once the records a crash may have torn are settled (so a block's tag is what it is). */
  private forEachBlock(fn: (p: number, size: number) => void): void {
    this.settleRecords()
    this.raw.forEachBlock(fn)
  }

  // ── records a crash may have torn ─────────────────────────────────────────
  /**
   * Whether the record array at `array` may still hold a record a crash tore: after a crash
   * recovery, until settleRecords. Its owner then checks each record it reads (recordIntact)
   * and settles before it writes.
   */
  recordsUnsettled(array: number): boolean { return this.unsettled.has(array) }

  /**
   * Checks the pointer-free records that the last crash recovery marked without reading them
   * (tracer.ts), of the record array at `array` or of all, and vacates each one the crash tore
   * (record-blocks.ts settleRecordArray: one store each, a drain, then the block is freed;
   * inside a transaction the block is left to the next collection). Returns how many were torn.
   * PHeap runs it before it reads records itself (check, stats, objects, exports, migrations)
   * and at close; about 50-100 ns per record, once after a crash.
   */
  settleRecords(array?: number): number {
    this.checkOpen()
    if (this.unsettled.size === 0) return 0
    const arrays = array === undefined ? [...this.unsettled] : this.unsettled.has(array) ? [array] : []
    let n = 0
    const raw = this.raw
    const host: SettleHost = {
      u32: new Uint32Array(this.u8.buffer, this.u8.byteOffset, this.u8.byteLength / 4),
      f64: new Float64Array(this.u8.buffer, this.u8.byteOffset, Math.floor(this.u8.byteLength / 8)),
      usableSize: (p) => raw.usableSize(p), isAllocated: (p) => raw.isAllocated(p), durable: !raw.readOnly,
      flush: (p, len) => raw.flush(p, len), drain: () => raw.drain(),
    }
    for (const a of arrays) {
      this.unsettled.delete(a)
      const torn = settleRecordArray(host, a)
      n += torn.length
      if (!raw.readOnly && !this.inTx) for (const p of torn) raw.free(p)
    }
    return n
  }

  // ── HandleHost: what accessors call ──────────────────────────────────────
  /** @internal */
  unusable(h: Handle): never {
    if (this.closed) throw new HeapClosedError('pobj: the heap is closed; its handles can not be used')
    throw new FreedObjectError(`pobj: this ${(h as object).constructor?.name ?? 'object'} is gone: its transaction rolled back, ` +
      'or it was unreachable at a gc({ fromHandles: false })')
  }

  /** @internal Logs the block (small) or the field (large) at its first write in a transaction. */
  beforeWrite(block: number, addr: number, len: number): void {
    if (this.migrationBlocks !== null && !this.migrationBlocks.has(block)) this.refuseMigrationWrite(block)
    if (!this.inTx || this.txLogged.has(block) || this.txLogged.has(addr)) return
    const size = this.blockDataSize(block)
    if (size <= WHOLE_BLOCK_LOG) { this.raw.snapshot(block, size); this.txLogged.add(block) }
    else { this.raw.snapshot(addr, len); this.txLogged.add(addr) }
  }

  /** @internal Outside a transaction: the store is durable when the setter returns. */
  afterWrite(block: number, addr: number, len: number): void {
    if (!this.inTx && block !== this.initBlock) this.raw.persist(addr, len)
  }

  /** @internal */
  writePtrField(block: number, addr: number, p: number): void {
    if (this.migrationBlocks !== null && !this.migrationBlocks.has(block)) this.refuseMigrationWrite(block)
    if (this.inTx) {
      this.beforeWrite(block, addr, 8)
      writePtr(this.dv, addr, p)
    } else if (block === this.initBlock) {
      writePtr(this.dv, addr, p)
    } else {
      if (this.pendingInit && p !== 0) { this.raw.drain(); this.pendingInit = false }
      writePtr(this.dv, addr, p) // publishes p
      this.raw.persist(addr, 8)
    }
  }

  /** @internal */
  refPtr(v: unknown, target: Class, where: string): number {
    if (v === null) return 0
    if (typeof v !== 'object' || v instanceof PArray) badValue(where, `a ${target.name} handle or null`, v)
    const h = v as Handle
    if (h._$heap === undefined && v instanceof target) {
      throw new FieldTypeError(`pobj: ${where}: a plain ${target.name} object is not in the heap; create it with heap.new(${target.name}, ...)`)
    }
    const p = this.ptrOf(v, where)
    if (!(v instanceof target)) badValue(where, `a ${target.name} handle or null`, v)
    return p
  }

  /** @internal */
  arrayPtr(v: unknown, element: ElementKind, target: Class | undefined, where: string): number {
    if (v === null) return 0
    const want = element === 'ref' ? `a PArray of ${target?.name} or null` : `a PArray of ${element} or null`
    if (!(v instanceof PArray)) badValue(where, want, v)
    const p = this.ptrOf(v, where)
    const ok = v.element === element && (element !== 'ref' ||
      (v.elementClass === target || (v.elementClass as Class).prototype instanceof (target as Class)))
    if (!ok) badValue(where, want, v)
    return p
  }

  /** @internal The handle of the block at p: the same object while it lives. */
  handleAt(p: number): object {
    const w = this.live.get(p)
    if (w !== undefined) {
      const o = w.deref()
      if (o !== undefined) return o
    }
    const dv = this.dv
    const tag = dv.getUint32(p, true)
    let h: object
    if (tag >= FIRST_TYPE_ID) {
      const layout = this.layoutForTag(tag)
      const plan = this.registry.planOf(tag)
      if (plan && this.wide) { // views of older versions read through segment 0 (schema-evolution.ts)
        throw new SchemaMismatchError(`pobj: this ${layout.cls.name} is stored in layout version ${plan.entry.layoutVersion}; objects of older ` +
          'layout versions are not read in heaps over 4 GiB yet', layout.cls.name, [])
      }
      h = new (plan ? viewCtorOf(plan, this.viewHost) : handleCtorOf(layout))(this, p)
    } else if (tag === TAG_FORWARD) {
      return this.handleAt(forwardTarget(dv, p)) // an upgraded object: one object, one handle (its new block's)
    } else if (tag === TAG_ARRAY || tag === TAG_ARRAY_HEAD) {
      const a = arrayBlockInfo(dv, p)
      if (!a) throw new FreedObjectError(`pobj: the array at ${p} has element kind code ${dv.getUint8(p + 4)}: the heap is damaged`)
      h = new PArray(this, p, a.kind, a.kind === 'ref' ? this.registry.layoutForTypeId(a.elemTypeId).cls : undefined, a.growable)
    } else {
      throw new FreedObjectError(`pobj: a reference points at ${p}, which holds no object (tag ${tag}): the block was freed ` +
        'through heap.raw, or the heap is damaged')
    }
    this.remember(p, h)
    return h
  }

  /** @internal */
  readString(p: number): string {
    const start = p + STRING_HEADER_SIZE
    const encoding = this.dv.getUint32(p, true) === TAG_STRING16 ? 'utf16le' : 'utf8'
    const buf = p < SEGMENT ? this.buf : this.segBuf[Math.floor(p / SEGMENT)]
    const s = start >>> 0
    return buf.toString(encoding, s, s + this.dv.getUint32(p + STR_LEN, true))
  }

  /** @internal Replaces a string field (see swingValueBlock). */
  writeStringField(block: number, addr: number, s: string | null, emptyAsBlock = false): void {
    if (this.migrationBlocks !== null && !this.migrationBlocks.has(block)) this.refuseMigrationWrite(block)
    const { ptr: q, size } = s !== null && (s.length > 0 || emptyAsBlock) ? this.stringBlock(s) : { ptr: 0, size: 0 }
    this.swingValueBlock(block, addr, q, size)
  }

  /** @internal Replaces a bytes field (see swingValueBlock): the bytes are copied into a new block. */
  writeBytesField(block: number, addr: number, b: Uint8Array | null, emptyAsBlock = false): void {
    if (this.migrationBlocks !== null && !this.migrationBlocks.has(block)) this.refuseMigrationWrite(block)
    let q = 0
    let size = 0
    if (b !== null && (b.length > 0 || emptyAsBlock)) {
      size = valueBlockSize(b.length)
      q = this.allocBlock(size)
      writeBytesBlock(this.u8At(q), this.dv, q, b)
    }
    this.swingValueBlock(block, addr, q, size)
  }

  /** @internal A copy of the bytes block at `p`. */
  readBytes(p: number): Uint8Array {
    const start = (p >>> 0) + STRING_HEADER_SIZE
    return this.u8At(p).slice(start, start + this.dv.getUint32(p + STR_LEN, true))
  }

  /** @internal */
  recordPayload(p: number): Uint8Array {
    const start = (p >>> 0) + RECORD_HEADER_SIZE
    return this.u8At(p).slice(start, start + recordByteLength(this.dv, p))
  }

  /**
   * Publishes `q`, a new value block of `size` bytes (a string or bytes; 0 for none), in the
   * pointer field at `addr`. Outside a transaction, in order: flush the new block; drain;
   * COMMIT: store the pointer, persist; free the old block (a crash before the free leaves it
   * unreachable: recovery reclaims it). Inside one: logged, and the old block freed at commit.
   */
  private swingValueBlock(block: number, addr: number, q: number, size: number): void {
    const old = readPtr(this.dv, addr)
    if (this.inTx) {
      this.beforeWrite(block, addr, 8)
      writePtr(this.dv, addr, q)
    } else if (block === this.initBlock) {
      if (q !== 0) this.raw.flush(q, size)
      writePtr(this.dv, addr, q)
    } else {
      if (q !== 0) { this.raw.flush(q, size); this.raw.drain(); this.pendingInit = false }
      writePtr(this.dv, addr, q)
      this.raw.persist(addr, 8)
    }
    if (old !== 0) this.raw.free(old) // inside a transaction: at commit
  }

  /** A string block holding s, not flushed. */
  private stringBlock(s: string): { ptr: number; size: number } {
    const enc = stringEncoding(s)
    const size = valueBlockSize(enc.byteLength)
    const q = this.allocBlock(size)
    writeStringBlock(q < SEGMENT ? this.buf : this.segBuf[Math.floor(q / SEGMENT)], this.dv, q, s, enc)
    return { ptr: q, size }
  }

  // ── ArrayHost: what arrays call (persistent-array.ts) ──────────────────────
  /** @internal */
  allocData(size: number): number { return this.allocBlock(size) }
  /** @internal */
  newStringBlock(s: string): { ptr: number; size: number } { return s.length === 0 ? { ptr: 0, size: 0 } : this.stringBlock(s) }
  /** @internal */
  freeBlock(p: number): void { this.raw.free(p) }
  /** @internal */
  usableSize(p: number): number { return this.raw.usableSize(p) }
  /** @internal */
  flush(p: number, len: number): void { this.raw.flush(p, len) }
  /** @internal */
  drain(): void { this.raw.drain(); this.pendingInit = false }
  /** @internal */
  persist(p: number, len: number): void { this.raw.persist(p, len) }
  /** @internal */
  flushNewBlock(p: number, size: number): void { this.flushNew(p, size) }
  /** @internal */
  txNote(key: number, init: number): number {
    const v = this.txNotes.get(key)
    if (v !== undefined) return v
    this.txNotes.set(key, init)
    return init
  }

  // ── schema evolution (schema-evolution.ts, migration.ts) ──────────────────
  /**
   * @internal Upgrades the object of `h`, stored in an older layout version, to the current
   * one (the steps are in schema-evolution.ts); `h` becomes a handle of the new block.
   */
  upgrade(h: Handle): void {
    const p = h._$ptr
    const plan = this.registry.planOf(this.dv.getUint32(p, true))
    if (!plan) return
    if (this.wide) { // a forwarder holds a 32-bit target (object-format.ts)
      throw new SchemaMismatchError(`pobj: this ${plan.layout.cls.name} is stored in layout version ${plan.entry.layoutVersion}; ` +
        'upgrading objects to a new layout version is not supported in heaps over 4 GiB yet: it can not be written', plan.layout.cls.name, [])
    }
    if (plan.refusals.length > 0) {
      throw new SchemaMismatchError(`pobj: this ${plan.layout.cls.name} is stored in layout version ${plan.entry.layoutVersion}, ` +
        `which needs a migration (${plan.refusals.join('; ')}): it can not be written`, plan.layout.cls.name, plan.refusals.map((r) => r.slice(0, r.indexOf(':'))))
    }
    if (this.migrationBlocks !== null && !this.migrationBlocks.has(p)) this.refuseMigrationWrite(p)
    const size = plan.layout.size
    // 1. the object in the current layout, in a new block, durable before it is published
    const q = this.rewrite(p, plan)
    if (!this.inTx) { this.raw.flush(q, size); this.raw.drain(); this.pendingInit = false }
    // 2. COMMIT: p's header word := (FORWARD, q)
    this.beforeWrite(p, p, 8)
    const dropped = this.droppedStrings(p, plan, q)
    writeForwarder(this.dv, p, q)
    if (!this.inTx) this.raw.persist(p, 8)
    for (const b of dropped) this.raw.free(b) // strings of removed fields (inside a transaction: at commit)
    // 3. the same handle, now of q
    const proto = Object.getPrototypeOf(h) as object
    Object.setPrototypeOf(h, handleCtorOf(plan.layout).prototype)
    h._$ptr = q
    this.live.delete(p)
    this.live.set(q, new WeakRef(h))
    if (this.inTx) this.txUpgrades.push({ h, from: p, to: q, proto })
  }

  /**
   * A new block holding the object at `p` (of plan.entry's version) in the current layout:
   * initialised like `new`, then each field copied (same encoding) or converted. Not flushed.
   * A string changing presence keeps its block (an empty required string becomes an empty block).
   */
  private rewrite(p: number, plan: UpgradePlan): number {
    const layout = plan.layout
    const q = this.allocBlock(layout.size)
    const dv = this.dv
    dv.setUint32(q, this.typeIdOf(layout), true)
    dv.setUint32(q + 4, 0, true)
    for (const off of layout.absentSlots) dv.setFloat64(q + off, ABSENT_F64, true)
    for (const [off, v] of layout.enumDefaults) dv.setInt32(q + off, v, true)
    const nh = new (handleCtorOf(layout))(this, q) as unknown as Record<string, unknown>
    const prev = this.initBlock
    this.initBlock = q
    try {
      plan.sources.forEach((src, i) => {
        const f = layout.fields[i]
        if (src.how === 'copy') this.u8.copyWithin(q + f.offset, p + src.from.offset, p + src.from.offset + f.size)
        else if (src.how === 'convert') {
          const v = readFieldValue(this.u8, p, src.from)
          if ((f.kind === 'string' || f.kind === 'bytes') && readPtr(dv, p + src.from.offset) !== 0) writePtr(dv, q + f.offset, readPtr(dv, p + src.from.offset))
          else nh[f.name] = convertValue(v, f)
        }
      })
    } catch (e) {
      this.raw.free(q)
      throw e
    } finally {
      this.initBlock = prev
    }
    return q
  }

  /** The string blocks of the old object at `p` that its new block `q` does not hold (removed or replaced fields). */
  private droppedStrings(p: number, plan: UpgradePlan, q: number): number[] {
    const dv = this.dv
    const own = (f: { kind: string }) => f.kind === 'string' || f.kind === 'bytes'
    const kept = new Set(plan.layout.fields.filter(own).map((f) => readPtr(dv, q + f.offset)))
    return plan.entry.fields.filter(own).map((f) => readPtr(dv, p + f.offset)).filter((b) => b !== 0 && !kept.has(b))
  }

  /** Rewrites every object of the plans' versions and commits them at once (migration.ts, steps 1-5). */
  private migrate(plans: readonly UpgradePlan[], migrations: readonly Migration[], onProgress?: (p: Progress) => void): void {
    const byId = new Map(plans.map((pl) => [pl.entry.typeId, pl]))
    const migrationOf = (pl: UpgradePlan) => migrations.find((m) => (m.from ?? stableNameOf(m.to)) === pl.entry.name) as Migration
    const raw = this.raw
    if (this.wide) { // old objects are read through segment 0 and forwarders hold 32-bit targets
      throw new SchemaMismatchError(`pobj: a migration of ${plans.map((pl) => pl.entry.name).join(', ')} is not supported in heaps over 4 GiB yet; nothing was written`,
        plans[0]?.entry.name ?? '', [])
    }
    this.collectFromRoots() // 1. only reachable objects
    const olds: number[] = []
    this.forEachBlock((p) => { if (byId.has(this.dv.getUint32(p, true))) olds.push(p) })
    const made = new Set<number>()
    const pairs: number[] = []
    const dropped: number[] = []
    const total = olds.length
    const every = Math.max(1, Math.floor(total / 100))
    this.migrationBlocks = made
    let last = ''
    try {
      for (let i = 0; i < total; i++) {
        const p = olds[i]
        const plan = byId.get(this.dv.getUint32(p, true)) as UpgradePlan
        if (onProgress && (i % every === 0 || plan.entry.name !== last)) onProgress({ phase: 'migrate', stableName: plan.entry.name, done: i, total })
        last = plan.entry.name
        // 2. the new block, filled by the automatic rules, then by the migration
        const q = this.rewrite(p, plan)
        made.add(q)
        const obj = new (handleCtorOf(plan.layout))(this, q)
        this.remember(q, obj)
        const old: Record<string, unknown> = {}
        for (const f of plan.entry.fields) {
          const v = readFieldValue(this.u8, p, f)
          old[f.name] = (f.kind === 'ref' || f.kind === 'array') && v !== null ? this.handleAt(v as number) : v
        }
        const prev = this.initBlock
        this.initBlock = q
        try { migrationOf(plan).migrate(Object.freeze(old), obj, { heap: this, stableName: plan.entry.name, layoutVersion: plan.entry.layoutVersion }) }
        finally { this.initBlock = prev }
        raw.flush(q, plan.layout.size)
        pairs.push(p, q)
        dropped.push(...this.droppedStrings(p, plan, q))
      }
      // 3-4. the record, durable with every new block; its root store commits
      commitRecord(this.recordHost(), pairs, [...byId.values()].flatMap((pl) => [pl.entry.typeId, this.typeIdOf(pl.layout)]))
    } catch (e) {
      for (const b of made) if (raw.isAllocated(b)) raw.free(b)
      throw e
    } finally {
      this.migrationBlocks = null
      // Handles met during the migration are not usable after it (see Migration.migrate).
      for (const w of this.live.values()) { const h = w.deref() as Handle | undefined; if (h) h._$ptr = 0 }
      this.live.clear()
      this.pendingInit = false
    }
    applyRecord(this.recordHost()) // 5.
    for (const b of dropped) raw.free(b) // unreachable since 5 (a crash first leaves them to recovery)
    onProgress?.({ phase: 'migrate', stableName: last, done: total, total })
    this.liveAfterGc = raw.usedBytes
  }

  /** A collection from the named roots alone (at open: no handle exists yet). */
  private collectFromRoots(): void {
    const raw = this.raw
    raw.collect({ tracer: pobjTracer({ bytes: raw.bytes, segments: raw.segments, getRoot: (n) => raw.getRoot(n) }) })
  }

  private refuseMigrationWrite(block: number): never {
    throw new TransactionError(`pobj: a migration may write only to the object it migrates and to objects it creates` +
      (block === 0 ? ' (not to roots)' : ` (this write is to block ${block})`))
  }

  /** Allocated objects per type id (a whole-heap scan). */
  private countObjects(ids: readonly number[]): Map<number, number> {
    const want = new Set(ids)
    const out = new Map<number, number>()
    this.forEachBlock((p) => { const t = this.dv.getUint32(p, true); if (want.has(t)) out.set(t, (out.get(t) ?? 0) + 1) })
    return out
  }

  private recordHost(): RecordHost {
    const raw = this.raw
    const view = () => this.dv
    return {
      get dv() { return view() },
      alloc: (n) => { const p = raw.alloc(n); this.refresh(); return p },
      free: (p) => raw.free(p),
      flush: (p, n) => raw.flush(p, n),
      drain: () => raw.drain(),
      getRoot: (n) => raw.getRoot(n),
      setRoot: (n, p) => raw.setRoot(n, p),
      retire: (ids, into) => {
        const successors = new Map<number, string>()
        ids.forEach((id, i) => {
          const from = this.table.byTypeId(id)?.name
          const to = this.table.byTypeId(into[i])?.name
          if (from !== undefined && to !== undefined && to !== from) successors.set(id, to)
        })
        this.table.retire(ids, successors)
      },
    }
  }

  /** What view handles of older versions read through (schema-evolution.ts). */
  private readonly viewHost: ViewHost = ((self: PHeap) => ({ get bytes() { return self.u8 }, handleAt: (p: number) => self.handleAt(p) }))(this)

  // ── internals ────────────────────────────────────────────────────────────
  private checkOpen(): void {
    if (this.raw.closed) throw new HeapClosedError('pobj: the heap is closed')
  }

  /** Refreshes the cached views if the heap's bytes were replaced (growth). */
  private refresh(): void {
    const b = this.raw.bytes
    const size = this.raw.region.size
    if (b === this.u8 && size === this.viewSize) return
    this.u8 = b
    this.viewSize = size
    this.buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength)
    if (size <= SEGMENT) {
      this.dv = new DataView(b.buffer, b.byteOffset, b.byteLength)
      this.seg8 = []
      this.segBuf = []
      return
    }
    // Over 4 GiB: one DataView spans the mapping (V8 allows it); bytes go through the segments.
    this.dv = new DataView(b.buffer, b.byteOffset, size)
    this.seg8 = this.raw.segments.slice()
    this.segBuf = this.seg8.map((s) => Buffer.from(s.buffer, s.byteOffset, s.byteLength))
  }

  /** The bytes of the 4 GiB segment holding p (index them with p >>> 0). */
  private u8At(p: number): Uint8Array { return p < SEGMENT ? this.u8 : this.seg8[Math.floor(p / SEGMENT)] }

  private allocBlock(size: number): number {
    const p = this.raw.alloc(size)
    this.refresh()
    if (this.inTx) { this.txLogged.add(p); this.txCreated.push(p) }
    this.migrationBlocks?.add(p)
    return p
  }

  /** Runs the initialising writes of a new block; on a throw frees what was allocated and rethrows. */
  private initialise(p: number, h: object, fill: () => void): void {
    const prev = this.initBlock
    this.initBlock = p
    try {
      fill()
    } catch (e) {
      this.initBlock = prev
      this.discardNew(p, h)
      throw e
    } finally {
      this.initBlock = prev
    }
  }

  /** Frees a block `new` made and nothing references yet, with the strings it owns. */
  private discardNew(p: number, h: object): void {
    const tag = this.dv.getUint32(p, true)
    if (tag >= FIRST_TYPE_ID) {
      for (const f of this.registry.layoutForTypeId(tag).fields) {
        const s = f.kind === 'string' || f.kind === 'bytes' ? readPtr(this.dv, p + f.offset) : 0
        if (s !== 0) this.raw.free(s)
      }
    }
    this.raw.free(p)
    ;(h as Handle)._$ptr = 0
    this.live.delete(p)
  }

  /** Outside a transaction: flush the new block now, drain before it is published. */
  private flushNew(p: number, size: number): void {
    this.raw.flush(p, size)
    this.pendingInit = true
  }

  /**
   * Enters a handle in the identity map. No FinalizationRegistry (it costs more than the
   * WeakRef): entries whose handle was collected are dropped when the map has doubled.
   */
  private remember(p: number, h: object): void {
    const live = this.live
    live.set(p, new WeakRef(h))
    if (live.size >= this.sweepAt) {
      for (const [q, w] of live) if (w.deref() === undefined) live.delete(q)
      this.sweepAt = Math.max(1024, live.size * 2)
    }
  }

  /** The block pointer of a handle of this heap; typed errors for anything else. */
  private ptrOf(v: unknown, where: string): number {
    const h = v as Handle
    if (v === null || typeof v !== 'object' || h._$heap === undefined) {
      const got = v === null ? 'null' : typeof v === 'object' ? `a plain ${(v as object).constructor?.name ?? 'object'}` : typeof v
      throw new FieldTypeError(`pobj: ${where}: expected a handle of this heap, got ${got}`)
    }
    if (h._$heap !== this) {
      if ((h._$heap as unknown) instanceof PHeap) throw new ForeignHandleError(`pobj: ${where}: the ${h.constructor?.name} handle belongs to another heap`)
      throw new FieldTypeError(`pobj: ${where}: not a pobj handle`)
    }
    if (h._$ptr === 0) this.unusable(h)
    return h._$ptr
  }

  /** Bytes of the block's data (header included), for deciding how to log it. */
  private blockDataSize(p: number): number {
    const tag = this.dv.getUint32(p, true)
    if (tag >= FIRST_TYPE_ID) return this.registry.layoutForTypeId(tag).size
    return arrayDataSize(this.dv, p) ?? Infinity
    if (tag >= FIRST_TYPE_ID) return this.table.byTypeId(tag)?.size ?? Infinity // the size of the object's own layout version
    if (tag === TAG_ARRAY) {
      return ARRAY_HEADER_SIZE + this.dv.getUint32(p + ARR_LENGTH, true) * ELEMENT_SIZE[CODE_KIND[this.dv.getUint8(p + ARR_ELEM)] as ElementKind]
    }
    return Infinity
  }

  /** This heap's type id of a layout (registering it durably on first use). */
  private typeIdOf(l: Layout): number {
    const known = this.registry.knownTypeId(l)
    if (known !== undefined) return known
    // Shared: under the heap lock, with the table as the other heaps left it, so that two
    // heaps registering at once append one version, not two.
    const id = this.shared ? this.raw.exclusive!(() => { this.table.reload(); return this.registry.typeIdOf(l) }) : this.registry.typeIdOf(l)
    this.refresh() // the table may have grown into a new block
    return id
  }

  /** Whether other heaps may write the type table (heaps attached to the file in other threads). */
  private get shared(): boolean { return (this.raw.attachedHeaps ?? 1) > 1 && this.raw.exclusive !== undefined }

  /** The layout of an object's type id; a shared heap reloads the table for an id another heap registered. */
  private layoutForTag(tag: number): Layout {
    if (this.shared && this.registry.tryLayoutForTypeId(tag) === undefined) this.raw.exclusive!(() => this.table.reload())
    return this.registry.layoutForTypeId(tag)
  }

  private tableHost(): TableHost {
    const raw = this.raw
    return {
      bytesAt: (p) => p < SEGMENT ? raw.bytes : raw.segments[Math.floor(p / SEGMENT)],
      get inTransaction() { return raw.inTransaction },
      alloc: (n) => { const p = raw.alloc(n); this.refresh(); return p },
      free: (p) => raw.free(p),
      usableSize: (p) => raw.usableSize(p),
      getRoot: (n) => raw.getRoot(n),
      setRoot: (n, p) => raw.setRoot(n, p),
      flush: (off, len) => raw.flush(off, len),
      drain: () => raw.drain(),
      durable: (off, len) => { raw.flush(off, len); raw.drain() },
    }
  }
}

function checkGcPolicy(gc: GcPolicy | false | undefined): Required<GcPolicy> | null {
  if (gc === false) return null
  if (gc === undefined || gc === null || typeof gc !== 'object') {
    if (gc === undefined) return { growth: 1, minBytes: 8 << 20 }
    throw new ArgumentError(`pobj: the gc option must be a policy object or false, got ${String(gc)}`)
  }
  const growth = gc.growth ?? 1
  const minBytes = gc.minBytes ?? 8 << 20
  if (!(typeof growth === 'number' && growth >= 0 && Number.isFinite(growth))) {
    throw new ArgumentError(`pobj: gc.growth must be a finite number ≥ 0, got ${String(growth)}`)
  }
  if (!(Number.isSafeInteger(minBytes) && minBytes >= 0)) throw new ArgumentError(`pobj: gc.minBytes must be an integer ≥ 0, got ${String(minBytes)}`)
  return { growth, minBytes }
}

/** `layouts` and the layouts of the classes they refer to (refs, ref arrays), transitively. */
function withTargets(layouts: readonly Layout[]): Layout[] {
  const out = [...new Set(layouts)]
  for (let i = 0; i < out.length; i++) {
    for (const f of out[i].fields) {
      if (f.targetClass && !out.includes(layoutOf(f.targetClass))) out.push(layoutOf(f.targetClass))
    }
  }
  return out
}

/** Checks the shape of the migrations option. */
function checkMigrations(ms: unknown): Migration[] {
  if (ms === undefined) return []
  if (!Array.isArray(ms)) throw new ArgumentError('pobj: migrations must be an array of { to, from?, migrate }')
  ms.forEach((m, i) => {
    if (m === null || typeof m !== 'object' || !isPersistentClass(m.to) || typeof m.migrate !== 'function' ||
        (m.from !== undefined && (typeof m.from !== 'string' || m.from.length === 0))) {
      throw new ArgumentError(`pobj: migrations[${i}] must be { to: a @Persistent class, from?: a stable name, migrate(old, obj, info) }`)
    }
  })
  const names = ms.map((m: Migration) => m.from ?? stableNameOf(m.to))
  const dup = names.find((n, i) => names.indexOf(n) !== i)
  if (dup !== undefined) throw new ArgumentError(`pobj: two migrations of stable name '${dup}'`)
  return ms as Migration[]
}

/** The layout of a class passed in `types`; UnknownTypeError or LayoutError if it has none. */
function checkPersistentClass(c: Class): Layout {
  if (!isPersistentClass(c)) throw new UnknownTypeError(`pobj: ${(c as Function)?.name ?? String(c)} in types is not a @Persistent class`)
  return layoutOf(c)
}
