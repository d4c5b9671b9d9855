/**
 * One thread's part of a parallel mark (parallel-mark.ts starts them): the opening thread
 * and each worker run `markShared` over the same shared state, each over its own view of
 * the heap (a worker maps the file itself). What it shares:
 *
 *   marks   Uint32Array   one bit per 16-byte granule of the chunk area, as markReachable's;
 *                         a bit is set by Atomics.or after a plain read finds it clear, and
 *                         the thread whose `or` found it clear owns the block: it counts it
 *                         and traces it, so every block is traced exactly once
 *   shapes  size (f64), blocks (u32) per chunk: mark.ts blockShapes
 *   pool    Uint32Array   POOL_ITEMS items of 3 numbers: block, from, to (to 0: the whole
 *           (Float64Array in a wide heap: offsets past 4 GiB)
 *                         block; else the range [from, to) of its words: Tracer.traceRange)
 *   ctl     Int32Array    the words below; LOCK guards the pool and the counts
 *
 * Work sharing: each thread marks depth-first from its own stack. A thread out of work takes
 * items from the pool, else waits (HUNGRY); a thread with work gives the older half of its
 * stack to the pool while another is hungry; a block larger than SPLIT_BYTES is cut into
 * ranges that go to the pool. Termination: ACTIVE (threads holding work) reaches 0 with the
 * pool empty, seen under the lock: DONE. ABORT stops everyone (a failure somewhere, or a
 * worker whose heartbeat stopped: parallel-mark.ts). The sections under the lock run no
 * tracer code and allocate nothing, so a thread can not end while it holds the lock.
 *
 * Marking reads only. A stale pointer the tracer reported with its word (`visit(p, at)`, the
 * same test as markReachable's) is handed to `onStale(at)`: the opening thread stores 0 there
 * at once, a worker records it for the opening thread.
 */
import { MAX_POINTER_HIGH } from './memory'
import type { Tracer } from './recovery'
import { SORT_AT, inAddressOrder, blockStartTest, staleWordInBlock } from './mark'
import { bitWord, bitMask } from './chunk-space'

export const POOL_ITEMS = 1 << 16
/** Blocks larger than this are shared as ranges of this many bytes (a multiple of 8). */
export const SPLIT_BYTES = 64 * 1024

export const LOCK = 0
export const ACTIVE = 1
export const HUNGRY = 2
export const POOL_N = 3
export const DONE = 4
export const ABORT = 5
/** Counts changes of the pool and of DONE: the word threads wait on. */
export const SEQ = 6
/** Workers that joined (they then map the file) and workers that finished (results posted). */
export const STARTED = 7
export const FINISHED = 8
export const CTL_WORDS = 16

/**
 * How a thread shows it is alive, and how the opening thread finds a worker that is not:
 * `beat` is called every 64 traced items and at every wake of a hungry wait; `stalled`
 * (the opening thread's) at every wake of its waits: true ends the mark with ABORT.
 */
export interface Liveness { beat(): void; stalled(): boolean }
export const ALWAYS_ALIVE: Liveness = { beat() { /* no watcher */ }, stalled: () => false }

export interface SharedMarkState {
  ctl: Int32Array
  marks: Uint32Array
  /** Offsets: a Float64Array in a wide heap (past 4 GiB they need more than 32 bits). */
  pool: Uint32Array | Float64Array
  size: Float64Array
  blocks: Uint32Array
  dataOff: number
  chunkShift: number
  /** The heap may pass 4 GiB: offsets on the stack need 64 bits (else a Uint32Array stack, as before). */
  wide: boolean
}

/** What markShared reports to parallel-mark.ts. */
export interface ThreadMarks { marked: number; stale: number }

export function lockPool(ctl: Int32Array): void {
  while (Atomics.compareExchange(ctl, LOCK, 0, 1) !== 0) { /* spin: the sections are a few stores */ }
}
export function unlockPool(ctl: Int32Array): void { Atomics.store(ctl, LOCK, 0) }
export function wake(ctl: Int32Array): void {
  Atomics.add(ctl, SEQ, 1)
  Atomics.notify(ctl, SEQ)
}

/**
 * Marks until the shared mark is DONE (or ABORTed). `roots` (the opening thread's: a thread
 * with roots is counted ACTIVE by the caller already, the others join as hungry): marked as
 * markReachable marks them, a root that is not a block start counted stale. Throws what the
 * tracer throws (the caller aborts).
 */
export function markShared(s: SharedMarkState, segments: readonly Uint8Array[], tracer: Tracer | null, onStale: (at: number) => void,
  roots: number[] | null, live: Liveness = ALWAYS_ALIVE): ThreadMarks {
  const { ctl, marks, pool, size, blocks } = s
  const dataOff = s.dataOff
  const count = size.length
  const inverse = new Float64Array(count)
  for (let c = 0; c < count; c++) if (size[c] > 0) inverse[c] = 1 / size[c]
  // Per 4 GiB segment (region.ts): a block lies in one, read through `p >>> 2` of its words.
  const words = segments.map((b) => new Uint32Array(b.buffer, b.byteOffset, b.byteLength / 4)) // not >>> 2: 4 GiB >>> 2 is 0
  const u = words[0]
  const bytes = segments[0]
  const wordsOf = (p: number): Uint32Array => p < 4294967296 ? u : words[Math.floor(p / 4294967296)]
  const bytesOf = (p: number): Uint8Array => p < 4294967296 ? bytes : segments[Math.floor(p / 4294967296)]
  const ranges = tracer === null || typeof tracer.traceRange === 'function'
  const wide = s.wide
  let stack: Uint32Array | Float64Array = wide ? new Float64Array(1 << 16) : new Uint32Array(1 << 16)
  let sp = 0
  let marked = 0
  let stale = 0

  /** As markReachable's (no allocatedOnly: recovery trusts no bitmap). */
  const blockAt = blockStartTest(size, inverse, blocks, dataOff, count, s.chunkShift)
  const push = (p: number): void => {
    if (sp === stack.length) {
      const bigger = wide ? new Float64Array(stack.length * 2) : new Uint32Array(stack.length * 2)
      bigger.set(stack)
      stack = bigger
    }
    stack[sp++] = p
  }
  // Plain stores until this thread first puts work in the pool: another thread can mark only
  // what it took from there (taken under the lock, after this thread's stores), so until then
  // no other thread writes these bits. From then on, Atomics.or.
  let alone = roots !== null
  const mark = (p: number, leaf: boolean): void => {
    const rel = p - dataOff
    const w = bitWord(rel)
    const bit = bitMask(rel)
    if ((marks[w] & bit) !== 0) return
    if (alone) marks[w] |= bit
    else if ((Atomics.or(marks, w, bit) & bit) !== 0) return
    marked++
    if (!leaf) push(p)
  }
  let block = 0
  let blockEnd = 0
  const visit = (q: number, at?: number, leaf?: boolean): void => {
    if (q === 0) return
    if (blockAt(q) > 0) return mark(q, leaf === true)
    stale++
    if (!staleWordInBlock(at, block, blockEnd)) return
    const w = wordsOf(at)
    if (w[at >>> 2] + w[(at >>> 2) + 1] * 4294967296 === q) onStale(at)
  }
  const scan = (p: number, from: number, to: number): void => {
    // Conservative: an aligned 8-byte word equal to a block start is a pointer.
    const w = wordsOf(p)
    for (let i = (p + from) >>> 2, end = i + (to - from) / 4; i < end; i += 2) { // the end may be 4 GiB
      const hi = w[i + 1]
      if (hi === 0) {
        const q = w[i]
        if (blockAt(q) > 0) mark(q, false) // blockAt tests the range first
      } else if (hi < MAX_POINTER_HIGH) {
        const q = hi * 4294967296 + w[i]
        if (blockAt(q) > 0) mark(q, false)
      }
    }
  }
  /** Traces [from, to) of block p (to 0: the whole block, cut into ranges if it is big). */
  const traceItem = (p: number, from: number, to: number): void => {
    const n = blockAt(p)
    block = p
    blockEnd = p + n
    const before = sp
    if (to === 0) {
      if (ranges && n > SPLIT_BYTES) to = share(p, n)
      else {
        if (tracer) tracer.trace(bytesOf(p), p, n, visit) // the block's segment (recovery.ts Tracer)
        else scan(p, 0, n)
        if (sp - before > SORT_AT) inAddressOrder(stack.subarray(before, sp))
        return
      }
    }
    if (tracer) tracer.traceRange!(bytesOf(p), p, n, from, to, visit)
    else scan(p, from, to)
    if (sp - before > SORT_AT) inAddressOrder(stack.subarray(before, sp))
  }
  /** Puts the ranges of block p past the first into the pool; returns the end of the first. */
  const share = (p: number, n: number): number => {
    alone = false
    lockPool(ctl)
    const room = POOL_ITEMS - ctl[POOL_N]
    let piece = SPLIT_BYTES
    if (Math.ceil(n / piece) - 1 > room) piece = Math.ceil(n / (room + 1) / 8) * 8
    let k = ctl[POOL_N]
    for (let off = piece; off < n; off += piece) {
      pool[3 * k] = p
      pool[3 * k + 1] = off
      pool[3 * k + 2] = Math.min(off + piece, n)
      k++
    }
    ctl[POOL_N] = k
    unlockPool(ctl)
    wake(ctl)
    return Math.min(piece, n)
  }
  /** Gives the older half of the stack to the pool (another thread is hungry). */
  const donate = (): void => {
    alone = false
    lockPool(ctl)
    const give = Math.min(sp >>> 1, POOL_ITEMS - ctl[POOL_N])
    let k = ctl[POOL_N]
    for (let i = 0; i < give; i++, k++) {
      pool[3 * k] = stack[i]
      pool[3 * k + 1] = 0
      pool[3 * k + 2] = 0
    }
    ctl[POOL_N] = k
    unlockPool(ctl)
    stack.copyWithin(0, give, sp)
    sp -= give
    wake(ctl)
  }
  /** Under the lock: takes up to half the pool (at least one item) onto the stack of items. */
  let items: Uint32Array | Float64Array = wide ? new Float64Array(3 * 64) : new Uint32Array(3 * 64)
  let nItems = 0
  const take = (): void => {
    const n = ctl[POOL_N]
    const k = Math.max(1, Math.min(64, n >>> 1))
    if (items.length < 3 * k) items = wide ? new Float64Array(3 * k) : new Uint32Array(3 * k)
    items.set(pool.subarray(3 * (n - k), 3 * n))
    nItems = k
    ctl[POOL_N] = n - k
  }

  if (roots) {
    for (const r of roots) {
      if (r === 0) continue
      if (blockAt(r) > 0) mark(r, false)
      else stale++
    }
  }
  let active = roots !== null
  for (;;) {
    if (active) {
      // Work: the items taken from the pool, then the stack; share while someone is hungry.
      let tick = 0
      for (;;) {
        if (nItems > 0) {
          nItems--
          traceItem(items[3 * nItems], items[3 * nItems + 1], items[3 * nItems + 2])
          continue
        }
        if (sp === 0) break
        traceItem(stack[--sp], 0, 0)
        if ((++tick & 63) === 0) {
          live.beat()
          if (ctl[ABORT] !== 0) return { marked, stale }
          if (ctl[HUNGRY] > 0 && sp >= 2 && ctl[POOL_N] === 0) donate()
        }
      }
      lockPool(ctl)
      if (ctl[POOL_N] > 0) { take(); unlockPool(ctl); continue }
      ctl[ACTIVE]-- // hungry now: the wait below ends with work (active again) or returns
      ctl[HUNGRY]++
      if (ctl[ACTIVE] === 0) {
        ctl[DONE] = 1
        unlockPool(ctl)
        wake(ctl)
        return { marked, stale }
      }
      unlockPool(ctl)
    } else {
      lockPool(ctl)
      ctl[HUNGRY]++
      unlockPool(ctl)
    }
    // Hungry: wait for items, DONE or ABORT.
    for (;;) {
      const seq = Atomics.load(ctl, SEQ)
      if (Atomics.load(ctl, DONE) !== 0 || Atomics.load(ctl, ABORT) !== 0) return { marked, stale }
      if (Atomics.load(ctl, POOL_N) > 0) {
        lockPool(ctl)
        if (ctl[POOL_N] > 0 && ctl[DONE] === 0) {
          take()
          ctl[HUNGRY]--
          ctl[ACTIVE]++
          unlockPool(ctl)
          active = true
          break
        }
        unlockPool(ctl)
        continue
      }
      Atomics.wait(ctl, SEQ, seq, 20)
      live.beat()
      if (live.stalled()) {
        Atomics.store(ctl, ABORT, 1)
        wake(ctl)
        return { marked, stale }
      }
    }
  }
}
