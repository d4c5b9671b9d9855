import { expect } from 'chai'
import { spawnSync } from 'child_process'
import * as fs from 'fs'
import * as path from 'path'
import { Heap, RegionError, ArgumentError, loadNative, openRegion } from '../src'
import { makeTempDir, removeDir } from './fixtures/region-util'
import { GiB, SEG, WIDE_MAX, WideState, fillSegment0, readWord, verifyList } from './support/wide-heap'

const CHILD = path.join(__dirname, 'fixtures', 'wide-heap-child.js')

/** Whether the file system of `dir` holds a sparse file of `size` bytes (and ~7 GiB of real space). */
function sparseProblem(dir: string): string | null {
  const p = path.join(dir, 'probe')
  try {
    fs.closeSync(fs.openSync(p, 'w'))
    fs.truncateSync(p, WIDE_MAX)
    const st = fs.statfsSync(dir)
    if (st.bavail * st.bsize < 8 * GiB) return `under 8 GiB free on ${dir}: the test grows its heap file to ~6 GiB`
    return null
  } catch (e) {
    return `${dir} cannot hold a sparse ${WIDE_MAX}-byte file: ${(e as Error).message}`
  } finally {
    try { fs.unlinkSync(p) } catch { /* not created */ }
  }
}

describe('heaps over 4 GiB (maxSize 64 GiB, sparse)', function () {
  this.timeout(120_000)
  let dir: string
  beforeEach(() => { dir = makeTempDir('wide') })
  afterEach(() => removeDir(dir))

  /** Runs the child: a wide heap built, then SIGKILL inside a transaction; returns what it printed. */
  function crashChild(file: string): { state: WideState; fillers: number[]; far: number } {
    const run = spawnSync(process.execPath, [CHILD, file, 'mmap'], { encoding: 'utf8', timeout: 100_000 })
    expect(run.signal, run.stderr).to.equal('SIGKILL')
    const out = JSON.parse(run.stdout.trim().split('\n')[0]) as { state: WideState; fillers: number[]; far: number; check: unknown }
    expect(out.check).to.equal('ok')
    expect(out.far).to.be.greaterThan(100)
    expect(Math.max(...out.state.nodes)).to.be.greaterThan(SEG)
    expect(fs.statSync(file).size).to.be.greaterThan(SEG)
    return out
  }

  /** Recovers the child's heap (with `workers` marking threads), verifies it, reopens it clean; returns the recovery's counts. */
  function recoverAndVerify(file: string, out: ReturnType<typeof crashChild>, workers: number): unknown {
    const { state } = out
    const heap = Heap.open(file, { durability: 'process', recoveryWorkers: workers })
    let counts: unknown
    try {
      const r = heap.recovery
      expect(r.reason).to.equal('crash')
      expect(r.rolledBackTransaction).to.equal(true)
      expect(r.markingThreads, r.markingFallback).to.equal(workers)
      // The fillers were never reachable: reclaimed (each was one large object).
      expect(r.reclaimedBytes).to.be.at.least(out.fillers.length > 0 ? 3 * GiB : 0)
      verifyList(heap, state) // ids past 4 GiB rolled back, links intact both ways
      const big = state.nodes[state.nodes.length - 1]
      expect(big).to.be.greaterThan(SEG)
      expect(readWord(heap, big + 200 * 1024)).to.equal(state.nodes[0])
      const c = heap.check()
      expect(c.violations).to.deep.equal([])
      expect(c.ok).to.equal(true)
      expect(heap.stats().liveBlocks).to.equal(state.nodes.length)
      const fresh = heap.alloc(48)
      expect(heap.isAllocated(fresh)).to.equal(true)
      heap.free(fresh)
      counts = { live: r.liveBlocks, liveBytes: r.liveBytes, reclaimed: r.reclaimedBlocks, reclaimedBytes: r.reclaimedBytes, released: r.releasedChunks, stale: r.stalePointers }
    } finally {
      heap.close()
    }
    const again = Heap.open(file, { durability: 'process' })
    try {
      expect(again.recovery.reason).to.equal('clean')
      verifyList(again, state)
      expect(again.check().ok).to.equal(true)
    } finally {
      again.close()
    }
    return counts
  }

  it('mmap: a list across the 4 GiB boundary survives SIGKILL inside a transaction, recovery, a clean reopen and check()', function () {
    if (!loadNative()) this.skip() // the file backend refuses heaps over 4 GiB (below)
    const why = sparseProblem(dir)
    if (why) { console.log(`      skipped: ${why}`); this.skip() }
    const file = path.join(dir, 'wide.heap')
    recoverAndVerify(file, crashChild(file), 1)
  })

  it('mmap: parallel recovery (2 threads) of the same crash past 4 GiB finds what the serial one finds', function () {
    if (!loadNative()) this.skip()
    const why = sparseProblem(dir)
    if (why) { console.log(`      skipped: ${why}`); this.skip() }
    process.env.MAKALU_RECOVERY_WAIT_WORKERS = '1' // the worker joins before the opening thread marks
    try {
      const serialFile = path.join(dir, 'serial.heap')
      const serialOut = crashChild(serialFile) // the child is deterministic: the same heap twice
      const serial = recoverAndVerify(serialFile, serialOut, 1)
      fs.rmSync(serialFile)
      const parallelFile = path.join(dir, 'parallel.heap')
      const parallelOut = crashChild(parallelFile)
      expect(parallelOut.state).to.deep.equal(serialOut.state)
      expect(recoverAndVerify(parallelFile, parallelOut, 2)).to.deep.equal(serial)
    } finally {
      delete process.env.MAKALU_RECOVERY_WAIT_WORKERS
    }
  })

  it('mmap: collect() frees dead blocks past 2 GiB (a one-segment heap) and past 4 GiB (a wide heap); check() stays clean', function () {
    if (!loadNative()) this.skip()
    const why = sparseProblem(dir)
    if (why) { console.log(`      skipped: ${why}`); this.skip() }
    // narrow: past 2 GiB from dataOff too (a granule index over 2^27: `g << 4` is a negative int32 there, which only uint32 stores wrapped back).
    for (const [name, maxSize, over] of [['narrow', 4 * GiB, 2 * GiB + 64 * 2 ** 20], ['wide', WIDE_MAX, SEG]] as const) {
      const heap = Heap.create(path.join(dir, `${name}.heap`), { size: GiB, maxSize, durability: 'process' })
      try {
        const keep = heap.alloc(64)
        heap.setRoot('keep', keep)
        // Large objects (fresh chunks: no page touched) up to `over`; then blocks past it.
        if (name === 'wide') fillSegment0(heap)
        else for (let end = 0; end < over;) end = heap.alloc(GiB) + GiB
        const dead: number[] = []
        for (let i = 0; i < 3000; i++) dead.push(heap.alloc(32))
        expect(Math.min(...dead), name).to.be.at.least(over)
        const r = heap.collect()
        expect(r.freedBlocks, name).to.be.at.least(3000)
        for (const p of dead) expect(heap.isAllocated(p)).to.equal(false)
        expect(heap.isAllocated(keep)).to.equal(true)
        expect(heap.check().violations, name).to.deep.equal([])
      } finally {
        heap.close()
      }
    }
  })

  it('mmap region: segments of 4 GiB over one mapping; a store through segment 1 reaches the file at 2^32 + x', function () {
    if (!loadNative()) this.skip()
    const why = sparseProblem(dir)
    if (why) { console.log(`      skipped: ${why}`); this.skip() }
    const file = path.join(dir, 'region.heap')
    const r = openRegion(file, { create: true, size: 1 << 20, maxSize: 8 * GiB, durability: 'power', backend: 'mmap' })
    try {
      expect(r.segments.length).to.equal(1)
      expect(r.segments[0]).to.equal(r.bytes)
      r.grow(SEG + (1 << 20))
      expect(r.size).to.equal(SEG + (1 << 20))
      expect(r.segments.map((s) => s.length)).to.deep.equal([SEG, 1 << 20])
      expect(r.bytes).to.equal(r.segments[0])
      expect(r.segments[1].buffer).to.equal(r.segments[0].buffer) // one mapping
      r.segments[1][12345] = 0xab
      r.segments[0][SEG - 1] = 0xcd
      r.flush(SEG + 12345, 1)
      r.flush(SEG - 1, 1)
      r.drain()
      const fd = fs.openSync(file, 'r')
      try {
        const b = Buffer.alloc(1)
        fs.readSync(fd, b, 0, 1, SEG + 12345)
        expect(b[0]).to.equal(0xab)
        fs.readSync(fd, b, 0, 1, SEG - 1)
        expect(b[0]).to.equal(0xcd)
      } finally {
        fs.closeSync(fd)
      }
      expect(() => r.flush(SEG + (1 << 20) - 4, 8)).to.throw(ArgumentError, /outside a region/)
    } finally {
      r.close()
    }
  })

  it('file backend: a heap over 4 GiB is refused with a RegionError naming the limit, and no file is left', () => {
    const file = path.join(dir, 'wide-file.heap')
    expect(() => Heap.create(file, { size: GiB, maxSize: 8 * GiB, backend: 'file' }))
      .to.throw(RegionError, /file backend holds the heap in one buffer of at most 4 GiB/)
    expect(fs.existsSync(file)).to.equal(false)
  })

  it('a tracer that does not declare segmented: true is refused on a wide heap', function () {
    if (!loadNative()) this.skip()
    const file = path.join(dir, 'wide-tracer.heap')
    expect(() => Heap.create(file, { size: GiB, maxSize: 8 * GiB, durability: 'process', tracer: { trace() {} } }))
      .to.throw(ArgumentError, /segmented: true/)
    expect(fs.existsSync(file)).to.equal(false)
    const heap = Heap.create(file, { size: GiB, maxSize: 8 * GiB, durability: 'process', tracer: { segmented: true, trace() {} } })
    expect(heap.check().ok).to.equal(true)
    heap.close()
  })
})
