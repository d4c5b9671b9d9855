import 'reflect-metadata'
import { expect } from 'chai'
import { SimRegion, RegionError, CommitFailedError } from '@makalu/allocator'
import { PHeap } from '../src'
import { Account } from './models'
import { simHeap } from './helpers'

describe('pobj: a transaction whose commit fails', () => {
  it('is rolled back in the heap and in the handles; both layers leave the transaction; the next one commits', () => {
    const { region, heap } = simHeap([Account])
    const a = heap.new(Account, { owner: 'ann', balance: 100 })
    heap.setRoot('a', a)
    const used = heap.stats().used
    // The first drain after the section returns is the commit's: it fails, as a full disk would.
    let committing = false
    region.onDrain = () => { if (committing) { committing = false; throw new RegionError('region: drain failed: ENOSPC (simulated)') } }
    let err: unknown = null
    try {
      heap.transaction(() => {
        a.balance = 50
        a.owner = 'bob'
        heap.setRoot('b', heap.new(Account, { owner: 'new', balance: 1 }))
        committing = true
      })
    } catch (e) { err = e }
    region.onDrain = null
    expect(err).to.be.instanceOf(CommitFailedError)
    expect(heap.inTransaction).to.equal(false)
    expect(heap.raw.inTransaction).to.equal(false)
    expect([a.owner, a.balance]).to.deep.equal(['ann', 100])
    expect(heap.root('b')).to.equal(null)
    expect(heap.stats().used).to.equal(used)
    heap.transaction(() => { a.balance = 70 })
    const image = region.crash({ mode: 'strict' })
    heap.close()
    const again = PHeap.openIn(new SimRegion(image), { types: [Account] })
    const back = again.root('a', Account)!
    expect([back.owner, back.balance]).to.deep.equal(['ann', 70])
    expect(again.root('b')).to.equal(null)
    expect(again.check().violations).to.deep.equal([])
  })
})
