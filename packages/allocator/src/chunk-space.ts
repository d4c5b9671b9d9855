import * as F from './format'
import { Layout } from './superblock'
import { Memory } from './memory'
import { SizeClasses, CACHE_STRIDE } from './size-classes'
import { HeapFullError, InvalidPointerError, assert } from './errors'
import { SharedSpace, OPENER_SLOT, CLOSED } from './shared-space'

/**
 * The numbers the fast paths use, as literals: an imported constant costs a load and a check at
 * every use in optimised code (tsc emits it as a mutable property of the module's exports).
 */
const enum Hot { GranuleShift = 4, GranuleMask = 15, CacheStride = 256, NoClass = 255, Segment = 4294967296 }

/** cls[c] of a chunk that is not a run: the fast free tells a run by its class alone. */
export const NO_CLASS = Hot.NoClass
assert(Hot.GranuleShift === F.GRANULE_SHIFT && Hot.GranuleMask === F.GRANULE - 1 && Hot.CacheStride === CACHE_STRIDE,
  'chunk-space: Hot constants out of step with format.ts and size-classes.ts')

/**
 * The allocation bitmap's indexing, shared by every bitmap of the chunk area (the marks too):
 * bit g = (p − dataOff) / 16 is bit g % 32 of word g / 32. For rel = p − dataOff that word is
 * rel / 512 (not rel >>> 9 alone: rel may pass 2^32), the bit (rel >>> 4) & 31 (the low bits
 * survive `>>>`). The fast paths inline the narrow case.
 */
export function bitWord(rel: number): number { return rel < 4294967296 ? rel >>> 9 : Math.floor(rel / 512) }
export function bitMask(rel: number): number { return 1 << ((rel >>> Hot.GranuleShift) & 31) }

/** Volatile chunk states. FREE, RUN and LARGE match the table; the others are volatile only. */
export const C_FREE = 0
export const C_RUN = 1
export const C_LARGE = 2
/** Covered by a large object whose head is elsewhere (on media: FREE). */
export const C_CONT = 3
/** Released, its FREE entry flushed but not yet drained: not reusable until the next drain. */
export const C_QUARANTINE = 4

/**
 * The chunk space: chunks, runs of size classes, large objects, and the
 * allocation bitmap. Small alloc and free write nothing durable.
 *
 * The small-block fast path (after Makalu's thread-local free lists): each size class has a
 * volatile cache of free blocks, a stack in a typed array. A free clears the block's bit and
 * pushes it; an alloc pops one and sets its bit. The cache is refilled from the current run
 * (its free list, then its bump range) and, when full, spills its oldest half back to the
 * runs' free lists, in batches. A cached block is simply free: its bit is clear and it counts
 * in nFree, so recovery, close and the clean-state check need nothing from the cache.
 *
 * Invariants (checked by heap.check()):
 *   kind[c] = FREE or QUARANTINE ⇒ the table entry of c is FREE (0); its bitmap bits are
 *                                  never read (a claim clears them)
 *   kind[c] = FREE               ⇒ that entry is durable (so c can be claimed with one store)
 *   kind[c] = RUN                ⇒ entry = RUN | cls[c];   nFree[c] = perChunk − popcount(bits of c);
 *                                  bits are set only at block starts
 *   kind[c] ≠ RUN                ⇔ cls[c] = NO_CLASS
 *   kind[c] = LARGE              ⇒ entry = LARGE, arg = span[c]; bit of the head set; c+1 … c+span−1 are CONT
 *   cache[sc]                    = distinct clear block starts of RUN chunks of class sc, on no free list
 *                                  and below their chunk's bump[c] (if built); ≤ cacheCap[sc] of them
 *   built[c]                     ⇒ free list of c + blocks at or past bump[c] + cached blocks of c
 *                                  = exactly the clear block starts of c
 *   used = Σ usable size of allocated blocks;  liveBlocks = Σ bits
 *
 * Shared between heaps of worker_threads (shared-space.ts): the per-chunk arrays above and the
 * caches live in SharedArrayBuffers; each heap is a slot. A run belongs to one slot (owner[c]):
 * only it allocates from the run and writes its bits, counts and free list. A free by another
 * heap sets the block's pending bit and pushes the block on the owner's remote-free stack; the
 * owner takes its stack on its slow path (a refill) and frees the blocks as its own. A heap that
 * detaches empties its caches and leaves its runs as orphans, which the next heap that needs a
 * run of that class, or frees a block in one, adopts. Chunk-level changes take the chunk lock.
 */
export class ChunkSpace {
  readonly classes: SizeClasses
  chunkCount: number
  readonly shared: SharedSpace
  /** RUN: the slot of the heap that allocates from it (0: an orphan). */
  readonly owner: Uint8Array
  /** One bit per granule: a free by another heap waits on the owner's remote-free stack. */
  private readonly pend: Int32Array
  readonly kind: Uint8Array
  readonly cls: Uint8Array
  /** RUN: free blocks (valid for this heap's own runs only: freeOf(c) for any). */
  readonly nFree: Uint32Array
  /**
   * RUN: head of the intrusive free list (an offset, 0 = empty); the links live in the free
   * blocks, each the full offset of the next, as an 8-byte word (readLink/writeLink).
   * In a wide heap offsets are Float64Array elements here and in the caches (past 4 GiB they
   * need 64 bits); else Uint32Array, as before.
   */
  readonly freeHead: Uint32Array | Float64Array
  /** RUN: first never-used block; blocks from here to the end of the run are free. */
  readonly bump: Uint32Array | Float64Array
  /** RUN: whether freeHead/bump are valid (false after open until the chunk is first allocated from). */
  readonly built: Uint8Array
  /** LARGE: chunks spanned. CONT: index of the head. */
  readonly span: Uint32Array
  /** Per class: the chunk allocations come from (−1: none). */
  readonly current: Int32Array
  /** Per class: chunks with free blocks, other than the current one (entries may be stale: see inPartial). */
  private readonly partial: number[][]
  private readonly inPartial: Uint8Array
  /** Per class sc, slots [sc·CACHE_STRIDE, sc·CACHE_STRIDE + cacheTop[sc]): cached free blocks, newest last. */
  readonly cache: Uint32Array | Float64Array
  readonly cacheTop: Uint32Array
  /**
   * Chunks added by a grow of the region in this process whose bytes were never handed out:
   * they read as zero (a grown file's new bytes), so a large object there is not zero-filled
   * (a huge object costs no page touched). Cleared when the chunk is claimed.
   */
  private readonly fresh: Uint8Array
  /** Wide heaps: chunks per 4 GiB segment, and the index of the first chunk of segment 1 (format.ts). */
  private readonly segChunks: number
  private readonly segFirst: number
  /** 1 / chunkSize (exact, a power of two): the chunk of an offset past 4 GiB by a multiply, not a division. */
  private readonly perChunkByte: number
  private quarantine: number[] = []
  private quarantinedChunks = 0
  /** Lowest chunk that may be FREE (shared: under the chunk lock). */
  private get freeHint(): number { return this.shared.freeHint }
  private set freeHint(c: number) { this.shared.freeHint = c }
  /**
   * [8·slot] blocks, [8·slot + 1] usable bytes handed out by this heap of the runs' free lists
   * and bump ranges (allocated or cached), and of large objects: the fast path moves blocks
   * between a cache and the program without touching them, so `used` and `liveBlocks` subtract
   * what the caches hold. Summed over the attached slots, with the orphans' pair [0], [1].
   */
  private readonly out: Float64Array
  private readonly ob: number
  private count(blocks: number, bytes: number): void {
    this.out[this.ob] += blocks
    this.out[this.ob + 1] += bytes
  }
  /** Depth of this heap's hold on the chunk lock (re-entrant: a claim may drain, which unquarantines). */
  private lockDepth = 0

  private readonly dataOff: number
  private readonly shift: number
  private readonly chunkMask: number
  private readonly bitBase: number
  // Copies of hot fields and the region's views (refreshed when the region grows), for the fast path.
  private readonly sizes: Uint32Array
  private readonly perChunk: Uint32Array
  private readonly cacheCap: Uint32Array
  private readonly byGranules: Uint8Array
  private readonly maxSmall: number
  private u32!: Uint32Array
  private bytes!: Uint8Array
  /** Over the same bytes: zeroing a small block takes half the stores (null if the bytes do not start 8-aligned). */
  private f64!: Float64Array | null
  /** The same per segment (wide heaps: segment 0 is f64). */
  private f64s!: Float64Array[]

  constructor(
    private readonly mem: Memory,
    readonly layout: Layout,
    chunkCount: number,
    /** Grows the region by at least `chunks` chunks; returns false if it cannot. */
    private readonly growBy: (chunks: number) => boolean,
    /** A drain of the heap (makes quarantined chunks reusable). */
    private readonly drain: () => void,
    /** The state shared with heaps attached in other threads (default: new, this heap alone). */
    shared?: SharedSpace,
    /** This heap's slot in it. */
    readonly slot = OPENER_SLOT,
  ) {
    this.classes = new SizeClasses(layout.chunkSize)
    this.chunkCount = chunkCount
    const n = layout.maxChunks
    const sh = (this.shared = shared ?? new SharedSpace(layout, this.classes.count))
    this.kind = sh.kind
    this.cls = sh.cls
    this.owner = sh.owner
    this.pend = sh.pending
    this.nFree = new Uint32Array(n)
    // A wide heap keeps its offsets in Float64Arrays of its own: it can not be shared (heap.share()).
    this.freeHead = mem.wide ? new Float64Array(n) : sh.freeHead
    this.bump = mem.wide ? new Float64Array(n) : sh.bump
    this.fresh = sh.fresh
    this.segChunks = F.SEGMENT_SIZE / layout.chunkSize
    this.perChunkByte = 1 / layout.chunkSize
    this.segFirst = (F.SEGMENT_SIZE - layout.dataOff) / layout.chunkSize // an integer in a wide heap
    this.built = sh.built
    this.span = sh.span
    this.out = sh.out
    this.ob = 8 * slot
    this.inPartial = new Uint8Array(n)
    this.current = new Int32Array(this.classes.count).fill(-1)
    this.partial = Array.from({ length: this.classes.count }, () => [])
    this.dataOff = layout.dataOff
    this.shift = layout.chunkShift
    this.chunkMask = layout.chunkSize - 1
    this.bitBase = layout.bitmapOff >>> 2
    this.sizes = this.classes.sizes
    this.perChunk = this.classes.perChunk
    this.cacheCap = this.classes.cacheCap
    this.byGranules = this.classes.byGranules
    this.maxSmall = this.classes.maxSmall
    // A process with heaps of one segment only keeps the fast path monomorphic on Uint32Array.
    this.cache = mem.wide ? new Float64Array(this.classes.count * CACHE_STRIDE) : sh.cacheOf(slot)
    this.cacheTop = sh.cacheTopOf(slot)
    this.refreshViews()
  }

  private refreshViews(): void {
    this.u32 = this.mem.u32
    const b = (this.bytes = this.mem.bytes)
    this.f64 = b.byteOffset % 8 === 0 ? new Float64Array(b.buffer, b.byteOffset, Math.floor(b.length / 8)) : null
    this.f64s = this.mem.seg8.map((s, i) => i === 0 && this.f64 !== null ? this.f64 : new Float64Array(s.buffer, s.byteOffset, Math.floor(s.length / 8)))
  }

  /** Whether chunk c is the first of a segment past segment 0 (a block never spans such a boundary). */
  private startsSegment(c: number): boolean {
    return c >= this.segFirst && (c - this.segFirst) % this.segChunks === 0
  }

  /**
   * The link stored in free block p: the next free block of its list (0: none). A list stays in
   * one chunk, so below 4 GiB the link is the low word alone (the high word is not written).
   */
  private readLink(p: number): number {
    const u = this.mem.u32At(p)
    const i = p >>> 2
    return p < Hot.Segment ? u[i] : u[i] + u[i + 1] * Hot.Segment
  }
  private writeLink(p: number, next: number): void {
    const u = this.mem.u32At(p)
    const i = p >>> 2
    u[i] = next >>> 0
    u[i + 1] = Math.floor(next / Hot.Segment)
  }

  /** Usable bytes of allocated blocks, of every attached heap (a block freed by a non-owner counts until its owner takes it). */
  get used(): number { return this.totals(1) }

  /** Allocated blocks (likewise). */
  get liveBlocks(): number { return this.totals(0) }

  private totals(bytes: 0 | 1): number {
    let n = this.out[bytes]
    for (let m = this.shared.slots; m !== 0; m &= m - 1) {
      const s = 31 - Math.clz32(m & -m)
      const top = s === this.slot ? this.cacheTop : this.shared.cacheTopOf(s)
      let cached = 0
      for (let sc = 0; sc < top.length; sc++) cached += top[sc] * (bytes ? this.sizes[sc] : 1)
      n += this.out[8 * s + bytes] - cached
    }
    return n
  }

  // ── addresses ──────────────────────────────────────────────────────────────
  chunkBase(c: number): number { return this.dataOff + c * this.layout.chunkSize }
  chunkOf(p: number): number { return Math.floor((p - this.dataOff) / this.layout.chunkSize) }
  entryOff(c: number): number { return this.layout.chunkTableOff + c * F.CHUNK_ENTRY_SIZE }

  // ── the bitmap ───────────────────────────────────────────────────────────
  testBit(p: number): boolean {
    const rel = p - this.dataOff
    return (this.mem.u32[this.bitBase + bitWord(rel)] & bitMask(rel)) !== 0
  }
  private setBit(p: number): void {
    const rel = p - this.dataOff
    this.mem.u32[this.bitBase + bitWord(rel)] |= bitMask(rel)
  }
  private clearBit(p: number): void {
    const rel = p - this.dataOff
    this.mem.u32[this.bitBase + bitWord(rel)] &= ~bitMask(rel)
  }
  /** Free blocks of run c, whoever owns it (its own count, else by its bits). */
  freeOf(c: number): number {
    return this.owner[c] === this.slot ? this.nFree[c] : this.perChunk[this.cls[c]] - this.countBits(c)
  }

  /** Allocated blocks in chunk c, by popcount of its bitmap words. */
  countBits(c: number): number {
    const words = this.layout.chunkSize >>> (F.GRANULE_SHIFT + 5)
    const from = this.bitBase + c * words
    const u = this.mem.u32
    let n = 0
    for (let i = from; i < from + words; i++) n += popcount(u[i])
    return n
  }
  /** Offset range of chunk c's bitmap bytes (for flushing). */
  bitmapRange(c: number, count = 1): [number, number] {
    const bytesPer = this.layout.chunkSize >>> (F.GRANULE_SHIFT + 3)
    return [this.layout.bitmapOff + c * bytesPer, bytesPer * count]
  }

  // ── lookups ──────────────────────────────────────────────────────────────
  /** The usable size of the block starting at p (allocated or not), or −1 if no block starts at p. */
  blockSize(p: number): number {
    // Not (p & 15) alone: it truncates, and p + 0.5 would name the block at p.
    if (!(p >= this.dataOff && p <= Number.MAX_SAFE_INTEGER) || p % F.GRANULE !== 0) return -1
    const rel = p - this.dataOff
    const c = Math.floor(rel / this.layout.chunkSize)
    if (c >= this.chunkCount) return -1
    const k = this.kind[c]
    const off = rel & this.chunkMask
    if (k === C_RUN) {
      const sc = this.cls[c]
      const size = this.classes.sizes[sc]
      const i = Math.floor((off + 0.5) * this.classes.inverse[sc]) // off / size, without a division
      return i * size === off && i < this.classes.perChunk[sc] ? size : -1
    }
    if (k === C_LARGE && off === 0) return this.span[c] * this.layout.chunkSize
    return -1
  }

  /** Size of the allocated block starting at p, or −1 if p is not one. */
  allocatedSize(p: number): number {
    const size = this.blockSize(p)
    return size > 0 && this.testBit(p) ? size : -1
  }

  /** Start of the allocated block containing p (any byte of it), or −1. */
  blockContaining(p: number): number {
    if (p < this.dataOff) return -1
    let c = this.chunkOf(p)
    if (c >= this.chunkCount) return -1
    if (this.kind[c] === C_CONT) c = this.span[c]
    const k = this.kind[c]
    let start = -1
    if (k === C_RUN) {
      const size = this.classes.sizes[this.cls[c]]
      const base = this.chunkBase(c)
      const i = Math.floor((p - base) / size)
      if (i < this.classes.perChunk[this.cls[c]]) start = base + i * size
    } else if (k === C_LARGE) start = this.chunkBase(c)
    return start >= 0 && this.testBit(start) ? start : -1
  }

  // ── small blocks ─────────────────────────────────────────────────────────
  /** A zero-filled block of `size` bytes, if that is a small size (an integer up to maxSmall); else −1, nothing done. */
  allocSize(size: number): number {
    if ((size >>> 0) !== size || size > this.maxSmall) return -1
    return this.allocSmall(this.byGranules[(size + Hot.GranuleMask) >>> Hot.GranuleShift])
  }

  /** A zero-filled block of class sc. No durable write unless a chunk must be claimed (one flushed store). */
  allocSmall(sc: number): number {
    let t = this.cacheTop[sc]
    if (t === 0) t = this.refill(sc)
    const p = this.cache[sc * Hot.CacheStride + t - 1]
    this.cacheTop[sc] = t - 1
    if (p >= Hot.Segment) return this.allocPast4G(p, sc)
    const rel = p - this.dataOff
    this.nFree[rel >>> this.shift]--
    const g = rel >>> Hot.GranuleShift
    this.u32[this.bitBase + (g >>> 5)] |= 1 << (g & 31)
    const size = this.sizes[sc]
    // Small blocks: 8-byte stores, two per granule, beat the call into TypedArray.prototype.fill.
    if (size <= 256 && this.f64 !== null) {
      const f = this.f64
      let i = p >>> 3
      const end = i + (size >>> 3)
      if (size & 16) {
        f[i] = 0
        f[i + 1] = 0
        i += 2
      }
      for (; i < end; i += 4) {
        f[i] = 0
        f[i + 1] = 0
        f[i + 2] = 0
        f[i + 3] = 0
      }
    } else this.bytes.fill(0, p, p + size)
    return p
  }

  /** The rest of allocSmall for a block past 4 GiB: the same steps in 64-bit-safe arithmetic. */
  private allocPast4G(p: number, sc: number): number {
    const rel = p - this.dataOff
    this.nFree[Math.floor(rel * this.perChunkByte)]--
    this.u32[this.bitBase + Math.floor(rel * (1 / 512))] |= 1 << ((rel >>> Hot.GranuleShift) & 31)
    const size = this.sizes[sc]
    const f = this.f64s[Math.floor(p * (1 / Hot.Segment))] // exact: 2^-32
    for (let i = p >>> 3, end = i + (size >>> 3); i < end; i += 2) {
      f[i] = 0
      f[i + 1] = 0
    }
    return p
  }

  /**
   * The common free: p is the start of an allocated block in a run (exact: the run's bits are set
   * only at block starts). Returns false, having changed nothing, for anything else.
   */
  freeFast(p: number): boolean {
    if ((p >>> 0) !== p || (p & Hot.GranuleMask) !== 0 || p < this.dataOff) return p >= Hot.Segment && this.freePast4G(p)
    const rel = p - this.dataOff
    const c = rel >>> this.shift
    const sc = this.cls[c] // NO_CLASS unless c is a run (undefined past the table)
    if (!(sc < Hot.NoClass) || this.owner[c] !== this.slot) return false
    const g = rel >>> Hot.GranuleShift
    const i = this.bitBase + (g >>> 5)
    const w = this.u32[i]
    const bit = 1 << (g & 31)
    if ((w & bit) === 0 || (this.pend[g >>> 5] & bit) !== 0) return false
    this.u32[i] = w ^ bit
    this.putFree(p, c, sc)
    return true
  }

  /** freeFast for p past 4 GiB: the same test in 64-bit-safe arithmetic. */
  private freePast4G(p: number): boolean {
    // (p & 15) reads p's low bits (ToInt32), but would pass 2^32 + 0.5: hence Math.floor too.
    if (!(p <= Number.MAX_SAFE_INTEGER) || (p & Hot.GranuleMask) !== 0 || Math.floor(p) !== p) return false
    const rel = p - this.dataOff
    const c = Math.floor(rel * this.perChunkByte) // exact: a power of two
    const sc = this.cls[c]
    if (!(sc < Hot.NoClass) || this.owner[c] !== this.slot) return false
    const i = this.bitBase + Math.floor(rel * (1 / 512))
    const w = this.u32[i]
    const bit = 1 << ((rel >>> Hot.GranuleShift) & 31)
    if ((w & bit) === 0) return false
    this.u32[i] = w ^ bit
    this.putFree(p, c, sc)
    return true
  }

  private freeSmall(p: number, c: number): void {
    if (this.owner[c] !== this.slot) return this.freeRemote(p, c)
    const g = (p - this.dataOff) >>> F.GRANULE_SHIFT
    if ((this.pend[g >>> 5] & (1 << (g & 31))) !== 0) { // (undefined past a wide heap's empty bitmap)
      throw new InvalidPointerError(`heap: free(${p}): the block is not allocated (freed already, by another thread?)`)
    }
    this.clearBit(p)
    this.putFree(p, c, this.cls[c])
  }

  // ── frees of blocks in runs of other heaps ──────────────────────────────
  /**
   * A free of block p of run c owned by another heap (or by none): the block's pending bit is
   * set (a second free of it is refused), then it is pushed on the owner's remote-free stack.
   * An orphan run is adopted first (under the chunk lock) and freed into as one's own. If the
   * owner is detaching (its stack CLOSED), wait until its runs have been handed back.
   */
  private freeRemote(p: number, c: number): void {
    const g = (p - this.dataOff) >>> F.GRANULE_SHIFT
    const w = g >>> 5
    const bit = 1 << (g & 31)
    for (;;) {
      const o = Atomics.load(this.owner, c)
      if (o === this.slot) {
        this.clearBit(p)
        return this.putFree(p, c, this.cls[c])
      }
      if (o === 0) {
        this.lockChunks()
        try {
          if (this.owner[c] === 0 && this.kind[c] === C_RUN) this.adoptOrphan(c)
        } finally { this.unlockChunks() }
        continue
      }
      if ((Atomics.or(this.pend, w, bit) & bit) !== 0) {
        throw new InvalidPointerError(`heap: free(${p}): the block is not allocated (a free of it by another thread is pending)`)
      }
      if (this.shared.push(o, g + 1, (next) => this.setRemoteLink(p, next))) return
      Atomics.and(this.pend, w, ~bit) // the owner detaches: its runs change hands, then try again
    }
  }

  /** Takes this heap's remote-free stack and frees its blocks (passing on those of runs that changed hands). `to`: CLOSED when detaching. */
  drainRemote(to = 0): void {
    let g1 = this.shared.takeAll(this.slot, to)
    while (g1 !== 0) {
      const p = this.dataOff + (g1 - 1) * F.GRANULE
      g1 = this.remoteLink(p)
      const g = (p - this.dataOff) >>> F.GRANULE_SHIFT
      const c = (p - this.dataOff) >>> this.shift
      if (this.owner[c] === this.slot) {
        // The bit first: from here a second free is refused by its bit, before the pending bit goes.
        this.clearBit(p)
        Atomics.and(this.pend, g >>> 5, ~(1 << (g & 31)))
        this.putFree(p, c, this.cls[c])
      } else {
        Atomics.and(this.pend, g >>> 5, ~(1 << (g & 31)))
        this.freeRemote(p, c)
      }
    }
  }

  /** The next block on a remote-free stack after block p (its granule + 1, or 0): the block's first word. */
  private remoteLink(p: number): number { return this.u32[p >>> 2] }
  private setRemoteLink(p: number, next: number): void { this.u32[p >>> 2] = next }

  /** Makes orphan run c this heap's (under the chunk lock): its live blocks move to this heap's counters. */
  private adoptOrphan(c: number): void {
    const sc = this.cls[c]
    this.owner[c] = this.slot
    this.nFree[c] = this.perChunk[sc] - this.countBits(c)
    this.shared.orphans--
    const live = this.perChunk[sc] - this.nFree[c]
    this.out[0] -= live
    this.out[1] -= live * this.sizes[sc]
    this.count(live, live * this.sizes[sc])
    if (this.nFree[c] > 0 && c !== this.current[sc] && !this.inPartial[c]) {
      this.inPartial[c] = 1
      this.partial[sc].push(c)
    }
  }

  /**
   * This heap detaches: its remote-free stack is closed and emptied, its caches go back to
   * their runs, and its runs become orphans, its counters theirs. Volatile only.
   */
  detach(): void {
    this.drainRemote(CLOSED)
    for (let sc = 0; sc < this.classes.count; sc++) {
      while (this.cacheTop[sc] > 0) this.spill(sc, true)
      this.current[sc] = -1
    }
    this.lockChunks()
    try {
      let orphaned = 0
      for (let c = 0; c < this.chunkCount; c++) {
        if (this.owner[c] === this.slot) { this.owner[c] = 0; orphaned++ }
      }
      this.shared.orphans += orphaned
      this.out[0] += this.out[this.ob]
      this.out[1] += this.out[this.ob + 1]
      this.out[this.ob] = 0
      this.out[this.ob + 1] = 0
      this.shared.releaseSlot(this.slot)
    } finally { this.unlockChunks() }
  }

  /** Adopts every orphan run and takes the remote-free stack (the opening heap, alone again, before a clean close). */
  adoptAll(): void {
    this.drainRemote()
    this.lockChunks()
    try {
      for (let c = 0; c < this.chunkCount && this.shared.orphans > 0; c++) {
        if (this.kind[c] === C_RUN && this.owner[c] === 0) this.adoptOrphan(c)
      }
    } finally { this.unlockChunks() }
  }

  lockChunks(): void { if (this.lockDepth++ === 0) this.shared.lockChunks() }
  unlockChunks(): void { if (--this.lockDepth === 0) this.shared.unlockChunks() }

  /** A block of run c (class sc) whose bit was just cleared: counted free, then cached (or released with its run). */
  private putFree(p: number, c: number, sc: number): void {
    const t = this.cacheTop[sc]
    if (++this.nFree[c] === this.perChunk[sc] || t === this.cacheCap[sc]) return this.putFreeSlow(p, c, sc)
    this.cache[sc * Hot.CacheStride + t] = p
    this.cacheTop[sc] = t + 1
  }

  /** putFree when the run is now empty or the cache is full. */
  private putFreeSlow(p: number, c: number, sc: number): void {
    if (this.nFree[c] === this.perChunk[sc] && c !== this.current[sc]) {
      this.count(-1, -this.sizes[sc])
      return this.releaseChunks(c, 1)
    }
    let t = this.cacheTop[sc]
    if (t === this.cacheCap[sc]) t = this.spill(sc)
    this.cache[sc * CACHE_STRIDE + t] = p
    this.cacheTop[sc] = t + 1
  }

  /** The cache of class sc is full: its oldest half (`all`: all of it) goes back to the free lists of its runs. Returns the new count. */
  private spill(sc: number, all = false): number {
    const base = sc * CACHE_STRIDE
    const top = this.cacheTop[sc]
    const n = all ? top : top >>> 1
    const u = this.u32
    for (let i = base; i < base + n; i++) {
      const p = this.cache[i]
      const c = p < Hot.Segment ? (p - this.dataOff) >>> this.shift : this.chunkOf(p)
      // An unbuilt run gets no link: buildFreeList finds its clear bits later.
      if (this.built[c]) {
        if (p < Hot.Segment) u[p >>> 2] = this.freeHead[c]
        else this.writeLink(p, this.freeHead[c])
        this.freeHead[c] = p
      }
      if (c !== this.current[sc] && !this.inPartial[c]) {
        this.inPartial[c] = 1
        this.partial[sc].push(c)
      }
    }
    this.cache.copyWithin(base, base + n, base + top)
    this.cacheTop[sc] = top - n
    this.count(-n, -n * this.sizes[sc])
    return top - n
  }

  /** Drops the cached blocks of run c (it is being released). */
  private purge(c: number): void {
    const sc = this.cls[c]
    const base = sc * CACHE_STRIDE
    const end = base + this.cacheTop[sc]
    let j = base
    for (let i = base; i < end; i++) {
      const p = this.cache[i]
      if (this.chunkOf(p) !== c) this.cache[j++] = p
    }
    this.count(-(end - j), -(end - j) * this.sizes[sc])
    this.cacheTop[sc] = j - base
  }

  /**
   * The cache of class sc is empty: moves up to half its capacity of free blocks into it from
   * the current run, or the next run with free blocks, or a newly claimed one. Returns the count.
   * (With the cache empty, every free block of the class is on a free list, in a bump range or,
   * in an unbuilt run, found by its clear bit: a run with nFree > 0 always yields some.)
   */
  private refill(sc: number): number {
    if (this.shared.head(this.slot) !== 0) {
      this.drainRemote()
      if (this.cacheTop[sc] > 0) return this.cacheTop[sc]
    }
    const want = Math.max(1, this.cacheCap[sc] >>> 1)
    let c = this.current[sc]
    for (;;) {
      if (c >= 0) {
        const n = this.take(c, sc, want)
        if (n > 0) return n
      }
      c = this.current[sc] = this.nextRun(sc)
    }
  }

  /** Moves up to `want` free blocks of run c into the (empty) cache of sc, lowest address on top. */
  private take(c: number, sc: number, want: number): number {
    const base = sc * CACHE_STRIDE
    const size = this.sizes[sc]
    const end = this.chunkBase(c) + this.perChunk[sc] * size
    const u = this.u32
    let n = 0
    let p = this.freeHead[c]
    while (n < want && p !== 0) {
      this.cache[base + n++] = p
      p = p < Hot.Segment ? u[p >>> 2] : this.readLink(p)
    }
    this.freeHead[c] = p
    let b = this.bump[c]
    while (n < want && b < end) {
      this.cache[base + n++] = b
      b += size
    }
    this.bump[c] = b
    for (let i = base, j = base + n - 1; i < j; i++, j--) {
      const x = this.cache[i]
      this.cache[i] = this.cache[j]
      this.cache[j] = x
    }
    this.cacheTop[sc] = n
    this.count(n, n * size)
    return n
  }

  /** The next run of class sc to allocate from: one with free blocks, else a newly claimed chunk. */
  private nextRun(sc: number): number {
    const list = this.partial[sc]
    while (list.length > 0) {
      const c = list.pop()!
      if (!this.inPartial[c]) continue
      this.inPartial[c] = 0
      if (this.kind[c] !== C_RUN || this.cls[c] !== sc || this.owner[c] !== this.slot || this.nFree[c] === 0) continue
      if (!this.built[c]) this.buildFreeList(c)
      return c
    }
    this.lockChunks()
    let c: number
    try {
      c = this.adoptOrphanOf(sc)
      if (c >= 0) {
        if (!this.built[c]) this.buildFreeList(c)
        this.inPartial[c] = 0
        return c
      }
      c = this.claimChunks(1)
      // Step 1 (commits): the entry RUN|class, one store. Flushed; the next drain makes it durable,
      // which is before any block of the run can be published (publishing drains first; a
      // publish in the drain that writes the block drains first while claimsUndrained).
      this.writeEntry(c, F.KIND_RUN, sc, 0)
      this.claimsUndrained = true
      this.nFree[c] = this.classes.perChunk[sc]
      this.freeHead[c] = 0
      this.bump[c] = this.chunkBase(c)
      this.initRun(c, sc)
      this.built[c] = 1
    } finally { this.unlockChunks() }
    this.afterClaim()
    return c
  }

  /** An orphan run of class sc with free blocks, adopted (under the chunk lock); −1 if none. */
  private adoptOrphanOf(sc: number): number {
    if (this.shared.orphans === 0) return -1
    for (let c = 0; c < this.chunkCount; c++) {
      if (this.kind[c] === C_RUN && this.owner[c] === 0 && this.cls[c] === sc && this.freeOf(c) > 0) {
        this.adoptOrphan(c)
        return c
      }
    }
    return -1
  }

  /**
   * With other heaps attached, a claim is drained at once: a block of the chunk may be handed to
   * another thread, whose drains do not cover this heap's flushes (on 'process' durability a
   * drain of the mmap region costs nothing).
   */
  private afterClaim(): void {
    if (this.shared.othersAttached(this.slot)) this.drain()
  }

  /** Per chunk: how many of its blocks are in a cache. */
  cachedPerChunk(): Uint32Array {
    const n = new Uint32Array(this.chunkCount)
    for (const [, cache, top] of this.slotCaches()) {
      for (let sc = 0; sc < this.classes.count; sc++) {
        for (let i = sc * CACHE_STRIDE, end = i + top[sc]; i < end; i++) {
          const c = this.chunkOf(cache[i])
          if (c < n.length) n[c]++
        }
      }
    }
    return n
  }

  /** Every attached slot with its cache and cacheTop. */
  private slotCaches(): Array<[number, Uint32Array | Float64Array, Uint32Array]> {
    const r: Array<[number, Uint32Array | Float64Array, Uint32Array]> = []
    for (let m = this.shared.slots; m !== 0; m &= m - 1) {
      const s = 31 - Math.clz32(m & -m)
      r.push(s === this.slot ? [s, this.cache, this.cacheTop] : [s, this.shared.cacheOf(s), this.shared.cacheTopOf(s)])
    }
    return r
  }

  /** Reports every break of the fast path's invariants: the caches', and cls = NO_CLASS off runs (see the class comment). */
  checkCaches(fail: (s: string) => void): void {
    for (let c = 0; c < this.layout.maxChunks; c++) {
      if ((this.kind[c] === C_RUN) !== (this.cls[c] !== NO_CLASS)) {
        fail(`chunk ${c}: volatile kind ${this.kind[c]} but class ${this.cls[c]}`)
        break
      }
    }
    const seen = new Set<number>()
    for (const [s, cache, top] of this.slotCaches()) {
      for (let sc = 0; sc < this.classes.count; sc++) {
        if (top[sc] > this.cacheCap[sc]) fail(`cache of class ${sc}: ${top[sc]} blocks, over its capacity ${this.cacheCap[sc]}`)
        for (let i = sc * CACHE_STRIDE, end = i + top[sc]; i < end; i++) {
          const p = cache[i]
          const c = this.chunkOf(p)
          const why = p < this.dataOff || c >= this.chunkCount || this.kind[c] !== C_RUN || this.cls[c] !== sc ? 'not in a run of its class'
            : this.owner[c] !== s ? `in a run of slot ${this.owner[c]}, not of slot ${s}`
              : this.blockSize(p) < 0 ? 'not a block start'
                : this.testBit(p) ? 'allocated'
                  : seen.has(p) ? 'cached twice'
                    : this.built[c] && p >= this.bump[c] ? 'past its run\'s bump pointer' : ''
          if (why) fail(`cache of class ${sc}${s === OPENER_SLOT ? '' : ` (slot ${s})`}: block ${p} ${why}`)
          seen.add(p)
        }
      }
    }
    this.checkShared(fail)
  }

  /** The shared state's invariants (shared-space.ts): owners, orphans, remote-free stacks and their pending bits. */
  private checkShared(fail: (s: string) => void): void {
    const slots = this.shared.slots
    let orphans = 0
    for (let c = 0; c < this.layout.maxChunks; c++) {
      const o = this.owner[c]
      if (o !== 0 && (this.kind[c] !== C_RUN || (slots & (1 << o)) === 0)) {
        fail(`chunk ${c}: owner ${o}, but ${this.kind[c] !== C_RUN ? 'not a run' : 'that slot is not attached'}`)
      }
      if (o === 0 && this.kind[c] === C_RUN) orphans++
    }
    if (orphans !== this.shared.orphans) fail(`${orphans} orphan runs, but the shared count says ${this.shared.orphans}`)
    let listed = 0
    for (let s = 1; s < 32; s++) {
      if ((slots & (1 << s)) === 0) continue
      let g1 = this.shared.head(s)
      if (g1 === CLOSED) continue
      g1 >>>= 0
      for (let n = 0; g1 !== 0; n++) {
        const p = this.dataOff + (g1 - 1) * F.GRANULE
        const g = g1 - 1
        const c = this.chunkOf(p)
        const why = c >= this.chunkCount || this.kind[c] !== C_RUN ? 'not in a run' : this.blockSize(p) < 0 ? 'not a block start'
          : !this.testBit(p) ? 'not allocated' : (this.pend[g >>> 5] & (1 << (g & 31))) === 0 ? 'without its pending bit'
            : n > this.chunkCount * (this.layout.chunkSize >>> 4) ? 'on a list that does not end' : ''
        if (why) { fail(`remote-free stack of slot ${s}: block ${p} ${why}`); break }
        listed++
        g1 = this.remoteLink(p)
      }
    }
    let pending = 0
    for (let i = 0; i < this.pend.length; i++) if (this.pend[i] !== 0) pending += popcount(this.pend[i])
    if (pending !== listed) fail(`${pending} pending remote frees, but ${listed} blocks on the remote-free stacks`)
  }

  /** Sets up the volatile state of a run chunk (after a claim, or at open). */
  initRun(c: number, sc: number): void {
    this.owner[c] = this.slot
    this.kind[c] = C_RUN
    this.cls[c] = sc
    this.built[c] = 0
    this.inPartial[c] = 0
  }

  /** Rebuilds chunk c's free list from its bitmap (lazily, after open; the cache of its class is empty then). */
  private buildFreeList(c: number): void {
    const sc = this.cls[c]
    const size = this.classes.sizes[sc]
    const base = this.chunkBase(c)
    let head = 0
    for (let i = this.classes.perChunk[sc] - 1; i >= 0; i--) {
      const p = base + i * size
      if (!this.testBit(p)) {
        this.writeLink(p, head)
        head = p
      }
    }
    this.freeHead[c] = head
    this.bump[c] = base + this.classes.perChunk[sc] * size
    this.built[c] = 1
  }

  /** Registers a run chunk found at open, with its free count; it joins its class's partial list. */
  adoptRun(c: number, sc: number, nFree: number): void {
    this.initRun(c, sc)
    this.nFree[c] = nFree
    const live = this.classes.perChunk[sc] - nFree
    this.count(live, live * this.classes.sizes[sc])
    if (nFree > 0) {
      this.inPartial[c] = 1
      this.partial[sc].push(c)
    }
  }

  /** Sets up the volatile shape of a large object found at open, without counting it. */
  adoptLargeShape(c: number, n: number): void { this.markLarge(c, n) }

  /** Registers a large object found at open. */
  adoptLarge(c: number, n: number): void {
    this.markLarge(c, n)
    this.count(1, n * this.layout.chunkSize)
  }

  /** Puts the partial lists in address order (lowest pops first); call once after adopting. */
  sortPartials(): void {
    for (const list of this.partial) list.sort((a, b) => b - a)
  }

  // ── large blocks ─────────────────────────────────────────────────────────
  allocLarge(size: number): number {
    const n = Math.ceil(size / this.layout.chunkSize)
    let p: number
    this.lockChunks()
    try {
      const c = this.claimChunks(n, true)
      p = this.chunkBase(c)
      this.markLarge(c, n) // held under the lock; published below
      // Step 1 (commits): the head entry LARGE, arg = n; the covered entries are FREE already.
      this.writeEntry(c, F.KIND_LARGE, 0, n)
      this.claimsUndrained = true
      this.setBit(p)
      this.count(1, n * this.layout.chunkSize)
    } finally { this.unlockChunks() }
    this.afterClaim()
    return p
  }

  private markLarge(c: number, n: number): void {
    this.kind[c] = C_LARGE
    this.cls[c] = NO_CLASS
    this.span[c] = n
    for (let i = 1; i < n; i++) {
      this.kind[c + i] = C_CONT
      this.cls[c + i] = NO_CLASS
      this.span[c + i] = c
    }
  }

  // ── free ─────────────────────────────────────────────────────────────────
  /** Checks that p is an allocated block start; returns its size or throws. */
  validate(p: number, what: string): number {
    const size = typeof p === 'number' ? this.allocatedSize(p) : -1
    if (size < 0) {
      const why = typeof p !== 'number' ? 'not a number'
        : this.blockSize(p) > 0 ? 'the block is not allocated (freed already?)' : 'not the start of a block'
      throw new InvalidPointerError(`heap: ${what}(${String(p)}): ${why}`)
    }
    return size
  }

  free(p: number): void {
    const c = this.chunkOf(p)
    if (this.kind[c] === C_RUN) return this.freeSmall(p, c)
    assert(this.kind[c] === C_LARGE, 'free of a validated pointer in a non-block chunk')
    this.lockChunks()
    try {
      // Another thread may have freed it since it was validated.
      if (this.kind[c] !== C_LARGE || !this.testBit(p)) throw new InvalidPointerError(`heap: free(${p}): the block is not allocated (freed already, by another thread?)`)
      const n = this.span[c]
      this.clearBit(p)
      this.count(-1, -n * this.layout.chunkSize)
      this.releaseChunks(c, n)
    } finally { this.unlockChunks() }
  }

  // ── chunks ───────────────────────────────────────────────────────────────
  /** Releases n chunks from c: one store makes the head entry FREE; reusable after the next drain. */
  releaseChunks(c: number, n: number): void {
    if (this.kind[c] === C_RUN) this.purge(c)
    this.lockChunks()
    try {
      this.writeEntry(c, F.KIND_FREE, 0, -1)
      for (let i = 0; i < n; i++) {
        this.kind[c + i] = C_QUARANTINE
        this.cls[c + i] = NO_CLASS
        this.owner[c + i] = 0
        this.inPartial[c + i] = 0
        this.built[c + i] = 0
      }
      this.quarantine.push(c, n)
      this.quarantinedChunks += n
    } finally { this.unlockChunks() }
  }

  /** A chunk was claimed (its entry flushed) since the last drain: its blocks are not yet durably allocated. */
  claimsUndrained = false

  /** Called after every heap drain: quarantined chunks become FREE; claims are durable. */
  afterDrain(): void {
    this.claimsUndrained = false
    const q = this.quarantine
    if (q.length === 0) return
    this.lockChunks()
    try {
      for (let i = 0; i < q.length; i += 2) {
        // Another heap may have drained it already, and claimed it again since.
        for (let j = 0; j < q[i + 1]; j++) if (this.kind[q[i] + j] === C_QUARANTINE) this.kind[q[i] + j] = C_FREE
        if (q[i] < this.freeHint) this.freeHint = q[i]
      }
      q.length = 0
      this.quarantinedChunks = 0
    } finally { this.unlockChunks() }
  }

  /**
   * Chunks other heaps released and have not drained yet: their FREE entries are flushed here
   * too and drained, then they are FREE (under the chunk lock). Whether any were found.
   */
  private drainOthersQuarantine(): boolean {
    const found: number[] = []
    for (let c = 0; c < this.chunkCount; c++) {
      if (this.kind[c] === C_QUARANTINE) {
        found.push(c)
        this.mem.region.flush(this.entryOff(c), F.CHUNK_ENTRY_SIZE)
      }
    }
    if (found.length === 0) return false
    this.drain()
    for (const c of found) {
      if (this.kind[c] !== C_QUARANTINE) continue
      this.kind[c] = C_FREE
      if (c < this.freeHint) this.freeHint = c
    }
    return true
  }

  /** Marks chunk c free at open (its entry is durable FREE). */
  adoptFree(c: number): void { this.kind[c] = C_FREE }
  resetFreeHint(): void { this.freeHint = 0 }

  /**
   * Claims n contiguous FREE chunks (first fit, draining quarantine and growing as needed):
   * clears their bitmap bits and, with `zeroData`, their bytes; a fresh chunk needs neither.
   * Under the chunk lock.
   */
  private claimChunks(n: number, zeroData = false): number {
    const c = this.findChunks(n)
    const cs = this.layout.chunkSize
    for (let i = 0; i < n;) {
      if (this.fresh[c + i]) { i++; continue }
      let j = i + 1
      while (j < n && !this.fresh[c + j]) j++
      const [off, len] = this.bitmapRange(c + i, j - i)
      this.mem.bytes.fill(0, off, off + len)
      const p = this.chunkBase(c + i) // chunks c .. c + n − 1 lie in one segment
      if (zeroData) this.mem.bytesAt(p).fill(0, p >>> 0, (p >>> 0) + (j - i) * cs)
      i = j
    }
    this.fresh.fill(0, c, c + n)
    return c
  }

  private findChunks(n: number): number {
    // Reuse released chunks before touching new ones (a compact file, warm pages): when the
    // quarantine could hold the request, one drain makes it reusable.
    if (this.quarantinedChunks >= n) this.drain()
    let c = this.findFree(n)
    if (c < 0 && this.quarantine.length > 0) {
      this.drain()
      c = this.findFree(n)
    }
    if (c < 0 && this.shared.markedShared && this.drainOthersQuarantine()) c = this.findFree(n)
    if (c < 0) {
      // Count the free chunks at the end, so growth only adds what is missing.
      let tail = 0
      while (tail < this.chunkCount && this.kind[this.chunkCount - 1 - tail] === C_FREE && !this.startsSegment(this.chunkCount - tail)) tail++
      const start = this.chunkCount - tail
      if (this.growBy(n - tail)) c = this.findFree(n, start)
    }
    if (c < 0) {
      throw new HeapFullError(`heap: out of space: no ${n} free chunk${n > 1 ? 's' : ''} of ${this.layout.chunkSize} bytes ` +
        `(${this.chunkCount} chunks, ${this.used} bytes in use` +
        `${this.shared.othersAttached(this.slot) ? '; a shared heap does not grow while other heaps are attached' : ''})`)
    }
    return c
  }

  private findFree(n: number, from = this.freeHint): number {
    const k = this.kind
    let run = 0
    let firstFree = -1
    let found = -1
    for (let c = from; c < this.chunkCount; c++) {
      if (k[c] !== C_FREE) { run = 0; continue }
      if (run > 0 && this.startsSegment(c)) run = 0 // a large object never crosses a segment boundary
      if (firstFree < 0) firstFree = c
      if (++run === n) { found = c - n + 1; break }
    }
    // No chunk below firstFree is FREE: the next search may start there.
    if (from === this.freeHint) this.freeHint = firstFree < 0 ? this.chunkCount : firstFree
    return found
  }

  /** Chunks [from, to) read as zero (a new heap file): their first claim writes no zeros. */
  markFresh(from: number, to: number): void { this.fresh.fill(1, from, to) }

  /** Called when the region grew: chunks [chunkCount, n) are new and FREE; those from `zeroFrom` on read as zero. */
  grewTo(n: number, zeroFrom = n): void {
    this.refreshViews()
    for (let c = this.chunkCount; c < n; c++) {
      this.kind[c] = C_FREE
      this.fresh[c] = c >= zeroFrom ? 1 : 0
    }
    this.chunkCount = n
  }

  /** Writes a chunk entry: arg (high half) first, then the low half, which commits; flushed, not drained. arg −1: keep. */
  writeEntry(c: number, kind: number, cls: number, arg: number): void {
    const i = this.entryOff(c) >>> 2
    if (arg >= 0) this.mem.u32[i + 1] = arg
    this.mem.u32[i] = kind | (cls << 8)
    this.mem.region.flush(this.entryOff(c), F.CHUNK_ENTRY_SIZE)
  }

  /** The largest request that would succeed without growing. */
  largestFree(): number {
    let best = 0
    let run = 0
    for (let c = 0; c < this.chunkCount; c++) {
      const k = this.kind[c]
      if (this.startsSegment(c)) run = 0
      run = k === C_FREE || k === C_QUARANTINE ? run + 1 : 0
      if (run > best) best = run
    }
    if (best > 0) return best * this.layout.chunkSize
    for (let sc = this.classes.count - 1; sc >= 0; sc--) {
      for (let c = 0; c < this.chunkCount; c++) {
        if (this.kind[c] === C_RUN && this.cls[c] === sc && this.freeOf(c) > 0) return this.classes.sizes[sc]
      }
    }
    return 0
  }

  /** Calls fn for every allocated block. */
  forEachBlock(fn: (p: number, size: number) => void): void {
    for (let c = 0; c < this.chunkCount; c++) {
      const k = this.kind[c]
      if (k === C_LARGE) fn(this.chunkBase(c), this.span[c] * this.layout.chunkSize)
      else if (k === C_RUN) {
        const size = this.classes.sizes[this.cls[c]]
        const base = this.chunkBase(c)
        for (let i = 0, n = this.classes.perChunk[this.cls[c]]; i < n; i++) {
          if (this.testBit(base + i * size)) fn(base + i * size, size)
        }
      }
    }
  }

  /** Walks chunk c's free list: its length, or −1 if it is not a list of clear block starts of c. */
  freeListLength(c: number): number {
    const limit = this.classes.perChunk[this.cls[c]]
    let n = 0
    for (let p = this.freeHead[c]; p !== 0; p = this.readLink(p)) {
      if (++n > limit || this.chunkOf(p) !== c || this.blockSize(p) < 0 || this.testBit(p) || p >= this.bump[c]) return -1
    }
    return n
  }
}

export function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333)
  return (Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24)
}
