import { expect } from 'chai'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { spawnSync } from 'node:child_process'
import { loadNative } from '@makalu/allocator'
import { PHeap } from '@makalu/pobj'
import { PersistentList } from '@makalu/examples'

/**
 * A PHeap on a full disk (issue 8.4), through the public APIs: on an 8 MiB tmpfs mounted
 * here (root only), a list pushed past the disk gets a typed error, never a SIGBUS (the
 * heap runs in a child), and every push that returned is there on reopen.
 */
describe('pobj on a full disk (8 MiB tmpfs)', function () {
  let dir = ''
  let mounted = false
  before(function () {
    if (typeof process.getuid !== 'function' || process.getuid() !== 0) this.skip() // mounting needs root
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'makalu-pfull-'))
    const res = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', dir], { encoding: 'utf8' })
    if (res.status !== 0) {
      fs.rmSync(dir, { recursive: true, force: true })
      console.log(`      (skipped: mount -t tmpfs failed: ${(res.stderr || String(res.error)).trim()})`)
      this.skip()
    }
    mounted = true
  })
  after(() => {
    if (!mounted) return
    spawnSync('umount', [dir])
    fs.rmSync(dir, { recursive: true, force: true })
  })

  for (const backend of (loadNative() ? ['mmap', 'file'] : ['file']) as Array<'mmap' | 'file'>) {
    it(`${backend}: pushes until the disk is full get a typed error, and every returned push survives`, () => {
      const file = path.join(dir, `list-${backend}`)
      const res = spawnSync(process.execPath, [path.join(__dirname, 'disk-full-child.js'), file, backend], { encoding: 'utf8', timeout: 60_000 })
      expect(res.signal, `child died: ${res.stdout}${res.stderr}`).to.equal(null)
      expect(res.status, res.stderr).to.equal(0)
      const lines = res.stdout.trim().split('\n')
      expect(lines[0]).to.match(/^pushed \d+$/)
      expect(lines[1]).to.match(/^error EHEAPFULL /)
      expect(lines[2]).to.equal('closed')
      const n = Number(lines[0].split(' ')[1])
      expect(n).to.be.greaterThan(1000) // it grew past 1 MiB before the disk ran out
      const heap = PHeap.open(file, { backend })
      try {
        const list = PersistentList.open<string>(heap, 'items')
        expect(list.length).to.equal(n)
        expect(list.get(n - 1)).to.equal(String((n - 1) % 10).repeat(2000))
        expect(list.get(0)).to.equal('0'.repeat(2000))
      } finally {
        heap.close()
      }
      fs.rmSync(file)
    })
  }
})
