/**
 * `npm run bench` in packages/allocator: the region benchmark, the heap benchmark, the churn
 * benchmark against a bare free list, access past 4 GiB (segment-bench), clean opens of a big heap (open-bench), then crash
 * recovery with 1 and 2 threads (parallel-recovery-bench), each in its own process (so one's memory and JIT state do not
 * colour the other). BENCH_QUICK=1 for a smoke run.
 */
import { execFileSync } from 'child_process'
import * as path from 'path'

const quick = process.env.BENCH_QUICK === '1'
console.log(`# @makalu/allocator benchmarks (${quick ? 'quick' : 'full'}; node ${process.version}; medians of repeated runs)`)
execFileSync(process.execPath, [path.join(__dirname, 'region-bench.js'), ...(quick ? ['--quick'] : [])], { stdio: 'inherit' })
execFileSync(process.execPath, [path.join(__dirname, 'heap-bench.js')], { stdio: 'inherit' })
execFileSync(process.execPath, [path.join(__dirname, 'churn-bench.js')], { stdio: 'inherit' })
execFileSync(process.execPath, [path.join(__dirname, 'segment-bench.js')], { stdio: 'inherit' })
execFileSync(process.execPath, [path.join(__dirname, 'open-bench.js')], { stdio: 'inherit' })
execFileSync(process.execPath, [path.join(__dirname, 'parallel-recovery-bench.js'), ...(quick ? [] : ['1', '10'])], { stdio: 'inherit' })
