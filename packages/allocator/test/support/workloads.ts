/**
 * Deterministic heap workloads for crash tests. Each operation's parameters are
 * a pure function of (seed, index), so a model replays what the heap did and a
 * parent process knows what a killed child was doing.
 */
import { Heap, mulberry32 } from '../../src'

export type State = unknown

export interface Workload {
  name: string
  /** The state before anything ran. */
  initial: State
  /** Runs operation i on the heap (acknowledged when it returns). */
  apply(heap: Heap, seed: number, i: number): void
  /** The model: state after operation i. */
  model(state: State, seed: number, i: number): State
  /** Reads the state from a recovered heap, and the blocks it reached (start, usable size). */
  read(heap: Heap): { state: State; blocks: number[] }
  /** A precise tracer for the workload's blocks, if it has one. */
  tracer?: { trace(bytes: Uint8Array, ptr: number, size: number, visit: (p: number) => void): void }
}

const rng = (seed: number, i: number): (() => number) => mulberry32((seed * 1000003 + i * 7919) >>> 0)
const u32 = (h: Heap): Uint32Array => new Uint32Array(h.bytes.buffer, h.bytes.byteOffset, h.bytes.length >>> 2)
const readPtr = (h: Heap, off: number): number => {
  const u = u32(h)
  if (u[(off >>> 2) + 1] !== 0) throw new Error(`pointer at ${off} has a high half`)
  return u[off >>> 2]
}
const writePtr = (h: Heap, off: number, p: number): void => { const u = u32(h); u[(off >>> 2) + 1] = 0; u[off >>> 2] = p }

/** Churn that leaks on purpose: junk blocks allocated, some freed, the rest never linked. */
function churn(heap: Heap, r: () => number): void {
  const n = 1 + Math.floor(r() * 3)
  const ps: number[] = []
  for (let k = 0; k < n; k++) ps.push(heap.alloc(1 + Math.floor(r() * 300)))
  for (const p of ps) if (r() < 0.5) heap.free(p)
}

// ── A: a linked list under a root, pushed and popped outside transactions ─────
const listTracer = { trace(bytes: Uint8Array, ptr: number, _size: number, visit: (p: number) => void): void {
  visit(new Uint32Array(bytes.buffer, bytes.byteOffset + ptr, 1)[0])
} }
// node: [next u64 | value u32 | 0 u32 | filler to 32 bytes]
export const listWorkload: Workload = {
  name: 'linked list under a root',
  initial: [] as number[],
  apply(heap, seed, i) {
    const r = rng(seed, i)
    const head = heap.getRoot('list')
    if (head !== 0 && r() < 0.35) {
      heap.setRoot('list', readPtr(heap, head))
      heap.free(head)
    } else {
      const node = heap.alloc(32)
      writePtr(heap, node, head)
      u32(heap)[(node + 8) >>> 2] = i + 1
      heap.persist(node, 32)
      heap.setRoot('list', node)
    }
    churn(heap, r)
    // Now and then an online collection frees the junk churn leaked (nothing durable is written).
    if (i % 7 === 6) heap.collect({ tracer: listTracer })
  },
  model(state, seed, i) {
    const s = state as number[]
    const r = rng(seed, i)
    return s.length > 0 && r() < 0.35 ? s.slice(1) : [i + 1, ...s]
  },
  read(heap) {
    const values: number[] = []
    const blocks: number[] = []
    for (let p = heap.getRoot('list'); p !== 0; p = readPtr(heap, p)) {
      if (blocks.length > 1e6) throw new Error('list cycle')
      blocks.push(p)
      values.push(u32(heap)[(p + 8) >>> 2])
    }
    return { state: values, blocks }
  },
  tracer: { trace(bytes, ptr, size, visit) { listTracer.trace(bytes, ptr, size, visit) } },
}

// ── B: accounts changed in transactions; some transactions throw ──────────────
// table: K account pointers (8 bytes each); account: [balance u32 | id u32 | 8 bytes filler]
const K = 6
export const accountsWorkload: Workload = {
  name: 'transfers between accounts in transactions',
  initial: null,
  apply(heap, seed, i) {
    const r = rng(seed, i)
    if (i === 0) {
      heap.transaction(() => {
        const table = heap.alloc(K * 8)
        for (let k = 0; k < K; k++) {
          const a = heap.alloc(16)
          u32(heap)[a >>> 2] = 100
          u32(heap)[(a + 4) >>> 2] = k
          writePtr(heap, table + 8 * k, a)
        }
        heap.setRoot('accounts', table)
      })
      return
    }
    const table = heap.getRoot('accounts')
    const a = Math.floor(r() * K)
    const b = (a + 1 + Math.floor(r() * (K - 1))) % K
    const amount = 1 + Math.floor(r() * 20)
    const kind = r()
    try {
      heap.transaction(() => {
        const pa = readPtr(heap, table + 8 * a)
        const pb = readPtr(heap, table + 8 * b)
        heap.snapshot(pa, 4)
        u32(heap)[pa >>> 2] -= amount
        heap.snapshot(pb, 4)
        u32(heap)[pb >>> 2] += amount
        if (kind < 0.25) {
          // Move account a to a new block, freeing the old one.
          const fresh = heap.alloc(16)
          heap.bytes.copyWithin(fresh, pa, pa + 16)
          heap.snapshot(table + 8 * a, 8)
          writePtr(heap, table + 8 * a, fresh)
          heap.free(pa)
        }
        churn(heap, r)
        if (kind > 0.85) throw new Error('planned abort')
      })
    } catch (e) {
      if ((e as Error).message !== 'planned abort') throw e
    }
  },
  model(state, seed, i) {
    if (i === 0) return new Array(K).fill(100)
    const r = rng(seed, i)
    const a = Math.floor(r() * K)
    const b = (a + 1 + Math.floor(r() * (K - 1))) % K
    const amount = 1 + Math.floor(r() * 20)
    if (r() > 0.85) return state
    const s = (state as number[]).slice()
    s[a] = (s[a] - amount) >>> 0
    s[b] = (s[b] + amount) >>> 0
    return s
  },
  read(heap) {
    const table = heap.getRoot('accounts')
    if (table === 0) return { state: null, blocks: [] }
    const blocks = [table]
    const balances: number[] = []
    for (let k = 0; k < K; k++) {
      const a = readPtr(heap, table + 8 * k)
      if (u32(heap)[(a + 4) >>> 2] !== k) throw new Error(`account ${k} has id ${u32(heap)[(a + 4) >>> 2]}`)
      blocks.push(a)
      balances.push(u32(heap)[a >>> 2])
    }
    return { state: balances, blocks }
  },
}

// ── C: large objects in the slots of a root table ─────────────────────────────
// table: 4 slots of 8 bytes; a large block is filled with the byte (i & 0xff) | 1
const SLOTS = 4
export const largeWorkload: Workload = {
  name: 'large objects',
  initial: null,
  apply(heap, seed, i) {
    if (i === 0) {
      const t = heap.alloc(SLOTS * 8)
      heap.persist(t, SLOTS * 8)
      heap.setRoot('large', t)
      return
    }
    const r = rng(seed, i)
    const t = heap.getRoot('large')
    const s = Math.floor(r() * SLOTS)
    const old = readPtr(heap, t + 8 * s)
    if (old !== 0) {
      if (r() < 0.5) {
        writePtr(heap, t + 8 * s, 0)
        heap.persist(t + 8 * s, 8)
        heap.free(old)
      } else {
        heap.transaction(() => {
          heap.snapshot(t + 8 * s, 8)
          writePtr(heap, t + 8 * s, 0)
          heap.free(old)
        })
      }
    } else {
      const size = 4096 + Math.floor(r() * 16384)
      const p = heap.alloc(size)
      heap.bytes.fill((i & 0xff) | 1, p, p + size)
      u32(heap)[p >>> 2] = size
      heap.persist(p, size)
      writePtr(heap, t + 8 * s, p)
      heap.persist(t + 8 * s, 8)
    }
  },
  model(state, seed, i) {
    if (i === 0) return new Array(SLOTS).fill(null)
    const r = rng(seed, i)
    const s = Math.floor(r() * SLOTS)
    const st = (state as Array<[number, number] | null>).slice()
    if (st[s] !== null) { r(); st[s] = null } else st[s] = [4096 + Math.floor(r() * 16384), (i & 0xff) | 1]
    return st
  },
  read(heap) {
    const t = heap.getRoot('large')
    if (t === 0) return { state: null, blocks: [] }
    const blocks = [t]
    const st: Array<[number, number] | null> = []
    for (let s = 0; s < SLOTS; s++) {
      const p = readPtr(heap, t + 8 * s)
      if (p === 0) { st.push(null); continue }
      blocks.push(p)
      const size = u32(heap)[p >>> 2]
      const fill = heap.bytes[p + 4]
      for (let k = 4; k < size; k++) if (heap.bytes[p + k] !== fill) throw new Error(`large block ${p} torn at byte ${k}`)
      st.push([size, fill])
    }
    return { state: st, blocks }
  },
}

// ── D: roots added, replaced and removed in transactions; some transactions throw ──
// Each root is a 16-byte block [value u32 | filler]. A replace removes a root and adds one
// under a new name in the same transaction, so the new root takes the freed slot.
const MAX_ROOTS = 5
type RootState = Array<[string, number]>
function rootsOp(state: RootState, seed: number, i: number) {
  const r = rng(seed, i)
  const kind = state.length === 0 || (state.length < MAX_ROOTS && r() < 0.3) ? 'add' : r() < 0.75 ? 'replace' : 'remove'
  const victim = state.length > 0 ? state[Math.floor(r() * state.length)][0] : ''
  const abort = r() > 0.8
  return { kind, victim, fresh: `n${i}`, abort }
}
export const rootsWorkload: Workload = {
  name: 'roots replaced in transactions',
  initial: [] as RootState,
  apply(heap, seed, i) {
    const names = heap.roots().map(([n, p]) => [n, u32(heap)[p >>> 2]] as [string, number]).sort()
    const op = rootsOp(names, seed, i)
    try {
      heap.transaction(() => {
        if (op.kind === 'add') {
          const p = heap.alloc(16)
          u32(heap)[p >>> 2] = i + 1
          heap.setRoot(op.fresh, p)
        } else {
          heap.free(heap.getRoot(op.victim))
          heap.setRoot(op.victim, 0)
          if (op.kind === 'replace') {
            const p = heap.alloc(16)
            u32(heap)[p >>> 2] = i + 1
            heap.setRoot(op.fresh, p) // takes the victim's slot
          }
        }
        if (op.abort) throw new Error('planned abort')
      })
    } catch (e) {
      if ((e as Error).message !== 'planned abort') throw e
    }
  },
  model(state, seed, i) {
    const s = state as RootState
    const op = rootsOp(s, seed, i)
    if (op.abort) return s
    if (op.kind === 'add') return [...s, [op.fresh, i + 1] as [string, number]].sort()
    const rest = s.filter(([n]) => n !== op.victim)
    return op.kind === 'replace' ? [...rest, [op.fresh, i + 1] as [string, number]].sort() : rest
  },
  read(heap) {
    const roots = heap.roots()
    return {
      state: roots.map(([n, p]) => [n, u32(heap)[p >>> 2]] as [string, number]).sort(),
      blocks: roots.map(([, p]) => p),
    }
  },
}

export const workloads = [listWorkload, accountsWorkload, largeWorkload, rootsWorkload]

// ── E: small-block churn through the free-block caches (not in `workloads`: heap-cache.test.ts) ──
// A list under a root of nodes of random sizes 16..300 [next u64 | value u32 | size u32 | filler];
// each op pushes or pops a node, and churns 8..40 junk blocks of random sizes, freed in random
// order (some leaked until a collection), so caches refill from and spill to many runs, and runs
// are claimed and released.
const churnTracer = listTracer
export const churnWorkload: Workload = {
  name: 'small-block churn under a list',
  initial: [] as number[],
  apply(heap, seed, i) {
    const r = rng(seed, i)
    const head = heap.getRoot('churn')
    if (head !== 0 && r() < 0.4) {
      heap.setRoot('churn', readPtr(heap, head))
      heap.free(head)
    } else {
      const size = 16 + Math.floor(r() * 285)
      const node = heap.alloc(size)
      writePtr(heap, node, head)
      u32(heap)[(node + 8) >>> 2] = i + 1
      u32(heap)[(node + 12) >>> 2] = size
      heap.persist(node, size)
      heap.setRoot('churn', node)
    }
    const junk: number[] = []
    for (let k = 8 + Math.floor(r() * 33); k > 0; k--) junk.push(heap.alloc(1 + Math.floor(r() * 300)))
    for (let k = junk.length - 1; k > 0; k--) {
      const j = Math.floor(r() * (k + 1))
      const t = junk[k]; junk[k] = junk[j]; junk[j] = t
    }
    for (const p of junk) if (r() < 0.9) heap.free(p)
    if (i % 5 === 4) heap.collect({ tracer: churnTracer })
  },
  model(state, seed, i) {
    const s = state as number[]
    const r = rng(seed, i)
    return s.length > 0 && r() < 0.4 ? s.slice(1) : [i + 1, ...s]
  },
  read(heap) {
    const values: number[] = []
    const blocks: number[] = []
    for (let p = heap.getRoot('churn'); p !== 0; p = readPtr(heap, p)) {
      if (blocks.length > 1e6) throw new Error('list cycle')
      if (heap.usableSize(p) < u32(heap)[(p + 12) >>> 2]) throw new Error(`node ${p} smaller than its size field`)
      blocks.push(p)
      values.push(u32(heap)[(p + 8) >>> 2])
    }
    return { state: values, blocks }
  },
  tracer: { trace(bytes, ptr, size, visit) { churnTracer.trace(bytes, ptr, size, visit) } },
}
