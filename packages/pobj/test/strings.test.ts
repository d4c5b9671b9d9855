import 'reflect-metadata'
import { expect } from 'chai'
import { SimRegion } from '@makalu/allocator'
import { PHeap, PArray, Persistent, field, LayoutError } from '../src'
import { Account, Node } from './models'
import { simHeap, reachable } from './helpers'

const ODD = ['\uD800', 'a\uDC00b', '\uD83D', 'x\uDE00\uD83D', 'ok \uD83D\uDE00 and lone \uDBFF!', 'é\uD800é']

describe('pobj strings that are not well-formed UTF-16', () => {
  it('keeps lone surrogates in string fields losslessly, in the session, after reopen and after a crash', () => {
    const { region, heap } = simHeap([Account, Node])
    const accounts = ODD.map((owner, i) => heap.new(Account, { owner, balance: i }))
    const list = heap.newArray(Account, accounts)
    heap.setRoot('accounts', list)
    expect(accounts.map((a) => a.owner)).to.deep.equal(ODD)
    // Two owners differing only in a lone surrogate stay different.
    accounts[0].owner = '\uD801'
    expect(accounts[0].owner).to.equal('\uD801')
    accounts[0].owner = ODD[0]
    const image = region.crash({ mode: 'strict' })
    heap.close()
    for (const r of [new SimRegion(region.durableImage()), new SimRegion(image)]) {
      const again = PHeap.openIn(r, { types: [Account, Node] })
      const arr = again.root('accounts', PArray<Account>)!
      expect(arr.toArray().map((a) => a.owner)).to.deep.equal(ODD)
      expect(again.check().violations).to.deep.equal([])
      expect(reachable(again).bytes).to.equal(again.stats().used)
      expect(again.stats().strings.count).to.equal(ODD.length)
      again.close()
    }
  })

  it('refuses stable names and field names with a lone surrogate (LayoutError)', () => {
    expect(() => {
      @Persistent('Bad\uD800')
      class Bad { @field.i32 x!: number }
      void Bad
    }).to.throw(LayoutError, /lone surrogate/)
  })
})
