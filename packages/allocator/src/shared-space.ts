import { Layout } from './superblock'
import { HeapSharedError } from './errors'
import { CACHE_STRIDE } from './size-classes'

/**
 * The volatile state that the heaps of one open heap file share between worker_threads of
 * one process (heap.share() / Heap.attach()). Nothing here is durable and nothing is on
 * media: it lives in SharedArrayBuffers that die with the process, so a crash (SIGKILL of the
 * whole process) recovers exactly as before. The mapping itself is per heap (each attached
 * heap maps the file on its own thread); only these buffers are posted.
 *
 * One heap = one slot (1 .. MAX_SLOTS−1; the opening heap is slot 1). Slot 0 is "nobody":
 * an orphan run (its owner detached) or a chunk that is not a run.
 *
 *   ctl (Int32Array)
 *     [CHUNK_LOCK]   futex mutex for every chunk-level change (claim, release, quarantine,
 *                    orphans, slots, growth): 0 free, 1 held, 2 held with waiters
 *     [HEAP_LOCK]    futex mutex for transactions and root changes (heap-lock.ts)
 *     [SLOTS]        bit s set ⇔ slot s is attached
 *     [ORPHANS]      runs with owner 0 (under CHUNK_LOCK)
 *     [ROOT_GEN]     bumped after every root-table change (other heaps reload their index)
 *     [FREE_HINT]    no chunk below it is FREE (under CHUNK_LOCK)
 *     [OPEN]         1 while the opening heap is open
 *     [SHARED]       1 once share() was called
 *     [HEADS + 16s]  remote-free stack of slot s: the newest block, as its granule + 1; 0 empty;
 *                    CLOSED while slot s detaches (pushes then wait for the chunk's new owner)
 *   out (Float64Array)  [8s] blocks, [8s+1] bytes handed out of runs and large objects by slot s
 *                       (cached ones included; one cache line per slot); [0], [1]: those of orphan runs
 *   caches (Uint32Array) per slot: CACHE_STRIDE slots per class, then cacheTop per class
 *   per chunk: kind, cls, owner, built, fresh (Uint8Array); freeHead, bump, span (Uint32Array). A run's
 *                       free count (nFree) is its owner's own (chunk-space.ts): it changes at every
 *                       alloc and free, and runs of two heaps side by side would share cache lines
 *   pending (Int32Array)  one bit per granule: a free by a non-owner is on the owner's stack
 *
 * Invariants (checked by heap.check()):
 *   owner[c] ≠ 0 ⇒ kind[c] = RUN and slot owner[c] is attached
 *   ORPHANS = #{c : kind[c] = RUN, owner[c] = 0}
 *   a block on the stack of slot s has its pending bit and its bitmap bit set, is a block start
 *     of a RUN chunk (owned by s, or by another heap: the owner that drains it passes it on);
 *     #pending bits = Σ stack lengths
 *   liveBlocks = Σ_s (out[8s] − cached by s) + out[0] = Σ bits
 * Writers: a run's freeHead, bump, built, its bitmap words and its blocks' free-list
 * links are written only by its owner; kind, cls, owner, span, ORPHANS and FREE_HINT only under
 * CHUNK_LOCK; a slot's cache and out counters only by that slot's heap. So the small-block
 * fast path writes nothing another thread writes.
 */
export const MAX_SLOTS = 16
export const OPENER_SLOT = 1
const CHUNK_LOCK = 0
export const HEAP_LOCK = 1
const SLOTS = 2
const ORPHANS = 3
const ROOT_GEN = 4
const FREE_HINT = 5
const OPEN = 6
const SHARED = 7
const HEADS = 16
/** Words per remote-free head: one cache line each (heads of two workers pushed at once do not contend). */
const HEAD_STRIDE = 16
const CTL_WORDS = HEADS + HEAD_STRIDE * MAX_SLOTS
/** A remote-free head while its slot detaches. */
export const CLOSED = -1

/** What share() returns: structured-cloneable (postMessage, workerData), valid in this process only. */
export interface ShareToken {
  readonly makaluShare: 1
  readonly region: SharedRegionInfo
  readonly state: SharedBuffers
}

export type SharedRegionInfo =
  | { readonly kind: 'mmap'; readonly path: string; readonly fd: number; readonly durability: 'power' | 'process' }
  | { readonly kind: 'sim'; readonly id: number }

export interface SharedBuffers {
  readonly ctl: SharedArrayBuffer
  readonly out: SharedArrayBuffer
  readonly caches: SharedArrayBuffer
  readonly bytes8: SharedArrayBuffer
  readonly words32: SharedArrayBuffer
  readonly pending: SharedArrayBuffer
  readonly maxChunks: number
  readonly classes: number
}

export class SharedSpace {
  readonly ctl: Int32Array
  readonly out: Float64Array
  readonly kind: Uint8Array
  readonly cls: Uint8Array
  readonly owner: Uint8Array
  readonly built: Uint8Array
  /** Chunks whose bytes read as zero (never handed out since the file grew): shared, so no heap skips the zeroing of a chunk another used. */
  readonly fresh: Uint8Array
  readonly freeHead: Uint32Array
  readonly bump: Uint32Array
  readonly span: Uint32Array
  readonly pending: Int32Array
  private readonly caches: SharedArrayBuffer
  private readonly classCount: number
  readonly buffers: SharedBuffers

  /** New state for a heap being opened (`from` absent), or the state a token carries. */
  /** `wide`: a heap over 4 GiB (never shared): no pending bitmap. */
  constructor(layout: Layout, classCount: number, from?: SharedBuffers, wide = false) {
    const n = layout.maxChunks
    const b = from ?? {
      ctl: new SharedArrayBuffer(CTL_WORDS * 4),
      out: new SharedArrayBuffer(MAX_SLOTS * 64),
      caches: new SharedArrayBuffer(MAX_SLOTS * classCount * (CACHE_STRIDE + 1) * 4),
      bytes8: new SharedArrayBuffer(n * 5),
      words32: new SharedArrayBuffer(n * 12),
      // One bit per granule of the chunks; zero pages until touched.
      pending: new SharedArrayBuffer(wide ? 4 : Math.ceil((n * layout.chunkSize) / 512) * 4 + 4),
      maxChunks: n,
      classes: classCount,
    }
    if (b.maxChunks !== n || b.classes !== classCount) {
      throw new HeapSharedError(`heap: the share token is for a heap of ${b.maxChunks} chunks and ${b.classes} size classes, not this one`)
    }
    this.buffers = b
    this.classCount = classCount
    this.ctl = new Int32Array(b.ctl)
    this.out = new Float64Array(b.out)
    this.caches = b.caches
    this.kind = new Uint8Array(b.bytes8, 0, n)
    this.cls = new Uint8Array(b.bytes8, n, n)
    this.owner = new Uint8Array(b.bytes8, 2 * n, n)
    this.built = new Uint8Array(b.bytes8, 3 * n, n)
    this.fresh = new Uint8Array(b.bytes8, 4 * n, n)
    this.freeHead = new Uint32Array(b.words32, 0, n)
    this.bump = new Uint32Array(b.words32, 4 * n, n)
    this.span = new Uint32Array(b.words32, 8 * n, n)
    this.pending = new Int32Array(b.pending)
    if (!from) {
      this.cls.fill(255) // NO_CLASS
      this.ctl[SLOTS] = 1 << OPENER_SLOT
      this.ctl[OPEN] = 1
    }
  }

  private readonly cacheViews: Uint32Array[] = []
  private readonly topViews: Uint32Array[] = []
  /** Slot s's cache: CACHE_STRIDE entries per class. */
  cacheOf(slot: number): Uint32Array {
    return (this.cacheViews[slot] ??= new Uint32Array(this.caches, slot * this.classCount * (CACHE_STRIDE + 1) * 4, this.classCount * CACHE_STRIDE))
  }
  /** Slot s's cacheTop per class. */
  cacheTopOf(slot: number): Uint32Array {
    const at = slot * this.classCount * (CACHE_STRIDE + 1) * 4 + this.classCount * CACHE_STRIDE * 4
    return (this.topViews[slot] ??= new Uint32Array(this.caches, at, this.classCount))
  }

  // ── slots ────────────────────────────────────────────────────────────────
  get slots(): number { return Atomics.load(this.ctl, SLOTS) }
  /** Whether a slot other than `slot` is attached. */
  othersAttached(slot: number): boolean { return (Atomics.load(this.ctl, SLOTS) & ~(1 << slot)) !== 0 }
  attachedCount(): number {
    let n = 0
    for (let m = this.slots; m !== 0; m &= m - 1) n++
    return n
  }
  get markedShared(): boolean { return this.ctl[SHARED] === 1 }
  markShared(): void { Atomics.store(this.ctl, SHARED, 1) }
  get openerOpen(): boolean { return Atomics.load(this.ctl, OPEN) === 1 }

  /** Takes a free slot for an attaching heap (under the chunk lock). */
  claimSlot(): number {
    this.lockChunks()
    try {
      if (!this.openerOpen) throw new HeapSharedError('heap: attach: the heap that shared this token is closed')
      const m = this.ctl[SLOTS]
      for (let s = OPENER_SLOT + 1; s < MAX_SLOTS; s++) {
        if ((m & (1 << s)) !== 0) continue
        Atomics.or(this.ctl, SLOTS, 1 << s)
        Atomics.store(this.ctl, HEADS + HEAD_STRIDE * s, 0)
        this.cacheTopOf(s).fill(0)
        this.out[8 * s] = 0
        this.out[8 * s + 1] = 0
        return s
      }
      throw new HeapSharedError(`heap: attach: ${MAX_SLOTS - 1} heaps are attached already (the most one heap file can have)`)
    } finally {
      this.unlockChunks()
    }
  }

  /** Gives slot s back (under the chunk lock; its chunks and counters were handed over). */
  releaseSlot(slot: number): void {
    Atomics.and(this.ctl, SLOTS, ~(1 << slot))
  }

  /** The opening heap closes (under the chunk lock; it is alone). */
  markOpenerClosed(): void { Atomics.store(this.ctl, OPEN, 0) }

  // ── counters under the chunk lock ───────────────────────────────────────
  get orphans(): number { return Atomics.load(this.ctl, ORPHANS) }
  set orphans(n: number) { Atomics.store(this.ctl, ORPHANS, n) }
  get freeHint(): number { return this.ctl[FREE_HINT] }
  set freeHint(c: number) { this.ctl[FREE_HINT] = c }
  get rootGen(): number { return Atomics.load(this.ctl, ROOT_GEN) }
  bumpRootGen(): void { Atomics.add(this.ctl, ROOT_GEN, 1) }

  // ── the chunk lock: a futex mutex (Drepper, "Futexes are tricky", mutex 2) ─
  lockChunks(): void { lockWord(this.ctl, CHUNK_LOCK) }
  unlockChunks(): void { unlockWord(this.ctl, CHUNK_LOCK) }
  get chunksLocked(): boolean { return Atomics.load(this.ctl, CHUNK_LOCK) !== 0 }

  // ── remote frees ─────────────────────────────────────────────────────────
  head(slot: number): number { return Atomics.load(this.ctl, HEADS + HEAD_STRIDE * slot) }
  /**
   * Pushes block `g` (its granule + 1) on slot s's stack, `link` storing the old head into the
   * block. False if the slot is detaching (CLOSED).
   */
  push(slot: number, g: number, link: (next: number) => void): boolean {
    const i = HEADS + HEAD_STRIDE * slot
    for (;;) {
      const h = Atomics.load(this.ctl, i)
      if (h === CLOSED) return false
      link(h >>> 0)
      if (Atomics.compareExchange(this.ctl, i, h, g | 0) === h) return true
    }
  }
  /** Takes slot s's whole stack (its newest block as granule + 1, or 0), leaving `to` (0, or CLOSED). */
  takeAll(slot: number, to = 0): number {
    const h = Atomics.exchange(this.ctl, HEADS + HEAD_STRIDE * slot, to)
    return h === CLOSED ? 0 : h >>> 0
  }
}

/** A futex mutex on ctl[i]: 0 free, 1 held, 2 held with waiters. Atomics.wait works on any thread of Node. */
export function lockWord(ctl: Int32Array, i: number): void {
  let c = Atomics.compareExchange(ctl, i, 0, 1)
  if (c === 0) return
  for (let spin = 0; spin < 100; spin++) {
    c = Atomics.compareExchange(ctl, i, 0, 1)
    if (c === 0) return
  }
  if (c !== 2) c = Atomics.exchange(ctl, i, 2)
  while (c !== 0) {
    Atomics.wait(ctl, i, 2)
    c = Atomics.exchange(ctl, i, 2)
  }
}

export function unlockWord(ctl: Int32Array, i: number): void {
  if (Atomics.sub(ctl, i, 1) !== 1) {
    Atomics.store(ctl, i, 0)
    Atomics.notify(ctl, i, 1)
  }
}

/** SimRegions shared in this thread, by id (a SimRegion lives in one thread's memory). */
const simRegions = new Map<number, WeakRef<object>>()
let nextSimId = 1
export function registerSim(region: object): number {
  for (const [id, ref] of simRegions) if (ref.deref() === region) return id
  const id = nextSimId++
  simRegions.set(id, new WeakRef(region))
  return id
}
export function findSim(id: number): object | undefined { return simRegions.get(id)?.deref() }
