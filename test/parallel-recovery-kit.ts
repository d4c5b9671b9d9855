/**
 * The kit of the parallel recovery tests: heap shapes built through pobj's public API, and
 * the comparison of a serial and a parallel recovery of the same crash image (copies of one
 * file): the same report, the same allocated blocks, and the same bytes once both are closed
 * (the bitmap, the chunk table, and every word recovery nulled or repaired).
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { expect } from 'chai'
import { PHeap, Persistent, field, PArray } from '@makalu/pobj'
import { mulberry32, RecoveryReport } from '@makalu/allocator'
import { PersistentMap } from '@makalu/examples'

@Persistent('test.parallel.Node')
export class GNode {
  @field.i32 n!: number
  @field.ref(() => GNode) a!: GNode | null
  @field.ref(() => GNode) b!: GNode | null
  @field.ref(() => GNode) c!: GNode | null
  @field() s!: string
}

@Persistent('test.parallel.Holder')
export class Holder {
  @field.array(() => GNode) items!: PArray<GNode | null> | null
  @field.ref(() => Holder) next!: Holder | null
}

export const TYPES = [GNode, Holder]

/** n nodes, each with 3 refs to random nodes (some null); 16 roots. */
export function randomGraph(heap: PHeap, n: number, seed: number): void {
  const r = mulberry32(seed)
  const nodes: GNode[] = []
  for (let i = 0; i < n; i++) nodes.push(heap.new(GNode, { n: i, s: i % 7 === 0 ? 'node ' + i : '' }))
  const pick = (): GNode | null => (r() < 0.1 ? null : nodes[Math.floor(r() * n)])
  for (const x of nodes) { x.a = pick(); x.b = pick(); x.c = pick() }
  for (let i = 0; i < 16; i++) heap.setRoot('r' + i, nodes[Math.floor(r() * n)])
}

/** One list of n nodes through `a`, under one root. */
export function longList(heap: PHeap, n: number): void {
  let head: GNode | null = null
  for (let i = 0; i < n; i++) head = heap.new(GNode, { n: i, a: head })
  heap.setRoot('list', head)
}

/** `trees` binary trees (b, c) of `size` nodes, each under its own root. */
export function forest(heap: PHeap, trees: number, size: number): void {
  for (let t = 0; t < trees; t++) {
    const nodes: GNode[] = []
    for (let i = 0; i < size; i++) nodes.push(heap.new(GNode, { n: i }))
    for (let i = 1; i < size; i++) {
      const parent = nodes[(i - 1) >> 1]
      if (i & 1) parent.b = nodes[i]
      else parent.c = nodes[i]
    }
    heap.setRoot('tree' + t, nodes[0])
  }
}

/**
 * A chain of `chain` holders (one thread's work) whose last one holds one array of n refs
 * (a block the threads share as ranges), each to a node with a string.
 */
export function bigArray(heap: PHeap, chain: number, n: number): void {
  const items: GNode[] = []
  for (let i = 0; i < n; i++) items.push(heap.new(GNode, { n: i, s: 's' + i }))
  let head = heap.new(Holder, { items: heap.newArray(GNode, items), next: null })
  for (let i = 0; i < chain; i++) head = heap.new(Holder, { items: null, next: head })
  heap.setRoot('chain', head)
}

/** A map of n entries (one record each, in a record array of 2n slots or so). */
export function bigMap(heap: PHeap, n: number): void {
  const m = PersistentMap.open<string, number>(heap, 'map')
  for (let done = 0; done < n; done += 50_000) {
    heap.transaction(() => { for (let i = done; i < Math.min(n, done + 50_000); i++) m.set('key ' + i, i) })
  }
}

/** Creates a heap, lets `build` fill it, and leaves a crash image of it at `image` (a dirty copy). */
export function makeImage(image: string, size: number, build: (heap: PHeap) => void): void {
  const live = image + '.live'
  const heap = PHeap.create(live, { size, maxSize: 4 * size, types: TYPES, gc: false, backend: 'mmap', durability: 'process' })
  try {
    build(heap)
    heap.backup(image)
  } finally {
    heap.close()
    fs.rmSync(live, { force: true })
  }
}

export type Opener = (file: string, workers: number) => { recovery: RecoveryReport; close(): void }
export const openPHeap: Opener = (file, workers) =>
  PHeap.open(file, { types: TYPES, gc: false, backend: 'mmap', durability: 'process', recoveryWorkers: workers })

/** Recovers copies of `image` serially and with `threads` threads; the part of the report that must agree. */
export function recoverBoth(image: string, threads = 2, open: Opener = openPHeap, attempts = 2): { serial: RecoveryReport; parallel: RecoveryReport } {
  const dir = path.dirname(image)
  const one = path.join(dir, 'serial.heap')
  const many = path.join(dir, 'parallel.heap')
  fs.copyFileSync(image, one)
  const s = open(one, 1)
  const serial = s.recovery
  s.close()
  expect(serial.markingThreads).to.equal(1)
  // A worker joins 20-30 ms after the open starts (more on a loaded machine): a small heap may
  // be marked before it does. Each attempt is a whole comparison; at least one must use them all.
  let parallel: RecoveryReport | null = null
  for (let i = 0; i < attempts && (parallel === null || parallel.markingThreads < threads); i++) {
    fs.copyFileSync(image, many)
    const p = open(many, threads)
    parallel = p.recovery
    p.close()
    expect(parallel.markingFallback).to.equal(undefined)
    expect(strip(parallel)).to.deep.equal(strip(serial))
    expect(Buffer.compare(fs.readFileSync(one), fs.readFileSync(many)), 'the recovered files differ').to.equal(0)
  }
  expect(parallel!.markingThreads, 'the workers never joined').to.equal(threads)
  return { serial, parallel: parallel! }
}

function strip(r: RecoveryReport): Omit<RecoveryReport, 'ms' | 'markingThreads'> {
  const { ms, markingThreads, ...rest } = r
  void ms
  void markingThreads
  return rest
}
