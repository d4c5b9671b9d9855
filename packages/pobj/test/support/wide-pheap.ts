/**
 * pobj heaps over 4 GiB for the wide tests (wide-heap.test.ts and its child): segment 0 is filled
 * by large raw blocks that touch one page each (a grown file's chunks read as zero; each is made
 * a pointer-free bytes block and kept by a root of its own), so the objects made next lie past
 * 4 GiB; a list of WNodes then links objects of segment 0 and of segment 1 both ways.
 */
import 'reflect-metadata'
import * as fs from 'fs'
import * as path from 'path'
import { PHeap, PArray, Persistent, field, objectFormat } from '../../src'

export const GiB = 2 ** 30
export const SEG = 2 ** 32
/** maxSize of the test heaps: a sparse file, only ~4.1 GiB of it ever exists. */
export const WIDE_MAX = 64 * GiB

@Persistent('WideNode')
export class WNode {
  @field.i32 id!: number
  @field() label!: string
  @field.bytes data!: Uint8Array
  @field.ref(() => WNode) next!: WNode | null
  @field.array('string') tags!: PArray<string> | null
  @field.array(() => WNode) kids!: PArray<WNode | null> | null
}

export const TYPES = [WNode]

/** Whether `dir` can hold the sparse heap file (null) or why not. */
export function sparseProblem(dir: string): string | null {
  const p = path.join(dir, 'probe')
  try {
    fs.closeSync(fs.openSync(p, 'w'))
    fs.truncateSync(p, WIDE_MAX)
    const st = fs.statfsSync(dir)
    if (st.bavail * st.bsize < 6 * GiB) return `under 6 GiB free on ${dir}: the test grows its heap file past 4 GiB`
    return null
  } catch (e) {
    return `${dir} cannot hold a sparse ${WIDE_MAX}-byte file: ${(e as Error).message}`
  } finally {
    try { fs.unlinkSync(p) } catch { /* not created */ }
  }
}

export function createWide(file: string): PHeap {
  return PHeap.create(file, { size: GiB, maxSize: WIDE_MAX, durability: 'process', types: TYPES, gc: false })
}

/**
 * Allocates large blocks over the rest of segment 0; each is a bytes block (tag, length: one
 * page written) under a root 'fill.i', so that pobj's collections and recoveries keep it.
 */
export function fillSegment0(heap: PHeap): number[] {
  const raw = heap.raw
  const fillers: number[] = []
  let next = -1
  for (;;) {
    const size = next < 0 ? GiB : Math.min(GiB, SEG - next)
    if (size <= 0) break
    const p = raw.alloc(size)
    if (next >= 0 && p !== next) throw new Error(`filler at ${p}, expected ${next}`)
    const u = new Uint32Array(raw.segments[0].buffer, raw.segments[0].byteOffset + p, 2)
    u[0] = objectFormat.TAG_BYTES
    u[1] = size - objectFormat.STRING_HEADER_SIZE
    raw.persist(p, 8)
    raw.setRoot(`fill.${fillers.length}`, p)
    fillers.push(p)
    next = p + size
  }
  return fillers
}

export const labelOf = (i: number, k: number): string => `node ${i} v${k} ` + 'é'.repeat(i % 7)
export const dataOf = (i: number, k: number): Uint8Array => Uint8Array.from({ length: 5 + (i % 11) }, (_, j) => (i * 31 + j + k) & 0xff)

export interface WideBuild {
  nodes: WNode[]
  /** Pointers of the nodes (near ones < 2^32, far ones past it). */
  ptrs: number[]
}

/**
 * Makes `count` nodes, the first before the fill (in the runs of segment 0: their free slots
 * take the first nodes made after it too), the rest after it (past 4 GiB), then one list under
 * root 'list' alternating segment-0 and far nodes: node i has id i, a label and bytes (blocks made
 * now: past 4 GiB), two tags and, every third, kids (a ref array) holding nodes i - 1 and i - 3.
 */
export function buildWide(heap: PHeap, count: number): WideBuild {
  const made: WNode[] = [heap.new(WNode, { id: 0 })]
  fillSegment0(heap)
  for (let i = 1; i < count; i++) made.push(heap.new(WNode, { id: 0 }))
  const a = made.filter((n) => heap.pointerOf(n) < SEG)
  const b = made.filter((n) => heap.pointerOf(n) >= SEG)
  const nodes: WNode[] = []
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (i < a.length) nodes.push(a[i])
    if (i < b.length) nodes.push(b[i])
  }
  nodes.forEach((n, i) => {
    n.id = i
    n.label = labelOf(i, 0)
    n.data = dataOf(i, 0)
    n.tags = heap.newArray('string', [`t${i}`, `tag ${i} ` + 'x'.repeat(i % 13)])
  })
  for (let i = 0; i + 1 < nodes.length; i++) nodes[i].next = nodes[i + 1]
  for (let i = 3; i < nodes.length; i += 3) nodes[i].kids = heap.newArray(WNode, [nodes[i - 1], null, nodes[i - 3]])
  heap.setRoot('list', nodes[0])
  return { nodes, ptrs: nodes.map((n) => heap.pointerOf(n)) }
}

/** Walks the list; throws on any difference from what buildWide made (with labels and bytes of version k). */
export function verifyWide(heap: PHeap, count: number, k = 0): number[] {
  const ptrs: number[] = []
  let n = heap.root('list', WNode)
  for (let i = 0; i < count; i++) {
    if (n === null) throw new Error(`the list ends at ${i}, expected ${count} nodes`)
    ptrs.push(heap.pointerOf(n))
    if (n.id !== i) throw new Error(`node ${i}: id ${n.id}`)
    if (n.label !== labelOf(i, k)) throw new Error(`node ${i}: label ${JSON.stringify(n.label)}`)
    if (Buffer.compare(Buffer.from(n.data), Buffer.from(dataOf(i, k))) !== 0) throw new Error(`node ${i}: data ${Buffer.from(n.data).toString('hex')}`)
    const tags = n.tags!.toArray()
    if (tags[0] !== `t${i}` || tags[1] !== `tag ${i} ` + 'x'.repeat(i % 13)) throw new Error(`node ${i}: tags ${JSON.stringify(tags)}`)
    if (i >= 3 && i % 3 === 0) {
      const kids = n.kids!
      if (kids.length !== 3 || kids.get(0)!.id !== i - 1 || kids.get(1) !== null || kids.get(2)!.id !== i - 3) throw new Error(`node ${i}: kids`)
    } else if (n.kids !== null) throw new Error(`node ${i}: kids where none were set`)
    n = n.next
  }
  if (n !== null) throw new Error(`the list goes on past ${count} nodes`)
  return ptrs
}
