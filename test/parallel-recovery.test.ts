/**
 * Parallel recovery ([scale] item 3): marking with worker threads over a shared mark bitmap
 * (allocator parallel-mark.ts) gives exactly the serial result, on real files, with real
 * workers: each case recovers copies of one crash image serially and with 2 threads and
 * compares the reports and the recovered files byte for byte (parallel-recovery-kit.ts).
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { expect } from 'chai'
import { execFileSync } from 'node:child_process'
import { Heap, loadNative, ArgumentError, RecoveryReport } from '@makalu/allocator'
import { PHeap, pobjTracer, pobjTracerModule } from '@makalu/pobj'
import { PersistentMap } from '@makalu/examples'
import { runUntilKilled, tempDir } from './kill-kit'
import { TYPES, makeImage, recoverBoth, randomGraph, longList, forest, bigArray, bigMap, Opener } from './parallel-recovery-kit'

const hasMmap = loadNative() !== null

/** Every worker takes part, however small the heap (else the opening thread may finish before one starts). */
function waitForWorkers(): void {
  before(() => { process.env.MAKALU_RECOVERY_WAIT_WORKERS = '1' })
  after(() => { delete process.env.MAKALU_RECOVERY_WAIT_WORKERS })
}

/** The live blocks a serial recovery of a copy of the image finds. */
function serialLiveBlocks(image: string): number {
  fs.copyFileSync(image, image + '.a')
  const serial = Heap.open(image + '.a', { owner: PHeap.OWNER, recoveryWorkers: 1, tracerModule: pobjTracerModule })
  try { return serial.recovery.liveBlocks } finally { serial.close() }
}

describe('parallel recovery marks exactly what serial recovery marks', function () {
  this.timeout(240_000)
  const dir = tempDir('makalu-parallel-')
  waitForWorkers()
  before(function () { if (!hasMmap) this.skip() })
  const image = (): string => path.join(dir(), 'image.heap')
  afterEach(() => { for (const f of fs.readdirSync(dir())) fs.rmSync(path.join(dir(), f), { force: true }) })

  it('a random graph (out-degree 3, 16 roots)', () => {
    makeImage(image(), 64 << 20, (h) => randomGraph(h, 100_000, 11))
    const { parallel } = recoverBoth(image())
    expect(parallel.liveBlocks).to.be.greaterThan(80_000)
  })

  it('one long list (nothing to share: the worker only waits)', () => {
    makeImage(image(), 32 << 20, (h) => longList(h, 100_000))
    recoverBoth(image())
  })

  it('a forest of 128 binary trees', () => {
    makeImage(image(), 32 << 20, (h) => forest(h, 128, 1023))
    const { parallel } = recoverBoth(image())
    expect(parallel.liveBlocks).to.be.greaterThan(128 * 1023)
  })

  it('one big ref array behind a chain (its ranges shared between the threads)', () => {
    makeImage(image(), 64 << 20, (h) => bigArray(h, 10_000, 200_000))
    recoverBoth(image())
  })

  it('a 1M-entry PersistentMap (one record array of 2M slots)', () => {
    makeImage(image(), 256 << 20, (h) => bigMap(h, 1_000_000))
    const { parallel } = recoverBoth(image())
    expect(parallel.liveBlocks).to.be.greaterThan(1_000_000)
    const heap = PHeap.open(image(), { types: TYPES, recoveryWorkers: 2 })
    try {
      const m = PersistentMap.open<string, number>(heap, 'map')
      expect(m.size).to.equal(1_000_000)
      expect(m.get('key 123456')).to.equal(123456)
      expect(heap.check().ok).to.equal(true)
    } finally { heap.close() }
  })

  it('the raw allocator, conservatively (no tracer) and with the tracer as a module alone', () => {
    makeImage(image(), 64 << 20, (h) => randomGraph(h, 50_000, 5))
    const conservative: Opener = (file, workers) => Heap.open(file, { owner: PHeap.OWNER, recoveryWorkers: workers })
    const precise: Opener = (file, workers) =>
      Heap.open(file, { owner: PHeap.OWNER, recoveryWorkers: workers, tracerModule: pobjTracerModule })
    expect(recoverBoth(image(), 2, conservative).parallel.tracing).to.equal('conservative')
    expect(recoverBoth(image(), 2, precise).parallel.tracing).to.equal('precise')
  })

  it('catches a planted bug: a worker that skips its share of a big array', () => {
    makeImage(image(), 64 << 20, (h) => bigArray(h, 10_000, 200_000))
    const planted: Opener = (file, workers) => Heap.open(file, {
      owner: PHeap.OWNER, recoveryWorkers: workers,
      tracerModule: { path: path.join(__dirname, 'parallel-recovery-planted.js'), name: 'skippingTracer' },
    })
    let failure: unknown = null
    try { recoverBoth(image(), 2, planted) } catch (e) { failure = e }
    expect(failure, 'the planted bug was not found').to.be.instanceOf(Error)
    expect(String(failure)).to.not.include('the workers never joined')
  })

  it('refuses bad options before opening: typed errors, nothing written', () => {
    makeImage(image(), 8 << 20, (h) => longList(h, 10))
    const before = fs.readFileSync(image())
    expect(() => Heap.open(image(), { owner: PHeap.OWNER, recoveryWorkers: 0 })).to.throw(ArgumentError, /heap: recoveryWorkers/)
    expect(() => Heap.open(image(), { owner: PHeap.OWNER, recoveryWorkers: 2.5 })).to.throw(ArgumentError, /heap: recoveryWorkers/)
    expect(() => Heap.open(image(), { owner: PHeap.OWNER, recoveryWorkers: 2, tracer: { trace() {} } })).to.throw(ArgumentError, /needs tracerModule/)
    expect(() => Heap.open(image(), { owner: PHeap.OWNER, tracerModule: { path: 'relative.js', name: 'x' } })).to.throw(ArgumentError, /tracerModule/)
    expect(Buffer.compare(fs.readFileSync(image()), before)).to.equal(0)
  })

  it('falls back to one thread when a worker cannot load the tracer module, with the same result', () => {
    makeImage(image(), 64 << 20, (h) => randomGraph(h, 50_000, 3))
    const liveBlocks = serialLiveBlocks(image())
    // The opening thread has its tracer in-process; the workers are pointed at a module without it.
    const heap = Heap.open(image(), { owner: PHeap.OWNER, recoveryWorkers: 2, tracer: pobjTracer,
      tracerModule: { path: path.join(__dirname, 'parallel-recovery-planted.js'), name: 'noSuchExport' } })
    try {
      expect(heap.recovery.markingThreads).to.equal(1)
      expect(heap.recovery.markingFallback).to.match(/exports no function 'noSuchExport'/)
      expect(heap.recovery.liveBlocks).to.equal(liveBlocks)
    } finally { heap.close() }
  })

  it('falls back to one thread when a worker\'s thread ends mid-share without a word (no heartbeat), with the same result', () => {
    makeImage(image(), 64 << 20, (h) => randomGraph(h, 50_000, 4))
    const liveBlocks = serialLiveBlocks(image())
    const out = execFileSync(process.execPath, [path.join(__dirname, 'parallel-recovery-stall-child.js'), image()],
      { timeout: 30_000, env: { ...process.env, MAKALU_RECOVERY_STALL_MS: '300' }, encoding: 'utf8' })
    const report = JSON.parse(out) as RecoveryReport & { violations: number }
    expect(report.markingThreads).to.equal(1)
    expect(report.markingFallback).to.match(/heap: a recovery worker stopped: no heartbeat for 300 ms/)
    expect(report.liveBlocks).to.equal(liveBlocks)
    expect(report.violations).to.equal(0)
  })
})

describe('a heap killed by SIGKILL recovers the same with workers', function () {
  this.timeout(120_000)
  const dir = tempDir('makalu-parallel-kill-')
  waitForWorkers()
  before(function () { if (!hasMmap) this.skip() })

  it('kill -9 during map inserts; serial and parallel recoveries of the image agree, every acked entry is there', async () => {
    const file = path.join(dir(), 'killed.heap')
    let acked = -1
    await runUntilKilled(path.join(__dirname, 'parallel-recovery-child.js'), [file], (line, kill) => {
      const m = /^ack (\d+)$/.exec(line)
      if (m) acked = Number(m[1])
      if (acked >= 20_000) kill()
    })
    expect(acked).to.be.at.least(20_000)
    const image = path.join(dir(), 'image.heap')
    fs.copyFileSync(file, image)
    const { parallel } = recoverBoth(image)
    expect(parallel.reason).to.equal('crash')
    const heap = PHeap.open(image, { types: TYPES, recoveryWorkers: 2 })
    try {
      const m = PersistentMap.open<string, number>(heap, 'map')
      for (let i = 0; i <= acked; i += 97) expect(m.get('key ' + i)).to.equal(i)
      expect(m.size).to.be.at.least(acked + 1)
      expect(heap.check().ok).to.equal(true)
    } finally { heap.close() }
  })
})
