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
import { runUntilKilled } from './kill-kit'
import { PHeap, reachable } from '@makalu/pobj'
import { Account, Bank } from './backup-child'

describe('online backup (heap.backup) while a child commits transfers', function () {
  this.timeout(120_000)
  it('100 copies, each consistent: the money sums, the transfer count is the one at the backup', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'makalu-backup-'))
    try {
      const copies = path.join(dir, 'copies')
      fs.mkdirSync(copies)
      const r = spawnSync(process.execPath, [path.join(__dirname, 'backup-child.js'), path.join(dir, 'live.heap'), copies, '100'], { encoding: 'utf8' })
      expect(r.status, r.stderr).to.equal(0)
      const lines = r.stdout.trim().split('\n').filter((l) => l.startsWith('backup '))
      expect(lines).to.have.length(100)
      for (const line of lines) {
        const [, n, transfers] = line.split(' ')
        for (const readOnly of n === '0' || n === '99' ? [true, false] : [false]) {
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

  it('kill -9 during backups: every copy there is complete and consistent; a cut one is only a file beside its name', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'makalu-backup-kill-'))
    try {
      let cut = 0
      let checked = 0
      for (let k = 0; k < 8; k++) {
        const copies = path.join(dir, `copies-${k}`)
        fs.mkdirSync(copies)
        const want = 1 + (k % 3)
        let backings = 0
        // Kill right as backup number `want` starts (a 48 MiB copy takes a while).
        const run = await runUntilKilled(path.join(__dirname, 'backup-child.js'), [path.join(dir, `live-${k}.heap`), copies, '1000', '48'],
          (line, kill) => { if (line.startsWith('backing ') && ++backings > want) kill() })
        const out = run.lines.join('\n')
        const last = out.trim().split('\n').pop() ?? ''
        if (last.startsWith('backing ')) cut++
        for (const name of fs.readdirSync(copies)) {
          if (!/^copy-\d+$/.test(name)) continue // the copy that was cut: never under its final name
          const heap = PHeap.open(path.join(copies, name), { types: [Account, Bank] })
          try {
            const bank = heap.root('bank', Bank)!
            expect(bank.accounts.toArray().reduce((s, a) => s + a.balance, 0), name).to.equal(1000)
            expect(heap.check().violations).to.deep.equal([])
            checked++
          } finally {
            heap.close()
          }
        }
        fs.rmSync(copies, { recursive: true, force: true })
        fs.rmSync(path.join(dir, `live-${k}.heap`), { force: true })
        fs.rmSync(path.join(dir, `live-${k}.heap.lock`), { force: true })
      }
      expect(cut, 'kills that landed inside a backup').to.be.greaterThan(3)
      expect(checked).to.be.greaterThan(5)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
