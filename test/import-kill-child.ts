/**
 * Child of the kill-during-import test: node import-kill-child.js <export.ndjson> <heapFile> <mmap|file>
 * Opens the heap (no class: the classes come from the export's type table), imports, printing
 * "progress d t" at each progress report and "published" once importHeap returned.
 * Writes to a pipe are synchronous: a line the parent reads was written before the kill.
 */
import * as fs from 'node:fs'
import { PHeap, importHeap } from '@makalu/pobj'

const [input, file, backend] = process.argv.slice(2)
const heap = PHeap.open(file, { backend: backend as 'mmap' | 'file', durability: 'process', gc: false })
fs.writeSync(1, 'open\n')
importHeap(heap, input, { types: 'from-export', onProgress: (d, t) => fs.writeSync(1, `progress ${d} ${t}\n`) })
fs.writeSync(1, 'published\n')
heap.close()
