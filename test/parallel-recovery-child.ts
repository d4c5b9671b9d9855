/**
 * Child of the parallel recovery kill test: node parallel-recovery-child.js <heapFile>
 * Creates a heap holding a forest (parallel-recovery-kit.ts), then inserts into a map, one
 * failure-atomic set at a time, writing "ack i" after set i returns, until it is killed.
 */
import * as fs from 'node:fs'
import { PHeap } from '@makalu/pobj'
import { PersistentMap } from '@makalu/examples'
import { TYPES, forest } from './parallel-recovery-kit'

const [file] = process.argv.slice(2)
const heap = PHeap.create(file, { size: 64 << 20, maxSize: 256 << 20, types: TYPES, gc: false, backend: 'mmap', durability: 'process' })
forest(heap, 64, 1023)
const map = PersistentMap.open<string, number>(heap, 'map')
fs.writeSync(1, 'open\n')
for (let i = 0; i < 10_000_000; i++) {
  map.set('key ' + i, i)
  if (i % 100 === 0) fs.writeSync(1, `ack ${i}\n`)
}
heap.close()
