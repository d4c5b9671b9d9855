/**
 * The workload of the kill-during-collection test: a chain of N items under a root; op i
 * replaces a run of items with fresh ones labelled `op i` (the old ones become garbage) and
 * then collects. Op i's parameters are a pure function of (seed, i), so the parent replays
 * a model of the labels.
 */
import { mulberry32 } from '@makalu/allocator'
import { PHeap, Persistent, field } from '@makalu/pobj'

@Persistent('gckill.Item')
export class ChainItem {
  @field.i32 index!: number
  @field() label!: string
  @field.ref(() => ChainItem) next!: ChainItem | null
}

export const CHAIN = 'gckill.chain'
export const N = 30_000

/** The run op i replaces: [from, from + count). */
export function runOf(seed: number, i: number): { from: number; count: number } {
  const r = mulberry32((Math.imul(seed, 0x9e3779b1) ^ Math.imul(i + 1, 0x85ebca6b)) >>> 0)
  const count = 1 + Math.floor(r() * 2000)
  return { from: Math.floor(r() * (N - count)), count }
}

/** Builds the chain (one transaction) when the heap is new. */
export function setup(heap: PHeap): void {
  heap.transaction(() => {
    let next: ChainItem | null = null
    for (let k = N - 1; k >= 0; k--) next = heap.new(ChainItem, { index: k, label: 'initial', next })
    heap.setRoot(CHAIN, next)
  })
}

/** Op i: the run replaced by fresh items, in one transaction. */
export function applyOp(heap: PHeap, seed: number, i: number): void {
  const { from, count } = runOf(seed, i)
  heap.transaction(() => {
    let before: ChainItem | null = null
    let at = heap.root(CHAIN, ChainItem)
    for (let k = 0; k < from; k++) { before = at; at = at!.next }
    let after = at
    for (let k = 0; k < count; k++) after = after!.next
    let next = after
    for (let k = from + count - 1; k >= from; k--) next = heap.new(ChainItem, { index: k, label: `op ${i}`, next })
    if (before) before.next = next
    else heap.setRoot(CHAIN, next)
  })
}

/** The labels after ops [0, done). */
export function modelLabels(seed: number, done: number): string[] {
  const labels = new Array<string>(N).fill('initial')
  for (let i = 0; i < done; i++) {
    const { from, count } = runOf(seed, i)
    for (let k = from; k < from + count; k++) labels[k] = `op ${i}`
  }
  return labels
}

/** The chain as read from the heap: indexes must be 0..N-1 in order; returns the labels. */
export function readLabels(heap: PHeap): string[] {
  const out: string[] = []
  for (let at = heap.root(CHAIN, ChainItem); at; at = at.next) {
    if (at.index !== out.length) throw new Error(`item ${out.length} has index ${at.index}`)
    out.push(at.label)
    if (out.length > N) throw new Error('the chain is longer than N (a cycle?)')
  }
  return out
}
