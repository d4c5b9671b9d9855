/**
 * Child of the kill test for every value kind: node kinds-kill-child.js <heapFile> <mmap|file> <start>
 * Applies ops start, start+1, … (kinds-kill-workload.ts), writing "ack i" after each. Writes
 * to a pipe are synchronous: a line the parent reads was written before the kill.
 */
import * as fs from 'node:fs'
import { PHeap } from '@makalu/pobj'
import { Rec, applyOp } from './kinds-kill-workload'

const [file, backend, startStr] = process.argv.slice(2)
const opts = { backend: backend as 'mmap' | 'file', durability: 'process' as const, types: [Rec] }
const heap = fs.existsSync(file) ? PHeap.open(file, opts) : PHeap.create(file, { ...opts, size: 4 << 20, maxSize: 256 << 20 })
fs.writeSync(1, 'open\n')
for (let i = Number(startStr); i < 1_000_000; i++) {
  applyOp(heap, i)
  fs.writeSync(1, `ack ${i}\n`)
}
heap.close()
