/**
 * A heap over 4 GiB for the wide-heap tests (heap-wide.test.ts and its child): segment 0 is
 * filled by large objects that touch no page (a grown file's chunks read as zero), so what is
 * allocated next lies past 4 GiB; a linked list then crosses the segment boundary both ways.
 * Pointers are full 8-byte words (lo, hi = p / 2^32), read and written here through `segments`.
 */
import { Heap } from '../../src'

export const GiB = 2 ** 30
export const SEG = 2 ** 32
/** maxSize of the test heaps: a sparse file, only ~6 GiB of it ever exists. */
export const WIDE_MAX = 64 * GiB

/** The 8-byte word at p. */
export function readWord(heap: Heap, p: number): number {
  const b = heap.segments[Math.floor(p / SEG)]
  const u = new Uint32Array(b.buffer, b.byteOffset + (p >>> 0), 2)
  return u[0] + u[1] * SEG
}

/** Stores the 8-byte word v at p: high half first, then the low half. */
export function writeWord(heap: Heap, p: number, v: number): void {
  const b = heap.segments[Math.floor(p / SEG)]
  const u = new Uint32Array(b.buffer, b.byteOffset + (p >>> 0), 2)
  u[1] = Math.floor(v / SEG)
  u[0] = v >>> 0
}

/** Allocates large objects over the rest of segment 0 (no page touched); returns them. */
export function fillSegment0(heap: Heap): number[] {
  const fillers: number[] = []
  let next = -1
  for (;;) {
    const size = next < 0 ? GiB : Math.min(GiB, SEG - next)
    if (size <= 0) break
    const p = heap.alloc(size)
    if (next >= 0 && p !== next) throw new Error(`filler at ${p}, expected ${next}`)
    fillers.push(p)
    next = p + size
  }
  return fillers
}

/** A node: [next u64][id u64][payload ...]. */
export const NODE = 64
export const FAR_NODE = 48 // another size class: its runs are claimed past 4 GiB

export interface WideState {
  /** Node offsets in list order (root 'list' → nodes[0]). */
  nodes: number[]
  ids: number[]
}

/**
 * Builds the list: near nodes (segment 0, the run claimed before the fill) alternating with far
 * ones (past 4 GiB), so links go both ways across the boundary; plus a large far object holding
 * a pointer back. Churns far blocks (frees every other one, allocates again) so that free-list
 * links past 4 GiB are written and read.
 */
export function buildList(heap: Heap, near: number[], farCount: number): WideState {
  const far: number[] = []
  for (let i = 0; i < farCount * 2; i++) far.push(heap.alloc(FAR_NODE))
  for (let i = 0; i < far.length; i += 2) heap.free(far[i])
  const kept = far.filter((_, i) => i % 2 === 1)
  for (let i = 0; i < farCount / 2; i++) kept.push(heap.alloc(FAR_NODE)) // from the caches and free lists past 4 GiB
  const big = heap.alloc(256 * 1024) // a large object past 4 GiB
  const nodes: number[] = []
  for (let i = 0; i < Math.max(near.length, kept.length); i++) {
    if (i < near.length) nodes.push(near[i])
    if (i < kept.length) nodes.push(kept[i])
  }
  nodes.push(big)
  const ids = nodes.map((_, i) => 1000 + i * 7)
  for (let i = 0; i < nodes.length; i++) {
    writeWord(heap, nodes[i], i + 1 < nodes.length ? nodes[i + 1] : 0)
    writeWord(heap, nodes[i] + 8, ids[i])
  }
  writeWord(heap, big + 200 * 1024, nodes[0]) // deep inside the large object: a pointer back to segment 0
  heap.persist(big, 256 * 1024)
  for (const p of nodes) heap.persist(p, 16)
  heap.setRoot('list', nodes[0])
  return { nodes, ids }
}

/** Walks the list from the root; throws on any difference from `state`. */
export function verifyList(heap: Heap, state: WideState): void {
  let p = heap.getRoot('list')
  for (let i = 0; i < state.nodes.length; i++) {
    if (p !== state.nodes[i]) throw new Error(`node ${i}: pointer ${p}, expected ${state.nodes[i]}`)
    if (!heap.isAllocated(p)) throw new Error(`node ${i} at ${p} is not allocated`)
    const id = readWord(heap, p + 8)
    if (id !== state.ids[i]) throw new Error(`node ${i} at ${p}: id ${id}, expected ${state.ids[i]}`)
    p = readWord(heap, p)
  }
  if (p !== 0) throw new Error(`the list goes on past its end, to ${p}`)
}
