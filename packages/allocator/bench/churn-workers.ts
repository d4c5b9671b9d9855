/**
 * Churn with 1 and 2 worker_threads on one shared heap (heap.share() / Heap.attach()), against
 * bare typed-array free lists in the same workers: total alloc+free pairs per second and the
 * scaling from 1 to 2 workers. Run by churn-bench.ts (this file is also the worker's script).
 *
 * Each round starts all workers at once (a SharedArrayBuffer barrier); a round's time runs from
 * the start to the last worker's end (one clock for all threads: performance.timeOrigin + now(),
 * so two workers that run one after the other on a busy machine do not count as parallel);
 * rows are medians of RUNS rounds after one warm-up round.
 *   64 B      a window of 64 live blocks per worker: free the oldest, allocate one
 *   Larson    16..256 B, 10 000 live blocks per worker, a random one freed and replaced;
 *             every 8th replaced block is handed to the other worker to free (a remote free;
 *             the bare row does the same two exchanges; CHURN_NO_HANDOVER=1: none, each worker
 *             frees its own)
 */
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { Worker, isMainThread, parentPort, workerData } from 'worker_threads'
import { Heap, loadNative, mulberry32 } from '../src'

const K = 64
const HANDOVER = process.env.CHURN_NO_HANDOVER !== '1'
const LIVE = 10_000
type Kind = 'bare64' | 'heap64' | 'bareMixed' | 'heapMixed'

interface Job { kind: Kind; n: number; runs: number; id: number; workers: number; token: unknown; sync: SharedArrayBuffer; mail: SharedArrayBuffer }

/** Milliseconds on one clock for every thread of the process. */
const clock = (): number => performance.timeOrigin + performance.now()

// ── in the worker ──────────────────────────────────────────────────────────
function bare64(n: number): void {
  const stack = new Uint32Array(4096 + K)
  let top = 0
  for (let i = 0; i < 4096; i++) stack[top++] = i * 64
  const ring = new Uint32Array(K)
  for (let i = 0; i < K; i++) ring[i] = stack[--top]
  for (let i = 0; i < n; i++) {
    const k = i & (K - 1)
    stack[top++] = ring[k]
    ring[k] = stack[--top]
  }
}
function heap64(h: Heap, n: number): void {
  const ring = new Uint32Array(K)
  for (let i = 0; i < K; i++) ring[i] = h.alloc(64)
  for (let i = 0; i < n; i++) {
    const k = i & (K - 1)
    h.free(ring[k])
    ring[k] = h.alloc(64)
  }
  for (let i = 0; i < K; i++) h.free(ring[i])
}

function stream(n: number, id: number): { sizes: Uint16Array; victims: Uint32Array } {
  const r = mulberry32(7 + id)
  const sizes = new Uint16Array(n + LIVE)
  const victims = new Uint32Array(n)
  for (let i = 0; i < sizes.length; i++) sizes[i] = 16 + Math.floor(r() * 241)
  for (let i = 0; i < n; i++) victims[i] = Math.floor(r() * LIVE)
  return { sizes, victims }
}
/** With 2 workers, the same hand-over traffic as heapMixed (two exchanges every 8th pair), whose values it drops: the rows differ by the allocator alone. */
function bareMixed(n: number, s: ReturnType<typeof stream>, id: number, workers: number, mail: Int32Array): void {
  const out = (workers > 1 ? (id + 1) % workers : id) * 1024
  const inbox = id * 1024
  let o = 0
  const per = LIVE + 64
  const stacks = new Uint32Array(16 * per)
  const tops = new Int32Array(16)
  for (let c = 0; c < 16; c++) for (let j = 0; j < per; j++) stacks[c * per + tops[c]++] = (c * per + j) * 256
  const live = new Uint32Array(LIVE)
  const liveCls = new Uint8Array(LIVE)
  for (let i = 0; i < LIVE; i++) {
    const c = (s.sizes[i] - 1) >>> 4
    live[i] = stacks[c * per + --tops[c]]
    liveCls[i] = c
  }
  for (let i = 0; i < n; i++) {
    const k = s.victims[i]
    const f = liveCls[k]
    if (workers > 1 && HANDOVER && (i & 7) === 0) {
      Atomics.exchange(mail, out + (o++ & 1023), live[k] + 1)
      Atomics.exchange(mail, inbox + (i & 1023), 0)
    }
    stacks[f * per + tops[f]++] = live[k]
    const c = (s.sizes[LIVE + i] - 1) >>> 4
    live[k] = stacks[c * per + --tops[c]]
    liveCls[k] = c
  }
}
/** Mail: per worker a ring of 1024 slots (Int32, a block offset or 0) that the other worker empties. */
function heapMixed(h: Heap, n: number, s: ReturnType<typeof stream>, id: number, workers: number, mail: Int32Array): void {
  const live = new Uint32Array(LIVE)
  for (let i = 0; i < LIVE; i++) live[i] = h.alloc(s.sizes[i])
  const out = (workers > 1 ? (id + 1) % workers : id) * 1024
  const inbox = id * 1024
  let o = 0
  for (let i = 0; i < n; i++) {
    const k = s.victims[i]
    if (workers > 1 && HANDOVER && (i & 7) === 0) {
      // Hand the victim over (the other worker frees it); free what came in from it.
      const q = Atomics.exchange(mail, out + (o++ & 1023), live[k])
      if (q !== 0) h.free(q)
      const m = Atomics.exchange(mail, inbox + (i & 1023), 0)
      if (m !== 0) h.free(m)
    } else h.free(live[k])
    live[k] = h.alloc(s.sizes[LIVE + i])
  }
  for (let i = 0; i < LIVE; i++) h.free(live[i])
}

function workerMain(job: Job): void {
  const heap = job.kind.startsWith('heap') ? Heap.attach(job.token as never) : null
  const s = stream(job.n, job.id)
  const mail = new Int32Array(job.mail)
  const sync = new Int32Array(job.sync)
  const times: number[] = []
  for (let run = 0; run <= job.runs; run++) {
    // Barrier: arrive, then wait for the main thread's go for this round.
    Atomics.add(sync, 0, 1)
    Atomics.notify(sync, 0)
    while (Atomics.load(sync, 1) !== run + 1) Atomics.wait(sync, 1, run)
    if (job.kind === 'bare64') bare64(job.n)
    else if (job.kind === 'heap64') heap64(heap!, job.n)
    else if (job.kind === 'bareMixed') bareMixed(job.n, s, job.id, job.workers, mail)
    else heapMixed(heap!, job.n, s, job.id, job.workers, mail)
    times.push(clock()) // the end of this worker's round
  }
  heap?.close()
  parentPort!.postMessage(times)
}

if (!isMainThread && workerData?.churnJob) workerMain(workerData.churnJob as Job)

// ── in the main thread ─────────────────────────────────────────────────────
/** Process CPU time per wall time over the last round(): about 2 when two threads really ran at once. */
let cpuPerWall = 0

async function round(kind: Kind, workers: number, n: number, runs: number, heap: Heap | null): Promise<number[]> {
  const sync = new SharedArrayBuffer(8)
  const s = new Int32Array(sync)
  const mail = new SharedArrayBuffer(4 * 1024 * Math.max(2, workers))
  const token = heap ? heap.share() : null
  const results = Array.from({ length: workers }, (_, id) => new Promise<number[]>((resolve, reject) => {
    const w = new Worker(__filename, { workerData: { churnJob: { kind, n, runs, id, workers, token, sync, mail } } })
    w.on('message', resolve)
    w.on('error', reject)
  }))
  let cpu0 = process.cpuUsage()
  let wall0 = process.hrtime.bigint()
  const starts: number[] = []
  for (let run = 0; run <= runs; run++) {
    while (Atomics.load(s, 0) < workers * (run + 1)) await new Promise((r) => setTimeout(r, 1))
    if (run === 1) { cpu0 = process.cpuUsage(); wall0 = process.hrtime.bigint() } // after the warm-up round
    starts.push(clock())
    Atomics.store(s, 1, run + 1)
    Atomics.notify(s, 1)
  }
  const times = await Promise.all(results)
  const cpu = process.cpuUsage(cpu0)
  cpuPerWall = ((cpu.user + cpu.system) * 1000) / Number(process.hrtime.bigint() - wall0)
  // Whatever the mail rings still hold was handed over and not yet freed: free it here.
  if (heap && kind === 'heapMixed') for (const p of new Int32Array(mail)) if (p !== 0) heap.free(p)
  const rounds: number[] = []
  for (let r = 1; r <= runs; r++) rounds.push((Math.max(...times.map((t) => t[r])) - starts[r]) * 1e6) // ns
  return rounds
}

export async function workerChurn(n: number, runs: number): Promise<string> {
  const median = (xs: number[]): number => xs.slice().sort((a, b) => a - b)[xs.length >> 1]
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'makalu-churn-w-'))
  const heap = Heap.create(path.join(dir, 'shared.heap'), { size: 256 << 20, durability: 'process', backend: loadNative() ? 'mmap' : 'file' })
  const lines = [
    `\n### churn in worker_threads on one shared heap (node ${process.version}, ${os.cpus().length} CPUs; million pairs/s in total, median of ${runs} rounds; N = ${n} pairs per heap worker, 8N per bare worker)\n`,
    '| workload | bare 1 w | bare 2 w | bare scaling | heap 1 w | heap 2 w | heap scaling | heap 2 w ÷ bare 2 w | CPU/wall bare 2 w, heap 2 w |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---|',
  ]
  for (const [name, bare, hk] of [['64 B alloc+free pairs', 'bare64', 'heap64'], [`Larson-style 16..256 B${HANDOVER ? ' (2 w: every 8th block handed to the other worker, which frees it)' : ', no hand-over'}`, 'bareMixed', 'heapMixed']] as const) {
    const rate: Record<string, number> = {}
    for (const w of [1, 2]) {
      // The bare rows run 8× as many pairs: rounds as long as the heap's, so the start-up of a round weighs the same.
      rate[`b${w}`] = (w * 8 * n * 1e3) / median(await round(bare, w, 8 * n, runs, null))
      rate[`cb${w}`] = cpuPerWall
      rate[`h${w}`] = (w * n * 1e3) / median(await round(hk, w, n, runs, heap))
      rate[`ch${w}`] = cpuPerWall
    }
    const f = (x: number): string => x.toFixed(1)
    lines.push(`| ${name} | ${f(rate.b1)} | ${f(rate.b2)} | ${(rate.b2 / rate.b1).toFixed(2)}× | ${f(rate.h1)} | ${f(rate.h2)} | ` +
      `${(rate.h2 / rate.h1).toFixed(2)}× | ${(rate.h2 / rate.b2).toFixed(2)} | ${rate.cb2.toFixed(2)}, ${rate.ch2.toFixed(2)} |`)
  }
  const live = heap.stats().liveBlocks
  const check = heap.check()
  heap.close()
  fs.rmSync(dir, { recursive: true, force: true })
  if (live !== 0 || !check.ok) throw new Error(`churn-workers: the shared heap is left with ${live} blocks, check ${check.violations.slice(0, 3)}`)
  return lines.join('\n')
}
