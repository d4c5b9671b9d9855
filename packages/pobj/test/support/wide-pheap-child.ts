/**
 * Child of wide-heap.test.ts: builds a pobj heap over 4 GiB (argv[2]), then rewrites every
 * node's label and bytes in transactions, printing each committed version k, and kills itself
 * with SIGKILL halfway through the writes of version `killAt` (argv[3]).
 */
import { buildWide, createWide, labelOf, dataOf } from './wide-pheap'

const [file, killAtArg, countArg] = process.argv.slice(2)
const killAt = Number(killAtArg)
const heap = createWide(file)
const { nodes, ptrs } = buildWide(heap, Number(countArg))
process.stdout.write(JSON.stringify({ ptrs }) + '\n')
for (let k = 1; ; k++) {
  heap.transaction(() => {
    for (let i = 0; i < nodes.length; i++) {
      if (k === killAt && i === nodes.length >> 1) process.kill(process.pid, 'SIGKILL')
      nodes[i].label = labelOf(i, k)
      nodes[i].data = dataOf(i, k)
    }
  })
  process.stdout.write(`committed ${k}\n`)
}
