/**
 * Transactions at their edges: root changes rolled back whole, snapshots across block
 * boundaries, and commits whose drains fail.
 */
import { expect } from 'chai'
import { Heap, SimRegion, RegionError, CommitFailedError, HeapFailedError, HeapClosedError } from '../src'
import { SMALL_HEAP, SMALL_REGION } from './support/crash-harness'

const u32 = (h: Heap): Uint32Array => new Uint32Array(h.bytes.buffer, h.bytes.byteOffset, h.bytes.length >>> 2)
const rootValues = (h: Heap): Array<[string, number]> =>
  h.roots().map(([n, p]) => [n, u32(h)[p >>> 2]] as [string, number]).sort()

/** A 16-byte block holding `value`, durable, under root `name`. */
function rootWith(h: Heap, name: string, value: number): number {
  const p = h.alloc(16)
  u32(h)[p >>> 2] = value
  h.persist(p, 16)
  h.setRoot(name, p)
  return p
}

describe('heap: root changes in a transaction roll back whole', () => {
  it('a throw after removing root a and adding root b (same slot) restores a and drops b', () => {
    const h = Heap.createIn(new SimRegion(SMALL_REGION), SMALL_HEAP)
    rootWith(h, 'a', 1)
    rootWith(h, 'keep', 2)
    expect(() => h.transaction(() => {
      const p = h.getRoot('a')
      h.setRoot('a', 0)
      h.setRoot('b', p)
      throw new Error('planned')
    })).to.throw('planned')
    expect(rootValues(h)).to.deep.equal([['a', 1], ['keep', 2]])
    expect(h.check().violations).to.deep.equal([])
  })

  it('a crash before commit restores a and drops b, at every drain (strict and random images)', () => {
    for (const writeBack of ['any-time', 'at-drain'] as const) {
      const region = new SimRegion(SMALL_REGION, { writeBack })
      const h = Heap.createIn(region, SMALL_HEAP)
      rootWith(h, 'a', 1)
      const images: Uint8Array[] = []
      region.onDrain = () => {
        images.push(region.crash({ mode: 'strict' }))
        for (let k = 0; k < 4; k++) images.push(region.crash({ mode: 'random', seed: images.length * 7 + k }))
      }
      h.transaction(() => {
        h.setRoot('a', 0)
        const q = h.alloc(16)
        u32(h)[q >>> 2] = 2
        h.setRoot('b', q) // takes a's slot
      })
      region.onDrain = null
      expect(images.length).to.be.greaterThan(4)
      for (const [k, image] of images.entries()) {
        const r = Heap.openIn(new SimRegion(image))
        const roots = rootValues(r)
        const ok = JSON.stringify(roots) === JSON.stringify([['a', 1]]) || JSON.stringify(roots) === JSON.stringify([['b', 2]])
        expect(ok, `${writeBack}, image ${k}: roots ${JSON.stringify(roots)}`).to.equal(true)
        expect(r.check().violations).to.deep.equal([])
      }
    }
  })
})

describe('heap: a snapshot covers every byte of its range', () => {
  it('a range that starts in a block new in this transaction and runs into an old one is restored by a throw', () => {
    const h = Heap.createIn(new SimRegion(SMALL_REGION), SMALL_HEAP)
    const a = h.alloc(16)
    const old = h.alloc(16)
    expect(old, 'two 16-byte blocks side by side').to.equal(a + 16)
    u32(h)[old >>> 2] = 0xabcd
    h.persist(old, 16)
    h.setRoot('old', old)
    h.free(a)
    expect(() => h.transaction(() => {
      const fresh = h.alloc(16)
      expect(fresh, 'the freed neighbour is reused').to.equal(a)
      h.snapshot(fresh, 32)
      h.bytes.fill(0xff, fresh, fresh + 32)
      throw new Error('planned')
    })).to.throw('planned')
    expect(u32(h)[old >>> 2]).to.equal(0xabcd)
  })

  it('and by a crash before commit', () => {
    const region = new SimRegion(SMALL_REGION)
    const h = Heap.createIn(region, SMALL_HEAP)
    const a = h.alloc(16)
    const old = h.alloc(16)
    u32(h)[old >>> 2] = 0xabcd
    h.persist(old, 16)
    h.setRoot('old', old)
    h.free(a)
    let image: Uint8Array | null = null
    h.transaction(() => {
      const fresh = h.alloc(16)
      h.snapshot(fresh, 32)
      h.bytes.fill(0xff, fresh, fresh + 32)
      h.flush(fresh, 32) // the changed bytes may reach media before the commit
      h.drain()
      image = region.crash({ mode: 'strict' })
    })
    const r = Heap.openIn(new SimRegion(image!))
    expect(u32(r)[r.getRoot('old') >>> 2]).to.equal(0xabcd)
  })
})

describe('heap: a commit whose drain fails', () => {
  /** Makes drain number `n` (counted from now) of the region throw as an I/O error would. */
  function failDrain(region: SimRegion, n: number | ((d: number) => boolean)): { count: () => number } {
    let seen = 0
    const fails = typeof n === 'number' ? (d: number) => d === n : n
    region.onDrain = () => {
      const d = seen++
      if (fails(d)) throw new RegionError('region: drain failed: ENOSPC (simulated)')
    }
    return { count: () => seen }
  }

  it('rolls the transaction back and says so; later transactions commit; close works', () => {
    for (const writeBack of ['any-time', 'at-drain'] as const) {
      let commitFailures = 0
      for (let k = 0; k < 6; k++) {
        const region = new SimRegion(SMALL_REGION, { writeBack })
        const h = Heap.createIn(region, SMALL_HEAP)
        const acct = rootWith(h, 'acct', 100)
        const before = h.stats()
        // Drain k of the transaction fails: a snapshot's drain (inside the section) or one of the commit's.
        failDrain(region, k)
        let err: unknown = null
        try {
          h.transaction(() => {
            h.snapshot(acct, 4)
            u32(h)[acct >>> 2] = 50
            const extra = h.alloc(16)
            u32(h)[extra >>> 2] = 7
            h.setRoot('extra', extra)
          })
        } catch (e) { err = e }
        region.onDrain = null
        const label = `${writeBack}, failing drain ${k}`
        if (err === null) continue // this transaction had fewer drains than k + 1
        if (err instanceof HeapFailedError) {
          // The outcome could not be settled: every later call is refused, close releases the file.
          expect(() => h.getRoot('acct'), label).to.throw(HeapFailedError)
          expect(() => h.transaction(() => 1), label).to.throw(HeapFailedError)
          const image = region.crash({ mode: 'strict' })
          h.close()
          expect(h.closed).to.equal(true)
          const r = Heap.openIn(new SimRegion(image))
          const v = u32(r)[r.getRoot('acct') >>> 2]
          expect([50, 100], label).to.include(v)
          expect(r.check().violations).to.deep.equal([])
          continue
        }
        if (err instanceof CommitFailedError) {
          commitFailures++
          expect(err.cause, label).to.be.instanceOf(RegionError)
          expect(err.message, label).to.match(/rolled back/)
        } else {
          expect(err, label).to.be.instanceOf(RegionError) // from a snapshot: the section threw, and was rolled back
        }
        expect(h.inTransaction, label).to.equal(false)
        expect(u32(h)[acct >>> 2], label).to.equal(100)
        expect(h.getRoot('extra'), label).to.equal(0)
        expect(h.stats().used, label).to.equal(before.used)
        // The heap goes on: a later transaction commits for real, and a crash keeps it.
        h.transaction(() => { h.snapshot(acct, 4); u32(h)[acct >>> 2] = 60 })
        const r = Heap.openIn(new SimRegion(region.crash({ mode: 'strict' })))
        expect(u32(r)[r.getRoot('acct') >>> 2], label).to.equal(60)
        expect(r.getRoot('extra'), label).to.equal(0)
        expect(r.check().violations).to.deep.equal([])
        h.close()
      }
      expect(commitFailures, `${writeBack}: some failures hit the commit itself`).to.be.greaterThan(0)
    }
  })

  it('marks the heap failed when the rollback cannot be made durable either; the next open recovers', () => {
    for (const writeBack of ['any-time', 'at-drain'] as const) {
      const region = new SimRegion(SMALL_REGION, { writeBack })
      const h = Heap.createIn(region, SMALL_HEAP)
      const acct = rootWith(h, 'acct', 100)
      failDrain(region, () => true) // the disk is gone
      expect(() => h.transaction(() => { h.snapshot(acct, 4); u32(h)[acct >>> 2] = 50 })).to.throw(HeapFailedError)
      expect(h.inTransaction).to.equal(false)
      expect(() => h.alloc(16)).to.throw(HeapFailedError, /open it again/)
      region.onDrain = null
      const image = region.crash({ mode: 'strict' })
      h.close()
      expect(() => h.alloc(16)).to.throw(HeapClosedError)
      const r = Heap.openIn(new SimRegion(image))
      expect(r.recovery.clean).to.equal(false)
      expect(u32(r)[r.getRoot('acct') >>> 2], writeBack).to.equal(100)
      expect(r.check().violations).to.deep.equal([])
    }
  })
})

describe('heap: the transaction budget (snapshotCapacity)', () => {
  for (const length of [8, 24, 100]) {
    it(`snapshotCapacity(${length}) snapshots of ${length} bytes fit in one transaction, one more does not`, () => {
      const h = Heap.createIn(new SimRegion(SMALL_REGION), { ...SMALL_HEAP, logSize: 4096 })
      const n = h.snapshotCapacity(length)
      expect(n).to.be.greaterThan(0)
      const p = h.alloc(length * (n + 1))
      h.persist(p, length * (n + 1)) // an old block: its snapshots are logged
      h.transaction(() => { for (let i = 0; i < n; i++) h.snapshot(p + i * length, length) })
      expect(() => h.transaction(() => { for (let i = 0; i <= n; i++) h.snapshot(p + i * length, length) })).to.throw(/too large for the undo log/)
      expect(() => h.snapshotCapacity(0)).to.throw(/positive integer/)
      h.close()
    })
  }
})

describe('heap: a block allocated and freed in one transaction', () => {
  it('is reusable at once; a rollback frees what the transaction still holds, once; a commit keeps it', () => {
    const h = Heap.createIn(new SimRegion(SMALL_REGION), SMALL_HEAP)
    const before = h.usedBytes
    let reused = false
    expect(() => h.transaction(() => {
      const a = h.alloc(40)
      h.free(a)
      const b = h.alloc(40)
      reused = a === b // the freed block came back in the same transaction
      h.alloc(40)
      const c = h.alloc(40)
      h.free(c) // freed, not allocated again
      throw new Error('abort')
    })).to.throw('abort')
    expect(reused).to.equal(true)
    expect(h.usedBytes).to.equal(before)
    expect(h.check().violations).to.deep.equal([])
    const kept = h.transaction(() => { const a = h.alloc(40); h.free(a); const b = h.alloc(40); h.setRoot('kept', b); return b })
    expect(h.isAllocated(kept)).to.equal(true)
    expect(h.usedBytes - before).to.equal(h.usableSize(kept))
    expect(() => h.transaction(() => { const x = h.alloc(16); h.free(x); h.free(x) })).to.throw(/free/)
    expect(h.check().violations).to.deep.equal([])
    h.close()
  })
})
