/**
 * Child of the kill-during-migration test: node migration-kill-child.js <heapFile> <mmap|file>
 * Opens the release-1 heap with release 2 and its migration, printing "progress <done>" as the
 * migration advances and "migrated" when open returned. Writes to a pipe are synchronous: a
 * line the parent reads was written before the kill.
 */
import * as fs from 'node:fs'
import { PHeap } from '@makalu/pobj'
import { CatalogV2, migration } from './migration-kill-workload'

const [file, backend] = process.argv.slice(2)
const heap = PHeap.open(file, {
  backend: backend as 'mmap' | 'file', durability: 'process', types: [CatalogV2], migrations: [migration], gc: false,
  onProgress: (p) => fs.writeSync(1, `progress ${p.done}\n`),
})
fs.writeSync(1, 'migrated\n')
setTimeout(() => heap.close(), 60_000) // the parent kills first
