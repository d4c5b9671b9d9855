/**
 * Handle access in a heap over 4 GiB vs a narrow one, each kind in its own process (argv[2]:
 * 'narrow' | 'wide'): 3000 WNodes in one list (past 4 GiB in the wide heap: test kit
 * wide-pheap.ts), walked reading an i32, a ref and, every 8th node, a string; then a pointer
 * write (ref swing) per node. Medians of 7 walks, ns per node.
 */
import 'reflect-metadata'
import { execFileSync } from 'child_process'
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { PHeap } from '../src'
import { WNode, TYPES, buildWide, createWide } from '../test/support/wide-pheap'

const COUNT = 3000
const median = (xs: number[]): number => xs.slice().sort((a, b) => a - b)[xs.length >> 1]

function run(kind: string): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wide-bench-'))
  try {
    const file = path.join(dir, 'h.heap')
    let heap: PHeap
    let nodes: WNode[]
    if (kind === 'wide') {
      heap = createWide(file)
      nodes = buildWide(heap, COUNT).nodes
    } else {
      heap = PHeap.create(file, { size: 256 << 20, maxSize: 2 ** 32, durability: 'process', types: TYPES, gc: false })
      nodes = []
      for (let i = 0; i < COUNT; i++) nodes.push(heap.new(WNode, { id: i, label: `node ${i}` }))
      for (let i = 0; i + 1 < COUNT; i++) nodes[i].next = nodes[i + 1]
      heap.setRoot('list', nodes[0])
    }
    const far = nodes.filter((n) => heap.pointerOf(n) >= 2 ** 32).length
    const reads: number[] = []
    const writes: number[] = []
    let sink = 0
    for (let r = 0; r < 7; r++) {
      let t = process.hrtime.bigint()
      for (let k = 0; k < 100; k++) {
        let i = 0
        for (let n = heap.root('list', WNode); n !== null; n = n.next, i++) {
          sink += n.id
          if ((i & 7) === 0) sink += n.label.length
        }
      }
      reads.push(Number(process.hrtime.bigint() - t) / (100 * COUNT))
      t = process.hrtime.bigint()
      heap.transaction(() => { for (let i = 0; i + 1 < COUNT; i++) nodes[i].next = nodes[i + 1] })
      writes.push(Number(process.hrtime.bigint() - t) / COUNT)
    }
    heap.close()
    console.log(`| ${kind} (${far} of ${COUNT} nodes past 4 GiB) | ${median(reads).toFixed(1)} | ${median(writes).toFixed(0)} |`)
    if (sink < 0) console.log(sink) // keeps the reads
  } finally { fs.rmSync(dir, { recursive: true, force: true }) }
}

if (process.argv[2]) run(process.argv[2])
else {
  console.log('handles in a narrow heap vs past 4 GiB (each in its own process)')
  console.log('| heap | walk: ns per node (i32 + ref, a string every 8th) | ref store in a transaction: ns per node |')
  console.log('|---|--:|--:|')
  for (const k of ['narrow', 'wide', 'narrow', 'wide']) execFileSync(process.execPath, [__filename, k], { stdio: 'inherit' })
}
