/**
 * Child of the parallel recovery stall test: node parallel-recovery-stall-child.js <heapFile>
 * Recovers the image with 2 threads whose worker ends its thread mid-share
 * (parallel-recovery-planted.ts exitingTracer), then prints the recovery report as JSON. A
 * child, so that an open that waits forever for the dead worker fails the test by its
 * timeout instead of hanging the run.
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { Heap } from '@makalu/allocator'
import { PHeap, pobjTracer } from '@makalu/pobj'

const [file] = process.argv.slice(2)
process.env.MAKALU_RECOVERY_WAIT_WORKERS = '1'
const heap = Heap.open(file, { owner: PHeap.OWNER, recoveryWorkers: 2, tracer: pobjTracer,
  tracerModule: { path: path.join(__dirname, 'parallel-recovery-planted.js'), name: 'exitingTracer' } })
const violations = heap.check().violations.length
fs.writeSync(1, JSON.stringify({ ...heap.recovery, violations }) + '\n')
heap.close()
