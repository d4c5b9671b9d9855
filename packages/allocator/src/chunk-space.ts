import * as F from './format'
import { Layout } from './superblock'
import { Memory } from './memory'
import { SizeClasses } from './size-classes'
import { HeapFullError, InvalidPointerError, assert } from './errors'

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
 * Invariants (checked by heap.check()):
 *   kind[c] = FREE or QUARANTINE ⇒ the table entry of c is FREE (0); its bitmap bits are
 *                                  never read (a claim clears them)
 *   kind[c] = FREE               ⇒ that entry is durable (so c can be claimed with one store)
 *   kind[c] = RUN                ⇒ entry = RUN | cls[c];   nFree[c] = perChunk − popcount(bits of c)
 *   kind[c] = LARGE              ⇒ entry = LARGE, arg = span[c]; bit of the head set; c+1 … c+span−1 are CONT
 *   built[c]                     ⇒ free list of c + blocks at or past bump[c] = exactly the clear block starts of c
 *   used = Σ usable size of allocated blocks;  liveBlocks = Σ bits
 */
export class ChunkSpace {
  readonly classes: SizeClasses
  chunkCount: number
  readonly kind: Uint8Array
  readonly cls: Uint8Array
  /** RUN: free blocks. */
  readonly nFree: Uint32Array
  /** RUN: head of the intrusive free list (an offset, 0 = empty); the links live in the free blocks. */
  readonly freeHead: Uint32Array
  /** RUN: first never-used block; blocks from here to the end of the run are free. */
  readonly bump: Uint32Array
  /** RUN: whether freeHead/bump are valid (false after open until the chunk is first allocated from). */
  readonly built: Uint8Array
  /** LARGE: chunks spanned. CONT: index of the head. */
  readonly span: Uint32Array
  /** Per class: the chunk allocations come from (−1: none). */
  readonly current: Int32Array
  /** Per class: chunks with free blocks, other than the current one (entries may be stale: see inPartial). */
  private readonly partial: number[][]
  private readonly inPartial: Uint8Array
  private quarantine: number[] = []
  private quarantinedChunks = 0
  /** Lowest chunk that may be FREE. */
  private freeHint = 0
  used = 0
  liveBlocks = 0

  private readonly dataOff: number
  private readonly shift: number
  private readonly chunkMask: number
  private readonly bitBase: number

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
    this.cls = new Uint8Array(n)
    this.nFree = new Uint32Array(n)
    this.freeHead = new Uint32Array(n)
    this.bump = new Uint32Array(n)
    this.built = new Uint8Array(n)
    this.span = new Uint32Array(n)
    this.inPartial = new Uint8Array(n)
    this.current = new Int32Array(this.classes.count).fill(-1)
    this.partial = Array.from({ length: this.classes.count }, () => [])
    this.dataOff = layout.dataOff
    this.shift = layout.chunkShift
    this.chunkMask = layout.chunkSize - 1
    this.bitBase = layout.bitmapOff >>> 2
  }

  // ── addresses ──────────────────────────────────────────────────────────────
  chunkBase(c: number): number { return this.dataOff + c * this.layout.chunkSize }
  chunkOf(p: number): number { return (p - this.dataOff) >>> this.shift }
  entryOff(c: number): number { return this.layout.chunkTableOff + c * F.CHUNK_ENTRY_SIZE }

  // ── the bitmap ───────────────────────────────────────────────────────────
  testBit(p: number): boolean {
    const g = (p - this.dataOff) >>> F.GRANULE_SHIFT
    return (this.mem.u32[this.bitBase + (g >>> 5)] & (1 << (g & 31))) !== 0
  }
  private setBit(p: number): void {
    const g = (p - this.dataOff) >>> F.GRANULE_SHIFT
    this.mem.u32[this.bitBase + (g >>> 5)] |= 1 << (g & 31)
  }
  private clearBit(p: number): void {
    const g = (p - this.dataOff) >>> F.GRANULE_SHIFT
    this.mem.u32[this.bitBase + (g >>> 5)] &= ~(1 << (g & 31))
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
    if (p < this.dataOff || (p & (F.GRANULE - 1)) !== 0) return -1
    const rel = p - this.dataOff
    const c = rel >>> this.shift
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
  /** A block of class sc. No durable write unless a chunk must be claimed (one flushed store). */
  allocSmall(sc: number): number {
    let c = this.current[sc]
    if (c < 0 || this.nFree[c] === 0) c = this.refill(sc)
    let p = this.freeHead[c]
    const size = this.classes.sizes[sc]
    if (p !== 0) {
      this.freeHead[c] = this.mem.u32[p >>> 2]
    } else {
      p = this.bump[c]
      this.bump[c] = p + size
    }
    this.nFree[c]--
    this.setBit(p)
    if (size <= 256) {
      // Small blocks: plain stores beat the call into TypedArray.prototype.fill.
      const u = this.mem.u32
      for (let i = p >>> 2, end = (p + size) / 4; i < end; i++) u[i] = 0 // a block may end at 4 GiB
    } else this.mem.bytes.fill(0, p, p + size)
    this.used += size
    this.liveBlocks++
    return p
  }

  private freeSmall(p: number, c: number): void {
    const sc = this.cls[c]
    const size = this.classes.sizes[sc]
    this.clearBit(p)
    this.used -= size
    this.liveBlocks--
    if (this.built[c]) {
      this.mem.u32[p >>> 2] = this.freeHead[c]
      this.freeHead[c] = p
    }
    const n = ++this.nFree[c]
    if (c === this.current[sc]) return
    if (n === this.classes.perChunk[sc]) this.releaseChunks(c, 1)
    else if (!this.inPartial[c]) {
      this.inPartial[c] = 1
      this.partial[sc].push(c)
    }
  }

  /** Makes a chunk with free blocks current for class sc. */
  private refill(sc: number): number {
    const list = this.partial[sc]
    while (list.length > 0) {
      const c = list.pop()!
      if (!this.inPartial[c]) continue
      this.inPartial[c] = 0
      if (this.kind[c] !== C_RUN || this.cls[c] !== sc || this.nFree[c] === 0) continue
      if (!this.built[c]) this.buildFreeList(c)
      this.current[sc] = c
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
    this.current[sc] = c
    return c
  }

  /** Sets up the volatile state of a run chunk (after a claim, or at open). */
  initRun(c: number, sc: number): void {
    this.kind[c] = C_RUN
    this.cls[c] = sc
    this.built[c] = 0
    this.inPartial[c] = 0
  }

  /** Rebuilds chunk c's free list from its bitmap (lazily, after open). */
  private buildFreeList(c: number): void {
    const sc = this.cls[c]
    const size = this.classes.sizes[sc]
    const base = this.chunkBase(c)
    let head = 0
    for (let i = this.classes.perChunk[sc] - 1; i >= 0; i--) {
      const p = base + i * size
      if (!this.testBit(p)) {
        this.mem.u32[p >>> 2] = head
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
    this.used += live * this.classes.sizes[sc]
    this.liveBlocks += live
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
    this.used += n * this.layout.chunkSize
    this.liveBlocks++
  }

  /** Puts the partial lists in address order (lowest pops first); call once after adopting. */
  sortPartials(): void {
    for (const list of this.partial) list.sort((a, b) => b - a)
  }

  // ── large blocks ─────────────────────────────────────────────────────────
  allocLarge(size: number): number {
    const n = Math.ceil(size / this.layout.chunkSize)
    const c = this.claimChunks(n)
    const p = this.chunkBase(c)
    this.mem.bytes.fill(0, p, p + n * this.layout.chunkSize)
    // Step 1 (commits): the head entry LARGE, arg = n; the covered entries are FREE already.
    this.writeEntry(c, F.KIND_LARGE, 0, n)
    this.claimsUndrained = true
    this.markLarge(c, n)
    this.setBit(p)
    this.used += n * this.layout.chunkSize
    this.liveBlocks++
    return p
  }

  private markLarge(c: number, n: number): void {
    this.kind[c] = C_LARGE
    this.span[c] = n
    for (let i = 1; i < n; i++) {
      this.kind[c + i] = C_CONT
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
    this.used -= n * this.layout.chunkSize
    this.liveBlocks--
    this.releaseChunks(c, n)
  }

  // ── chunks ───────────────────────────────────────────────────────────────
  /** Releases n chunks from c: one store makes the head entry FREE; reusable after the next drain. */
  releaseChunks(c: number, n: number): void {
    this.writeEntry(c, F.KIND_FREE, 0, -1)
    for (let i = 0; i < n; i++) {
      this.kind[c + i] = C_QUARANTINE
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
  private claimChunks(n: number): number {
    const c = this.findChunks(n)
    const [off, len] = this.bitmapRange(c, n)
    this.mem.bytes.fill(0, off, off + len)
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
      while (tail < this.chunkCount && this.kind[this.chunkCount - 1 - tail] === C_FREE) tail++
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
      if (firstFree < 0) firstFree = c
      if (++run === n) { found = c - n + 1; break }
    }
    // No chunk below firstFree is FREE: the next search may start there.
    if (from === this.freeHint) this.freeHint = firstFree < 0 ? this.chunkCount : firstFree
    return found
  }

  /** Called when the region grew: chunks [chunkCount, n) are new and FREE. */
  grewTo(n: number): void {
    for (let c = this.chunkCount; c < n; c++) this.kind[c] = C_FREE
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
    for (let p = this.freeHead[c]; p !== 0; p = this.mem.u32[p >>> 2]) {
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
