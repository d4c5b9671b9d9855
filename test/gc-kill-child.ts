/**
 * Child of the kill-during-collection test: node gc-kill-child.js <heapFile> <mmap|file> <seed> <start>
 * Creates or opens the heap, then for op i = start, start+1, ...: applies it, writes "ack i",
 * writes "gc i", collects (gc({ fromHandles: false }): the garbage of op i), writes "gcdone i".
 * Writes to a pipe are synchronous: a line the parent reads was written before the kill.
 */
import * as fs from 'node:fs'
import { PHeap } from '@makalu/pobj'
import { ChainItem, CHAIN, setup, applyOp } from './gc-kill-workload'

const [file, backend, seedStr, startStr] = process.argv.slice(2)
const seed = Number(seedStr)
const start = Number(startStr)
const opts = { backend: backend as 'mmap' | 'file', durability: 'process' as const, types: [ChainItem], gc: false as const }
const heap = fs.existsSync(file) ? PHeap.open(file, opts) : PHeap.create(file, { ...opts, size: 8 << 20, maxSize: 128 << 20 })
if (heap.root(CHAIN) === null) setup(heap) // new, or killed while setting up
fs.writeSync(1, 'open\n')
for (let i = start; i < start + 100_000; i++) {
  applyOp(heap, seed, i)
  fs.writeSync(1, `ack ${i}\n`)
  fs.writeSync(1, `gc ${i}\n`)
  heap.gc({ fromHandles: false })
  fs.writeSync(1, `gcdone ${i}\n`)
}
heap.close()
