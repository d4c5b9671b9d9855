/**
 * Child of the SIGKILL torture: node torture-child.js <heapFile> <mmap|file> <seed> <start>
 * Opens the heap (creating it when start is 0), runs ops start, start+1, ... of the
 * workload and writes "ack <i>" after op i returns, until it is killed (or 100 000 ops).
 * A pipe write is synchronous on Linux: an ack the parent reads is an op that returned.
 */
import * as fs from 'node:fs'
import { PHeap } from '@makalu/pobj'
import { Item, opAt, applyHeap, LIST } from './workload'
import { PersistentList } from '@makalu/examples'

const [file, backend, seedStr, startStr] = process.argv.slice(2)
const seed = Number(seedStr)
const start = Number(startStr)
const opts = { backend: backend as 'mmap' | 'file', durability: 'process' as const, types: [Item] }
const heap = start === 0 && !fs.existsSync(file)
  ? PHeap.create(file, { ...opts, size: 1 << 20, maxSize: 64 << 20, chunkSize: 16384, logSize: 64 * 1024 })
  : PHeap.open(file, opts)
fs.writeSync(1, 'open\n')
const list = PersistentList.open(heap, LIST)
for (let i = start; i < start + 100000; i++) {
  applyHeap(heap, opAt(seed, i, list.length))
  fs.writeSync(1, `ack ${i}\n`)
}
heap.close()
