/**
 * PersistentMap's size never lies and its probes always end (issue 8.5): the stored counts
 * are trusted only when the map says they are exact, whatever sequence of sessions (a 'power'
 * session, a crash, an open+close that does not touch the map) came before.
 */
import { expect } from 'chai'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { spawnSync } from 'node:child_process'
import { SimRegion, CrashMode, mulberry32 } from '@makalu/allocator'
import { PHeap } from '@makalu/pobj'
import { PersistentMap } from '../src'

/** size against a recount by iteration; lookups of missing keys end (a full table would spin). */
function expectCountsExact(m: PersistentMap<string | number, number>): void {
  const entries = [...m.keys()].length
  expect(m.size, 'size vs the entries iterated').to.equal(entries)
  for (let i = 0; i < 20; i++) expect(m.has('missing ' + i)).to.equal(false)
  const st = m.stats()
  expect(st.load, 'load').to.be.at.most(0.75)
}

function tmpDir(): string { return fs.mkdtempSync(path.join(os.tmpdir(), 'pmap-counts-')) }

describe('PersistentMap: size is exact whatever sessions came before', function () {
  this.timeout(0)

  it("a 'power' session on the file backend, then a 'process' session: size equals a recount, lookups end", () => {
    const dir = tmpDir()
    try {
      const file = path.join(dir, 'h.heap')
      const h1 = PHeap.create(file, { size: 8 << 20, durability: 'power', backend: 'file' })
      const m1 = PersistentMap.open<string, number>(h1, 'm')
      for (let i = 0; i < 300; i++) m1.set('k' + i, i)
      for (let i = 0; i < 40; i++) m1.delete('k' + i)
      h1.close()
      const h2 = PHeap.open(file, { durability: 'process', backend: 'file' })
      const m2 = PersistentMap.open<string, number>(h2, 'm')
      expectCountsExact(m2)
      expect(m2.size).to.equal(260)
      for (let i = 300; i < 2000; i++) m2.set('k' + i, i) // the 3/4 rule on the true count
      expectCountsExact(m2)
      h2.close()
      const h3 = PHeap.open(file, { durability: 'process', backend: 'file' })
      expectCountsExact(PersistentMap.open<string, number>(h3, "m"))
      h3.close()
      // Uncounted inserts just short of a resize: trusting the stale count, the next session
      // filled the slot array and an insert probed forever.
      const file2 = path.join(dir, 'h2.heap')
      const p1 = PHeap.create(file2, { size: 8 << 20, durability: 'power', backend: 'file' })
      const pm = PersistentMap.open<string, number>(p1, 'm')
      for (let i = 0; i < 24; i++) pm.set('k' + i, i)
      p1.close()
      const p2 = PHeap.open(file2, { durability: 'process', backend: 'file' })
      const pm2 = PersistentMap.open<string, number>(p2, 'm')
      expectCountsExact(pm2)
      for (let i = 0; i < 40; i++) pm2.set('x' + i, i)
      expectCountsExact(pm2)
      expect(pm2.size).to.equal(64)
      p2.close()
    } finally { fs.rmSync(dir, { recursive: true, force: true }) }
  })

  it('SIGKILL between the slot word and the counts word, then an open+close that does not touch the map', () => {
    const dir = tmpDir()
    try {
      const file = path.join(dir, 'h.heap')
      const child = path.join(__dirname, 'kill-child.js')
      for (let round = 0; round < 3; round++) {
        const r = spawnSync(process.execPath, [child, file, 'map', String(50 + round * 7)], { encoding: 'utf8' })
        expect(r.signal, r.stderr).to.equal('SIGKILL')
        const untouched = PHeap.open(file, { backend: 'mmap', durability: 'process' })
        expect(untouched.recovery.clean).to.equal(false)
        untouched.close()
        const h = PHeap.open(file, { backend: 'mmap', durability: 'process' })
        expect(h.recovery.clean).to.equal(true)
        const m = PersistentMap.open<string, number>(h, "m")
        expectCountsExact(m)
        h.close()
      }
    } finally { fs.rmSync(dir, { recursive: true, force: true }) }
  })
})

const OPTS = { chunkSize: 4096, logSize: 16 * 1024, rootCapacity: 8 }

/** What mapOp changes: a PersistentMap, or the JS Map that models it. */
interface MapOps { set(k: string, v: number): unknown; delete(k: string): boolean; clear(): void }

/** Map op i of a run: sets (some growing the table), deletes, replaces, a transaction, a clear. */
function mapOp(tx: (f: () => void) => void, m: MapOps, seed: number, i: number): void {
  const r = mulberry32((seed * 7919 + i * 104729) >>> 0)
  const x = r()
  const k = 'k' + Math.floor(r() * 40)
  if (x < 0.55) m.set(k, i)
  else if (x < 0.85) m.delete(k)
  else if (x < 0.97) tx(() => { m.set(k + 't', i); m.delete('k' + Math.floor(r() * 40)) })
  else m.clear()
}

/**
 * The recovered map holds the entries of the model before or after the op cut by the crash, in
 * the same order; a later session's inserts, a delete + set and a replace land where a JS Map
 * puts them (a stale or repeated insertion seq would put them elsewhere).
 */
function expectOrderOf(m: PersistentMap<string, number>, before: Map<string, number>, after: Map<string, number>, mutate: boolean): void {
  const got = [...m]
  const b = [...before]
  const a = [...after]
  if (JSON.stringify(got) !== JSON.stringify(b)) expect(got, 'entries in order vs the model before/after the op').to.deep.equal(a)
  if (!mutate) return
  const model = new Map(got)
  const first = got.length > 0 ? got[0][0] : 'none'
  for (const mm of [m, model] as MapOps[]) {
    mm.set('z1', 1); mm.delete(first); mm.set(first, 2); mm.set('z2', 3); mm.set('z1', 4)
  }
  expect([...m], 'order after new inserts in a later session').to.deep.equal([...model])
  m.check()
}

/**
 * Crashes at every drain of a run of map ops; each image is recovered, opened and closed
 * without touching the map, reopened clean: size must equal a recount and lookups end.
 */
export function countsCrashRun(seed: number, ops: number, mode: CrashMode, writeBack: 'any-time' | 'at-drain'): number {
  const region = new SimRegion(1 << 20, { writeBack })
  const heap = PHeap.createIn(region, OPTS)
  const m = PersistentMap.open<string, number>(heap, 'm')
  const rand = mulberry32(seed)
  let crashes = 0
  let failure: Error | null = null
  let op = 0
  let reg = region
  let before = new Map<string, number>()
  const after = new Map<string, number>()
  const onDrain = (d: number): void => {
    if (failure) return
    crashes++
    try {
      const img = reg.crash({ mode, seed: Math.floor(rand() * 2 ** 31) })
      const r1 = new SimRegion(img, { writeBack })
      PHeap.openIn(r1).close() // recovery, the map untouched
      const r2 = new SimRegion(r1.durableImage(), { writeBack })
      const h2 = PHeap.openIn(r2) // clean
      try {
        const m2 = PersistentMap.open<string, number>(h2, "m")
        expectCountsExact(m2)
        expectOrderOf(m2, before, after, false)
      } finally { h2.close() }
      const h3 = PHeap.openIn(new SimRegion(r2.durableImage(), { writeBack }))
      try {
        const m3 = PersistentMap.open<string, number>(h3, "m")
        expectCountsExact(m3)
        expectOrderOf(m3, before, after, true)
      } finally { h3.close() }
    } catch (e) {
      failure = e as Error
      failure.message = `seed ${seed} ${mode}/${writeBack}, crash at drain ${d} in op ${op}: ${failure.message}`
    }
  }
  region.onDrain = onDrain
  // Sessions: a clean close and reopen every 15 ops, so that trusted counts are in play.
  let h = heap
  let mm = m
  for (op = 0; op < ops && !failure; op++) {
    if (op > 0 && op % 15 === 0) {
      reg.onDrain = null
      h.close()
      const next = new SimRegion(reg.durableImage(), { writeBack })
      next.onDrain = onDrain
      reg = next
      h = PHeap.openIn(reg)
      mm = PersistentMap.open<string, number>(h, 'm')
      // Some sessions read the size first (a recount), some only write.
      if (op % 30 === 0) void mm.size
    }
    before = new Map(after)
    mapOp((f) => f(), after, seed, op)
    mapOp((f) => h.transaction(f), mm, seed, op)
  }
  reg.onDrain = null
  if (!h.closed) h.close()
  if (failure) throw failure
  return crashes
}

describe('PersistentMap crash images: size == recount after recovery + an untouched open/close + a reopen', function () {
  this.timeout(0)
  it('at every drain, strict and random, both write-back models', () => {
    let crashes = 0
    for (const wb of ['any-time', 'at-drain'] as const) {
      crashes += countsCrashRun(1, 60, 'strict', wb)
      crashes += countsCrashRun(2, 60, 'random', wb)
    }
    expect(crashes).to.be.greaterThan(200)
  })
})

describe('the counts crash images find a planted bug', function () {
  this.timeout(0)
  it('finds a map that keeps EXACT set while it changes the counts', () => {
    const proto = PersistentMap.prototype as unknown as Record<string, unknown>
    const begin = proto.beginChange
    proto.beginChange = function (this: { knowCounts(): void; countsMayChange: boolean }) { this.knowCounts(); this.countsMayChange = true }
    let failure: unknown = null
    try {
      countsCrashRun(1, 60, 'strict', 'any-time')
      countsCrashRun(2, 60, 'random', 'at-drain')
    } catch (e) { failure = e } finally { proto.beginChange = begin }
    expect(failure, 'the planted bug was not found').to.be.instanceOf(Error)
    expect(String(failure)).to.match(/size vs the entries iterated|load/)
  })

  it('finds a map that starts each session\'s insertion seqs afresh (order after a reopen)', () => {
    const proto = PersistentMap.prototype as unknown as Record<string, unknown>
    const take = proto.takeSeq
    proto.takeSeq = function (this: { nextSeq: number }) { if (this.nextSeq === 0) this.nextSeq = 1; return this.nextSeq++ }
    let failure: unknown = null
    try { countsCrashRun(1, 60, 'strict', 'any-time') } catch (e) { failure = e } finally { proto.takeSeq = take }
    expect(failure, 'the planted bug was not found').to.be.instanceOf(Error)
    expect(String(failure)).to.match(/order after new inserts|seq/)
  })

  it('finds a map whose replacing entry does not keep the seq of the one it replaces', () => {
    const proto = PersistentMap.prototype as unknown as Record<string, unknown>
    const build = proto.buildRecord as (this: unknown, ...a: unknown[]) => number
    proto.buildRecord = function (this: { takeSeq(): number }, kk: number, keyLen: number, h: number, _seq: number, v: unknown) {
      // A fresh seq for every record, so a replaced key moves to the end.
      return build.call(this, kk, keyLen, h, this.takeSeq(), v)
    }
    let failure: unknown = null
    try { countsCrashRun(2, 60, 'random', 'at-drain') } catch (e) { failure = e } finally { proto.buildRecord = build }
    expect(failure, 'the planted bug was not found').to.be.instanceOf(Error)
    expect(String(failure)).to.match(/order/)
  })
})
