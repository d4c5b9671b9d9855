/** The README's example, verbatim in spirit: if this breaks, the README is wrong. */
import 'reflect-metadata'
import { expect } from 'chai'
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { PHeap, Persistent, field } from '@makalu/pobj'

@Persistent()
class Account {
  @field() owner!: string
  @field.i32 balance!: number
}

@Persistent()
class Bank {
  @field.ref(() => Account) alice!: Account
  @field.ref(() => Account) bob!: Account
}

describe('README example', () => {
  it('creates, transacts, closes and reopens a bank', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'makalu-readme-'))
    const file = path.join(dir, 'bank.heap')
    const heap = PHeap.create(file, { size: 64 << 20, types: [Account, Bank] })
    const bank = heap.root('bank', () => heap.new(Bank, {
      alice: heap.new(Account, { owner: 'alice', balance: 100 }),
      bob: heap.new(Account, { owner: 'bob', balance: 0 }),
    }))
    heap.transaction(() => {
      bank.alice.balance -= 30
      bank.bob.balance += 30
    })
    heap.close()

    const again = PHeap.open(file, { types: [Account, Bank] })
    expect(again.root<Bank>('bank', Bank)!.bob.balance).to.equal(30)
    expect(again.root<Bank>('bank', Bank)!.alice.owner).to.equal('alice')
    expect(again.recovery.clean).to.equal(true)
    again.close()
    fs.rmSync(dir, { recursive: true })
  })
})
