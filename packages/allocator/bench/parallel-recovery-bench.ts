/**
 * Crash recovery with 1 and 2 marking threads ([scale] item 3). A script, not a test:
 *   node packages/allocator/dist/bench/parallel-recovery-bench.js [millions...]   (default 1 10)
 * BENCH_QUICK=1: 0.2M only, 3 runs.
 *
 * Per size: a heap (mmap, durability 'process') of n live 64-B blocks: 1024 binary trees
 * (each node: left, right, in the words 0 and 8; allocated breadth-first), their roots in
 * one array block under one root; a crash image of it (backup: dirty). Then opens of fresh
 * copies of the image, each in a fresh process, alternating 1 and 2 threads (recoveryWorkers),
 * precise (forest-tracer.ts, loaded by the workers as tracerModule) and conservative:
 * medians of the open's wall time (worker start-up included) and of recovery.ms, the open's
 * process CPU time over its wall time (2 only if both threads really ran), and the idle share
 * of the machine's CPUs just before each open (each open waits up to 5 s for ≥ 0.5 idle).
 */
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { execFileSync } from 'child_process'
import { Heap, loadNative } from '../src'

const QUICK = process.env.BENCH_QUICK === '1'
const RUNS = QUICK ? 3 : 7
const TREES = 1024
const median = (xs: number[]): number => xs.slice().sort((a, b) => a - b)[xs.length >> 1]
const TRACER = { path: path.join(__dirname, 'forest-tracer.js'), name: 'forestTracer' }

interface Opened { openMs: number; recoveryMs: number; threads: number; live: number; cpuPerWall: number }

/** The child: [file, threads, precise 1/0]: one crash-recovery open, then exit (no close). */
function child(file: string, threads: number, precise: boolean): void {
  const c0 = process.cpuUsage()
  const t = process.hrtime.bigint()
  const h = Heap.open(file, { durability: 'process', backend: 'mmap', recoveryWorkers: threads, ...(precise ? { tracerModule: TRACER } : {}) })
  const openMs = Number(process.hrtime.bigint() - t) / 1e6
  const cpu = process.cpuUsage(c0)
  if (h.recovery.clean) throw new Error('a clean open')
  const r: Opened = { openMs, recoveryMs: h.recovery.ms, threads: h.recovery.markingThreads, live: h.recovery.liveBlocks, cpuPerWall: (cpu.user + cpu.system) / 1000 / openMs }
  fs.writeSync(1, `RESULT ${JSON.stringify(r)}\n`)
  h.close()
}

/** The share of CPU time idle over `ms` (from /proc/stat; 1 where it cannot be read). */
function idleShare(ms: number): number {
  const read = (): number[] => { try { return fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number) } catch { return [] } }
  const a = read()
  const until = Date.now() + ms
  while (Date.now() < until) { /* wait */ }
  const b = read()
  if (a.length < 5 || b.length < 5) return 1
  const total = b.reduce((x, y) => x + y, 0) - a.reduce((x, y) => x + y, 0)
  return total > 0 ? (b[3] - a[3]) / total : 1
}

/** Waits (at most 5 s) until at least half the machine's CPUs look idle; returns the last idle share. */
function waitIdle(): number {
  let idle = 0
  for (const until = Date.now() + 5_000; Date.now() < until;) if ((idle = idleShare(100)) >= 0.5) break
  return idle
}

function build(file: string, n: number): void {
  const size = Math.ceil((n * 64 * 1.05) / 65536) * 65536 + (32 << 20)
  const h = Heap.create(file + '.live', { size, durability: 'process', backend: 'mmap' })
  const per = Math.floor(n / TREES)
  const roots = h.alloc(TREES * 8)
  const u = new Uint32Array(h.bytes.buffer)
  const nodes = new Uint32Array(per)
  for (let t = 0; t < TREES; t++) {
    for (let i = 0; i < per; i++) nodes[i] = h.alloc(64)
    for (let i = 1; i < per; i++) u[(nodes[(i - 1) >> 1] + (i & 1 ? 0 : 8)) >>> 2] = nodes[i]
    u[(roots + 8 * t) >>> 2] = nodes[0]
  }
  h.setRoot('forest', roots)
  h.backup(file)
  h.close()
  fs.rmSync(file + '.live')
}

function main(): void {
  if (!loadNative()) { console.log('parallel-recovery-bench: the mmap addon is not built; nothing to measure'); return }
  const sizes = process.argv.slice(2).map(Number)
  const millions = sizes.length > 0 ? sizes : QUICK ? [0.2] : [1, 10]
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'makalu-precover-'))
  console.log(`\n### crash recovery, 1 vs 2 marking threads (node ${process.version}, ${os.availableParallelism()} cores, ` +
    `load ${os.loadavg()[0].toFixed(1)}; fresh process per open; medians of ${RUNS})\n`)
  console.log('| live 64-B blocks | tracing | open, 1 thread (ms) | open, 2 threads (ms) | speed-up | recovery.ms 1 / 2 | CPU/wall 1 / 2 | idle before |')
  console.log('|---:|---|---:|---:|---:|---|---|---|')
  try {
    for (const m of millions) {
      const n = Math.round(m * 1e6)
      const image = path.join(dir, 'image.heap')
      const copy = path.join(dir, 'copy.heap')
      build(image, n)
      for (const precise of [true, false]) {
        const res: Record<number, Opened[]> = { 1: [], 2: [] }
        const idles: number[] = []
        for (let r = 0; r < RUNS; r++) {
          for (const threads of r % 2 === 0 ? [1, 2] : [2, 1]) {
            fs.copyFileSync(image, copy)
            idles.push(waitIdle())
            const out = execFileSync(process.execPath, [__filename, 'child', copy, String(threads), precise ? '1' : '0'], { maxBuffer: 1 << 20 }).toString()
            const line = out.split('\n').find((l) => l.startsWith('RESULT '))
            if (!line) throw new Error('child printed no result: ' + out)
            const o = JSON.parse(line.slice(7)) as Opened
            if (o.threads !== threads) console.error(`(a ${threads}-thread open marked with ${o.threads})`)
            res[threads].push(o)
          }
        }
        const o1 = median(res[1].map((o) => o.openMs))
        const o2 = median(res[2].map((o) => o.openMs))
        const r1 = median(res[1].map((o) => o.recoveryMs))
        const r2 = median(res[2].map((o) => o.recoveryMs))
        console.log(`| ${n.toLocaleString('en')} (live ${res[1][0].live.toLocaleString('en')}) | ${precise ? 'precise' : 'conservative'} | ` +
          `${o1.toFixed(1)} | ${o2.toFixed(1)} | ${(o1 / o2).toFixed(2)}× | ${r1.toFixed(1)} / ${r2.toFixed(1)} | ` +
          `${median(res[1].map((o) => o.cpuPerWall)).toFixed(2)} / ${median(res[2].map((o) => o.cpuPerWall)).toFixed(2)} | ${median(idles).toFixed(2)} |`)
      }
      fs.rmSync(image)
      fs.rmSync(copy, { force: true })
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

if (process.argv[2] === 'child') child(process.argv[3], Number(process.argv[4]), process.argv[5] === '1')
else main()
