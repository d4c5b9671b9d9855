import { expect } from 'chai'
import * as fs from 'fs'
import * as path from 'path'
import { spawnSync } from 'child_process'
import { Heap, loadNative } from '../src'
import { makeTempDir, removeDir, runFixture } from './fixtures/region-util'

/**
 * Full disks (issue 8.4), on an 8 MiB tmpfs mounted here (root only). A heap created
 * larger than the free space, or growing past it, gets a typed error up front, never a
 * SIGBUS; what was durable before is intact on reopen. The heap runs in a child, so a
 * SIGBUS shows as a failed test.
 */
/** Each backend; the file backend also in a child without the addon (zeros written, no fallocate). */
const cases: Array<{ name: string, backend: 'mmap' | 'file', env?: Record<string, string> }> = [
  ...(loadNative() ? [{ name: 'mmap', backend: 'mmap' as const }, { name: 'file', backend: 'file' as const }] : []),
  { name: 'file without the addon', backend: 'file', env: { MAKALU_NO_NATIVE: '1' } },
]
const MiB = 1024 * 1024

describe('full disks (8 MiB tmpfs)', function () {
  let dir: string
  let mounted = false
  before(function () {
    if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
      this.skip() // mounting a small tmpfs needs root
    }
    dir = makeTempDir('diskfull')
    const res = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', dir], { encoding: 'utf8' })
    if (res.status !== 0) {
      removeDir(dir)
      console.log(`      (skipped: mount -t tmpfs failed: ${(res.stderr || String(res.error)).trim()})`)
      this.skip()
    }
    mounted = true
  })
  after(() => {
    if (!mounted) return
    spawnSync('umount', [dir])
    removeDir(dir)
  })
  afterEach(() => {
    if (mounted) for (const f of fs.readdirSync(dir)) fs.rmSync(path.join(dir, f), { force: true })
  })

  for (const { name, backend, env } of cases) {
    it(`${name}: creating a heap larger than the free space is refused up front and leaves no file`, () => {
      const p = path.join(dir, 'big')
      const res = runFixture('disk-full-worker', ['create', p, String(16 * MiB), backend], { env })
      expect(res.signal, `child died: ${res.stdout}${res.stderr}`).to.equal(null)
      expect(res.status).to.equal(0)
      expect(res.stdout).to.match(/^error EREGIONFULL region: .*big.*no space/)
      expect(fs.readdirSync(dir)).to.deep.equal([])
    })

    it(`${name}: a heap that grows past the disk gets HeapFullError, and what it stored is intact on reopen`, () => {
      const p = path.join(dir, 'grow')
      const res = runFixture('disk-full-worker', ['grow', p, String(64 * MiB), backend], { env })
      expect(res.signal, `child died: ${res.stdout}${res.stderr}`).to.equal(null)
      expect(res.status).to.equal(0)
      const lines = res.stdout.trim().split('\n')
      expect(lines[0]).to.match(/^kept \d+$/)
      expect(lines[1], res.stdout).to.match(/^full \d+ \d+$/)
      expect(lines[2]).to.equal('closed')
      const keep = Number(lines[0].split(' ')[1])
      const [, blocks, size] = lines[1].split(' ').map(Number)
      expect(size).to.be.at.most(8 * MiB)
      expect(blocks).to.be.greaterThan(100) // it did grow before the disk ran out
      const heap = Heap.open(p, { backend })
      try {
        expect(heap.recovery.clean).to.equal(true)
        expect(heap.getRoot('keep')).to.equal(keep)
        expect(Array.from(heap.bytes.subarray(keep, keep + 256)).every((b) => b === 0x5a)).to.equal(true)
        expect(heap.stats().liveBlocks).to.equal(blocks + 1)
        heap.check()
      } finally {
        heap.close()
      }
    })

    it(`${name}: a sparse heap file that the disk can not back is refused at open, unchanged`, function () {
      if (env) this.skip() // without the addon the file backend finds a full disk at drain (a RegionError), not at open
      const src = path.join(makeTempDir('sparse-src'), 'heap')
      try {
        Heap.create(src, { size: 16 * MiB, backend }).close()
        const p = path.join(dir, 'sparse')
        const cp = spawnSync('cp', ['--sparse=always', src, p])
        expect(cp.status).to.equal(0)
        const before = fs.readFileSync(p)
        const res = runFixture('disk-full-worker', ['open', p, '-', backend], { env })
        expect(res.signal, `child died: ${res.stdout}${res.stderr}`).to.equal(null)
        expect(res.stdout).to.match(/^error EREGIONFULL region: cannot open .*sparse.*no space/)
        expect(fs.readFileSync(p).equals(before)).to.equal(true)
        expect(fs.statSync(p).size).to.equal(16 * MiB)
      } finally {
        removeDir(path.dirname(src))
      }
    })

    it(`${name}: a small heap fits, and a second heap that would overfill the disk is refused`, () => {
      const a = Heap.create(path.join(dir, 'a'), { size: 6 * MiB, backend })
      try {
        const res = runFixture('disk-full-worker', ['create', path.join(dir, 'b'), String(4 * MiB), backend], { env })
        expect(res.signal, `child died: ${res.stdout}${res.stderr}`).to.equal(null)
        expect(res.stdout).to.match(/^error EREGIONFULL /)
        expect(fs.readdirSync(dir).sort()).to.deep.equal(['a', 'a.lock'])
      } finally {
        a.close()
      }
    })
  }
})
