/**
 * Child of the backup test: node backup-child.js <heapFile> <copyDir> <copies> [heapMiB]
 * Commits transfers between ten accounts (one transaction each) and, every 37 transfers, writes
 * "backing <n>", takes heap.backup(copyDir/copy-<n>) and writes "backup <n> <transfers>".
 * Exits after `copies` backups (or is killed).
 */
import * as fs from 'node:fs'
import * as path from 'node:path'
import { mulberry32 } from '@makalu/allocator'
import { PHeap, PArray, Persistent, field } from '@makalu/pobj'

@Persistent('backup.Account')
export class Account {
  @field() owner!: string
  @field.i32 balance!: number
}

@Persistent('backup.Bank')
export class Bank {
  @field.array(() => Account) accounts!: PArray<Account>
  @field.i32 transfers!: number
}

if (require.main === module) {
  const [file, copyDir, copiesStr, mibStr] = process.argv.slice(2)
  const heap = PHeap.create(file, { size: Number(mibStr ?? 4) << 20, durability: 'process', types: [Account, Bank] })
  const bank = heap.root('bank', () => heap.new(Bank, {
    accounts: heap.newArray(Account, Array.from({ length: 10 }, (_, i) => heap.new(Account, { owner: `o${i}`, balance: 100 }))),
  }))
  const rand = mulberry32(42)
  for (let n = 0, t = 0; n < Number(copiesStr); t++) {
    heap.transaction(() => {
      const a = bank.accounts.get(Math.floor(rand() * 10))
      const b = bank.accounts.get(Math.floor(rand() * 10))
      const amount = Math.floor(rand() * 30)
      a.balance -= amount
      b.balance += amount
      bank.transfers++
      if (t % 5 === 0) a.owner = `owner ${t}` // garbage strings for the copy's recovery to reclaim
    })
    if (t % 37 === 36) {
      fs.writeSync(1, `backing ${n}\n`)
      heap.backup(path.join(copyDir, `copy-${n}`))
      fs.writeSync(1, `backup ${n++} ${bank.transfers}\n`)
    }
  }
  heap.close()
}
