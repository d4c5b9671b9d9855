/**
 * The multi-worker workload of the sharing tests (heap.share() / Heap.attach()): each worker
 * allocates blocks of 16..256 bytes and some large ones, writes its id, a serial and a pattern
 * into each, frees some, hands some to other workers through a mailbox (Atomics.exchange of
 * the pointer: the receiver verifies the record, then frees the block, often in a run of
 * another worker, or keeps it), and in transactions pushes a node on its own list and
 * increments one shared counter. Every record is verified when it changes hands or is freed,
 * and at the end by the main thread: a block handed out twice shows as a torn record.
 */
import { Heap, mulberry32 } from '../../src'

export interface ShareJob {
  id: number
  seed: number
  /** Steps to run (Infinity: until killed). */
  steps: number
  /** A transaction every this many steps. */
  txEvery: number
  mailbox: SharedArrayBuffer
  /** Transactions already on this worker's list (a run after a crash continues it). */
  txs0?: number
}

/** What a worker leaves allocated: blocks it holds, with their records. */
export interface ShareResult { id: number; held: number[]; txs: number; frees: number; remoteish: number }

const MAGIC = 0x5a000000
export const LARGE = 5000

const view = (h: Heap): Uint32Array => new Uint32Array(h.bytes.buffer, h.bytes.byteOffset, h.bytes.length >>> 2)

/** Writes block p's record: [magic|id, serial, size, pattern…] over `size` bytes. */
export function writeRecord(u: Uint32Array, p: number, id: number, serial: number, size: number): void {
  const i = p >>> 2
  u[i] = MAGIC | id
  u[i + 1] = serial
  u[i + 2] = size
  for (let k = 3; k < size >>> 2; k++) u[i + k] = (Math.imul(serial, 0x9e3779b1) + k) >>> 0
}

/** Checks block p's record; returns '' or what is wrong. */
export function recordProblem(u: Uint32Array, p: number): string {
  const i = p >>> 2
  if ((u[i] & 0xff000000) !== MAGIC) return `block ${p}: no record (word 0x${u[i].toString(16)})`
  const serial = u[i + 1]
  const size = u[i + 2]
  if (size < 12 || size > LARGE) return `block ${p}: bad size ${size}`
  for (let k = 3; k < size >>> 2; k++) {
    if (u[i + k] !== ((Math.imul(serial, 0x9e3779b1) + k) >>> 0)) return `block ${p}: record of worker ${u[i] & 0xff} serial ${serial} torn at word ${k}`
  }
  return ''
}

/** Record identity (worker id and serial), for duplicate checks. */
export const recordKey = (u: Uint32Array, p: number): string => `${u[p >>> 2] & 0xff}:${u[(p >>> 2) + 1]}`

/** List node: [next u64 | worker id u32 | serial u32]; the counter block: [count u32]. */
export function pushNode(heap: Heap, id: number, serial: number): void {
  heap.transaction(() => {
    const u = view(heap)
    const head = heap.getRoot(`list-${id}`)
    const node = heap.alloc(16)
    u[node >>> 2] = head
    u[(node >>> 2) + 1] = 0
    u[(node >>> 2) + 2] = id
    u[(node >>> 2) + 3] = serial
    heap.setRoot(`list-${id}`, node)
    const counter = heap.getRoot('counter')
    heap.snapshot(counter, 8)
    u[counter >>> 2]++ // a lost update here would mean two transactions ran at once
  })
}

/** The serials on worker id's list, head first; throws on a broken list. */
export function readList(heap: Heap, id: number): number[] {
  const u = view(heap)
  const out: number[] = []
  for (let p = heap.getRoot(`list-${id}`); p !== 0; p = u[p >>> 2]) {
    if (!heap.isAllocated(p)) throw new Error(`list-${id}: node ${p} is not allocated`)
    if (u[(p >>> 2) + 2] !== id) throw new Error(`list-${id}: node ${p} names worker ${u[(p >>> 2) + 2]}`)
    out.push(u[(p >>> 2) + 3])
    if (out.length > 1e6) throw new Error(`list-${id}: cycle`)
  }
  for (let k = 0; k < out.length; k++) if (out[k] !== out.length - k) throw new Error(`list-${id}: serials ${out.slice(0, 10)} not consecutive`)
  return out
}

/** The counter block under root 'counter' (made by the main thread before the workers start). */
export function makeCounter(heap: Heap): void {
  const p = heap.alloc(8)
  heap.persist(p, 8)
  heap.setRoot('counter', p)
}
export const readCounter = (heap: Heap): number => view(heap)[heap.getRoot('counter') >>> 2]

/** Runs the job on an attached heap; `ack(txs)` after each committed transaction. */
export function runShareJob(heap: Heap, job: ShareJob, ack?: (txs: number) => void): ShareResult {
  const r = mulberry32(job.seed * 7919 + job.id)
  const mb = new Int32Array(job.mailbox)
  const held: number[] = []
  let serial = job.id << 20
  let txs = job.txs0 ?? 0
  let frees = 0
  let remoteish = 0
  const u = (): Uint32Array => view(heap)
  const verify = (p: number): void => {
    const why = recordProblem(u(), p)
    if (why) throw new Error(`worker ${job.id}: ${why}`)
  }
  for (let step = 0; step < job.steps; step++) {
    const x = r()
    if (x < 0.45 || held.length === 0) {
      const size = x < 0.02 ? LARGE : 16 + Math.floor(r() * 241)
      const p = heap.alloc(size)
      writeRecord(u(), p, job.id, ++serial, size)
      held.push(p)
    } else if (x < 0.75) {
      const k = Math.floor(r() * held.length)
      const p = held[k]
      held[k] = held[held.length - 1]
      held.pop()
      verify(p)
      heap.free(p)
      frees++
    } else {
      // Hand a block to the mailbox; take what was there (usually another worker's block).
      const k = Math.floor(r() * held.length)
      const p = held[k]
      held[k] = held[held.length - 1]
      held.pop()
      const q = Atomics.exchange(mb, Math.floor(r() * mb.length), p)
      if (q !== 0) {
        verify(q)
        if ((u()[q >>> 2] & 0xff) !== job.id) remoteish++
        if (r() < 0.7) {
          heap.free(q)
          frees++
        } else held.push(q)
      }
    }
    if (held.length > 3000) {
      const p = held.shift()!
      verify(p)
      heap.free(p)
      frees++
    }
    if (step % job.txEvery === job.txEvery - 1) {
      pushNode(heap, job.id, ++txs)
      ack?.(txs)
    }
  }
  for (const p of held) verify(p)
  return { id: job.id, held, txs, frees, remoteish }
}
