import * as F from './format'
import { Layout } from './superblock'
import { Memory } from './memory'
import { SizeClasses, CACHE_STRIDE } from './size-classes'
import { HeapFullError, InvalidPointerError, assert } from './errors'

/**
 * The numbers the fast paths use, as literals: an imported constant costs a load and a check at
 * every use in optimised code (tsc emits it as a mutable property of the module's exports).
 */
const enum Hot { GranuleShift = 4, GranuleMask = 15, CacheStride = 256, NoClass = 255, Segment = 4294967296 }

/** cls[c] of a chunk that is not a run: the fast free tells a run by its class alone. */
export const NO_CLASS = Hot.NoClass
assert(Hot.GranuleShift === F.GRANULE_SHIFT && Hot.GranuleMask === F.GRANULE - 1 && Hot.CacheStride === CACHE_STRIDE,
  'chunk-space: Hot constants out of step with format.ts and size-classes.ts')

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
 */
export class ChunkSpace {
  readonly classes: SizeClasses
  chunkCount: number
  readonly kind: Uint8Array
  readonly cls: Uint8Array
  /** RUN: free blocks. */
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
  /** Lowest chunk that may be FREE. */
  private freeHint = 0
  /**
   * Blocks and usable bytes handed out of the runs' free lists and bump ranges (allocated or
   * cached), and of large objects: the fast path moves blocks between a cache and the program
   * without touching them, so `used` and `liveBlocks` subtract what the caches hold.
   */
  private outBlocks = 0
  private outBytes = 0

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
  ) {
    this.classes = new SizeClasses(layout.chunkSize)
    this.chunkCount = chunkCount
    const n = layout.maxChunks
    this.kind = new Uint8Array(n)
    this.cls = new Uint8Array(n).fill(NO_CLASS)
    this.nFree = new Uint32Array(n)
    this.freeHead = mem.wide ? new Float64Array(n) : new Uint32Array(n)
    this.bump = mem.wide ? new Float64Array(n) : new Uint32Array(n)
    this.fresh = new Uint8Array(n)
    this.segChunks = F.SEGMENT_SIZE / layout.chunkSize
    this.perChunkByte = 1 / layout.chunkSize
    this.segFirst = (F.SEGMENT_SIZE - layout.dataOff) / layout.chunkSize // an integer in a wide heap
    this.built = new Uint8Array(n)
    this.span = new Uint32Array(n)
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
    this.cache = mem.wide ? new Float64Array(this.classes.count * CACHE_STRIDE) : new Uint32Array(this.classes.count * CACHE_STRIDE)
    this.cacheTop = new Uint32Array(this.classes.count)
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

  /** Usable bytes of allocated blocks. */
  get used(): number {
    let cached = 0
    for (let sc = 0; sc < this.cacheTop.length; sc++) cached += this.cacheTop[sc] * this.sizes[sc]
    return this.outBytes - cached
  }

  /** Allocated blocks. */
  get liveBlocks(): number {
    let cached = 0
    for (let sc = 0; sc < this.cacheTop.length; sc++) cached += this.cacheTop[sc]
    return this.outBlocks - cached
  }

  // ── addresses ──────────────────────────────────────────────────────────────
  chunkBase(c: number): number { return this.dataOff + c * this.layout.chunkSize }
  chunkOf(p: number): number { return Math.floor((p - this.dataOff) / this.layout.chunkSize) }
  entryOff(c: number): number { return this.layout.chunkTableOff + c * F.CHUNK_ENTRY_SIZE }

  // ── the bitmap ───────────────────────────────────────────────────────────
  // Bit g = (p − dataOff) / 16 is bit g % 32 of word g / 32: that word is rel / 512 (not
  // rel >>> 9: rel may pass 2^32), the bit (rel >>> 4) & 31 (the low bits survive `>>>`).
  testBit(p: number): boolean {
    const rel = p - this.dataOff
    return (this.mem.u32[this.bitBase + Math.floor(rel / 512)] & (1 << ((rel >>> F.GRANULE_SHIFT) & 31))) !== 0
  }
  private setBit(p: number): void {
    const rel = p - this.dataOff
    this.mem.u32[this.bitBase + Math.floor(rel / 512)] |= 1 << ((rel >>> F.GRANULE_SHIFT) & 31)
  }
  private clearBit(p: number): void {
    const rel = p - this.dataOff
    this.mem.u32[this.bitBase + Math.floor(rel / 512)] &= ~(1 << ((rel >>> F.GRANULE_SHIFT) & 31))
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
    if (!(sc < Hot.NoClass)) return false
    const g = rel >>> Hot.GranuleShift
    const i = this.bitBase + (g >>> 5)
    const w = this.u32[i]
    const bit = 1 << (g & 31)
    if ((w & bit) === 0) return false
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
    if (!(sc < Hot.NoClass)) return false
    const i = this.bitBase + Math.floor(rel * (1 / 512))
    const w = this.u32[i]
    const bit = 1 << ((rel >>> Hot.GranuleShift) & 31)
    if ((w & bit) === 0) return false
    this.u32[i] = w ^ bit
    this.putFree(p, c, sc)
    return true
  }

  private freeSmall(p: number, c: number): void {
    this.clearBit(p)
    this.putFree(p, c, this.cls[c])
  }

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
      this.outBlocks--
      this.outBytes -= this.sizes[sc]
      return this.releaseChunks(c, 1)
    }
    let t = this.cacheTop[sc]
    if (t === this.cacheCap[sc]) t = this.spill(sc)
    this.cache[sc * CACHE_STRIDE + t] = p
    this.cacheTop[sc] = t + 1
  }

  /** The cache of class sc is full: its oldest half goes back to the free lists of its runs. Returns the new count. */
  private spill(sc: number): number {
    const base = sc * CACHE_STRIDE
    const top = this.cacheTop[sc]
    const n = top >>> 1
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
    this.outBlocks -= n
    this.outBytes -= n * this.sizes[sc]
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
    this.outBlocks -= end - j
    this.outBytes -= (end - j) * this.sizes[sc]
    this.cacheTop[sc] = j - base
  }

  /**
   * The cache of class sc is empty: moves up to half its capacity of free blocks into it from
   * the current run, or the next run with free blocks, or a newly claimed one. Returns the count.
   * (With the cache empty, every free block of the class is on a free list, in a bump range or,
   * in an unbuilt run, found by its clear bit: a run with nFree > 0 always yields some.)
   */
  private refill(sc: number): number {
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
    this.outBlocks += n
    this.outBytes += n * size
    return n
  }

  /** The next run of class sc to allocate from: one with free blocks, else a newly claimed chunk. */
  private nextRun(sc: number): number {
    const list = this.partial[sc]
    while (list.length > 0) {
      const c = list.pop()!
      if (!this.inPartial[c]) continue
      this.inPartial[c] = 0
      if (this.kind[c] !== C_RUN || this.cls[c] !== sc || this.nFree[c] === 0) continue
      if (!this.built[c]) this.buildFreeList(c)
      return c
    }
    const c = this.claimChunks(1)
    // Step 1 (commits): the entry RUN|class, one store. Flushed; the next drain makes it durable,
    // which is before any block of the run can be published (publishing drains first; a
    // publish in the drain that writes the block drains first while claimsUndrained).
    this.writeEntry(c, F.KIND_RUN, sc, 0)
    this.claimsUndrained = true
    this.initRun(c, sc)
    this.nFree[c] = this.classes.perChunk[sc]
    this.freeHead[c] = 0
    this.bump[c] = this.chunkBase(c)
    this.built[c] = 1
    return c
  }

  /** Per chunk: how many of its blocks are in a cache. */
  cachedPerChunk(): Uint32Array {
    const n = new Uint32Array(this.chunkCount)
    for (let sc = 0; sc < this.classes.count; sc++) {
      for (let i = sc * CACHE_STRIDE, end = i + this.cacheTop[sc]; i < end; i++) {
        const c = this.chunkOf(this.cache[i])
        if (c < n.length) n[c]++
      }
    }
    return n
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
    for (let sc = 0; sc < this.classes.count; sc++) {
      if (this.cacheTop[sc] > this.cacheCap[sc]) fail(`cache of class ${sc}: ${this.cacheTop[sc]} blocks, over its capacity ${this.cacheCap[sc]}`)
      for (let i = sc * CACHE_STRIDE, end = i + this.cacheTop[sc]; i < end; i++) {
        const p = this.cache[i]
        const c = this.chunkOf(p)
        const why = p < this.dataOff || c >= this.chunkCount || this.kind[c] !== C_RUN || this.cls[c] !== sc ? 'not in a run of its class'
          : this.blockSize(p) < 0 ? 'not a block start'
            : this.testBit(p) ? 'allocated'
              : seen.has(p) ? 'cached twice'
                : this.built[c] && p >= this.bump[c] ? 'past its run\'s bump pointer' : ''
        if (why) fail(`cache of class ${sc}: block ${p} ${why}`)
        seen.add(p)
      }
    }
  }

  /** Sets up the volatile state of a run chunk (after a claim, or at open). */
  initRun(c: number, sc: number): void {
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
    this.outBytes += live * this.classes.sizes[sc]
    this.outBlocks += live
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
    this.outBytes += n * this.layout.chunkSize
    this.outBlocks++
  }

  /** Puts the partial lists in address order (lowest pops first); call once after adopting. */
  sortPartials(): void {
    for (const list of this.partial) list.sort((a, b) => b - a)
  }

  // ── large blocks ─────────────────────────────────────────────────────────
  allocLarge(size: number): number {
    const n = Math.ceil(size / this.layout.chunkSize)
    const c = this.claimChunks(n, true)
    const p = this.chunkBase(c)
    // Step 1 (commits): the head entry LARGE, arg = n; the covered entries are FREE already.
    this.writeEntry(c, F.KIND_LARGE, 0, n)
    this.claimsUndrained = true
    this.markLarge(c, n)
    this.setBit(p)
    this.outBytes += n * this.layout.chunkSize
    this.outBlocks++
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
    const n = this.span[c]
    this.clearBit(p)
    this.outBytes -= n * this.layout.chunkSize
    this.outBlocks--
    this.releaseChunks(c, n)
  }

  // ── chunks ───────────────────────────────────────────────────────────────
  /** Releases n chunks from c: one store makes the head entry FREE; reusable after the next drain. */
  releaseChunks(c: number, n: number): void {
    if (this.kind[c] === C_RUN) this.purge(c)
    this.writeEntry(c, F.KIND_FREE, 0, -1)
    for (let i = 0; i < n; i++) {
      this.kind[c + i] = C_QUARANTINE
      this.cls[c + i] = NO_CLASS
      this.inPartial[c + i] = 0
      this.built[c + i] = 0
    }
    this.quarantine.push(c, n)
    this.quarantinedChunks += n
  }

  /** A chunk was claimed (its entry flushed) since the last drain: its blocks are not yet durably allocated. */
  claimsUndrained = false

  /** Called after every heap drain: quarantined chunks become FREE; claims are durable. */
  afterDrain(): void {
    this.claimsUndrained = false
    const q = this.quarantine
    for (let i = 0; i < q.length; i += 2) {
      for (let j = 0; j < q[i + 1]; j++) this.kind[q[i] + j] = C_FREE
      if (q[i] < this.freeHint) this.freeHint = q[i]
    }
    q.length = 0
    this.quarantinedChunks = 0
  }

  /** Marks chunk c free at open (its entry is durable FREE). */
  adoptFree(c: number): void { this.kind[c] = C_FREE }
  resetFreeHint(): void { this.freeHint = 0 }

  /** Finds n contiguous FREE chunks (first fit), draining quarantine and growing as needed. */
  /** Claims n chunks: clears their bitmap bits and, with `zeroData`, their bytes; a fresh chunk needs neither. */
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
    if (c < 0) {
      // Count the free chunks at the end, so growth only adds what is missing.
      let tail = 0
      while (tail < this.chunkCount && this.kind[this.chunkCount - 1 - tail] === C_FREE && !this.startsSegment(this.chunkCount - tail)) tail++
      const start = this.chunkCount - tail
      if (this.growBy(n - tail)) c = this.findFree(n, start)
    }
    if (c < 0) {
      throw new HeapFullError(`heap: out of space: no ${n} free chunk${n > 1 ? 's' : ''} of ${this.layout.chunkSize} bytes ` +
        `(${this.chunkCount} chunks, ${this.used} bytes in use)`)
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
        if (this.kind[c] === C_RUN && this.cls[c] === sc && this.nFree[c] > 0) return this.classes.sizes[sc]
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
