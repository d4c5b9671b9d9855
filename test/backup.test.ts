/**
 * Online backup: a child process commits transfers and takes backups as it goes; every copy
 * opens (its first open traces it), holds all the money, the transfer count of its moment,
 * and passes check() with nothing leaked. A plain `cp` of the live file gives no such promise.
 */
import { expect } from 'chai'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { spawnSync } from 'node:child_process'
import { PHeap, reachable } from '@makalu/pobj'
import { Account, Bank } from './backup-child'

describe('online backup (heap.backup) while a child commits transfers', function () {
  this.timeout(120_000)
  it('30 copies, each consistent: the money sums, the transfer count is the one at the backup', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'makalu-backup-'))
    try {
      const copies = path.join(dir, 'copies')
      fs.mkdirSync(copies)
      const r = spawnSync(process.execPath, [path.join(__dirname, 'backup-child.js'), path.join(dir, 'live.heap'), copies, '30'], { encoding: 'utf8' })
      expect(r.status, r.stderr).to.equal(0)
      const lines = r.stdout.trim().split('\n')
      expect(lines).to.have.length(30)
      for (const line of lines) {
        const [, n, transfers] = line.split(' ')
        for (const readOnly of [true, false]) {
          const heap = PHeap.open(path.join(copies, `copy-${n}`), { types: [Account, Bank], readOnly })
          try {
            const bank = heap.root('bank', Bank)!
            const sum = bank.accounts.toArray().reduce((s, a) => s + a.balance, 0)
            expect([sum, bank.transfers], `copy ${n}${readOnly ? ', read-only' : ''}`).to.deep.equal([1000, Number(transfers)])
            expect(heap.recovery.clean).to.equal(false)
            expect(heap.check().violations).to.deep.equal([])
            expect(heap.stats().used).to.equal(reachable(heap).bytes)
          } finally {
            heap.close()
          }
        }
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
