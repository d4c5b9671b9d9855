/**
 * Child of the map/list SIGKILL tests: node kill-child.js <heapFile> <what> <n>
 * Opens (creating if missing) a 'process' heap on the mmap backend and runs `n` ops of
 * `what`; during the last one it SIGKILLs itself at the first flush after the op's
 * first drain: for a map insert, right after the slot word was stored, before the counts
 * word (mmap + 'process': stores are in the page cache, so the slot survives the kill).
 */
import * as fs from 'node:fs'
import { PHeap } from '@makalu/pobj'
import { PersistentMap, PersistentList } from '../src'

const [file, what, nStr] = process.argv.slice(2)
const n = Number(nStr)
const opts = { backend: 'mmap' as const, durability: 'process' as const }
const heap = fs.existsSync(file) ? PHeap.open(file, opts) : PHeap.create(file, { ...opts, size: 4 << 20 })
const region = heap.raw.region
const flush = region.flush.bind(region)
const drain = region.drain.bind(region)
let phase = 0 // 1: armed at the next drain; 2: kill at the next flush
region.drain = () => { drain(); if (phase === 1) phase = 2 }
region.flush = (off: number, len: number) => {
  if (phase === 2) process.kill(process.pid, 'SIGKILL')
  flush(off, len)
}
const map = PersistentMap.open<string, number>(heap, 'm')
const list = PersistentList.open<string>(heap, 'l')
const base = what === 'map' ? map.size : list.length
for (let i = 0; i < n; i++) {
  if (i === n - 1) phase = 1
  if (what === 'map') map.set('key' + (base + i), i)
  else list.push('item ' + (base + i))
}
fs.writeSync(1, 'not killed\n')
heap.close()
