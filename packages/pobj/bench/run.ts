/** `npm run bench` in packages/pobj (and from the root bench/run.js): the pobj benchmark in its own process. */
import { execFileSync } from 'child_process'
import * as path from 'path'

const quick = process.env.BENCH_QUICK === '1'
execFileSync(process.execPath, [path.join(__dirname, 'pobj-bench.js'), ...(quick ? ['--quick'] : [])], { stdio: 'inherit' })
execFileSync(process.execPath, [path.join(__dirname, 'array-bench.js'), ...(quick ? ['--quick'] : [])], { stdio: 'inherit' })
execFileSync(process.execPath, ['--expose-gc', path.join(__dirname, 'gc-bench.js'), ...(quick ? ['--quick'] : [])], { stdio: 'inherit' })
execFileSync(process.execPath, [path.join(__dirname, 'schema-bench.js'), ...(quick ? ['--quick'] : [])], { stdio: 'inherit' })
execFileSync(process.execPath, [path.join(__dirname, 'export-bench.js'), ...(quick ? ['--quick'] : [])], { stdio: 'inherit' })
