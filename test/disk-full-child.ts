/**
 * Child of the pobj full-disk test: node disk-full-child.js <heapFile> <mmap|file>
 * Creates a PHeap (1 MiB, growing to 64 MiB) on a small file system and pushes 2000-char
 * strings onto a PersistentList until a push throws. Prints "pushed <n>" then
 * "error <code> <message>" and "closed"; exits 0 unless it died (a SIGBUS).
 */
import * as fs from 'node:fs'
import { MakaluError } from '@makalu/allocator'
import { PHeap } from '@makalu/pobj'
import { PersistentList } from '@makalu/examples'

const [file, backend] = process.argv.slice(2)
const say = (line: string): void => { fs.writeSync(1, line + '\n') }
const heap = PHeap.create(file, { size: 1 << 20, maxSize: 64 << 20, chunkSize: 16384, logSize: 64 * 1024, backend: backend as 'mmap' | 'file' })
const list = PersistentList.open<string>(heap, 'items')
let n = 0
try {
  for (;;) {
    list.push(String(n % 10).repeat(2000))
    n++
  }
} catch (e) {
  say(`pushed ${n}`)
  say(`error ${e instanceof MakaluError ? e.code : 'UNTYPED'} ${(e as Error).message.split('\n')[0]}`)
}
heap.close()
say('closed')
