import { expect } from 'chai'
import * as fs from 'fs'
import * as path from 'path'
import { Heap, HeapLockedError, openRegion, loadNative } from '../src'
import { lockFilePath } from '../src/region/lock'
import { makeTempDir, removeDir, runFixture, startFixture, waitExit } from './fixtures/region-util'

/**
 * One writer whatever the backend (issue 15.1): a process with the addon (mmap or
 * file backend) and a process without it (MAKALU_NO_NATIVE=1: the file backend and
 * the lock file only) exclude each other. Every pair runs in real processes.
 */
const NO_NATIVE = { MAKALU_NO_NATIVE: '1' }

describe('one writer whatever the backend (addon and no-addon processes)', function () {
  let dir: string
  let p: string
  before(function () {
    if (!loadNative()) this.skip() // without the addon every process uses the lock file alone
  })
  beforeEach(() => {
    dir = makeTempDir('mixlock')
    p = path.join(dir, 'heap')
    openRegion(p, { create: true, size: 8192 }).close()
  })
  afterEach(() => removeDir(dir))

  for (const backend of ['mmap', 'file'] as const) {
    it(`a ${backend} open here holds off a child without the addon`, () => {
      const held = openRegion(p, { backend })
      try {
        const res = runFixture('region-holder', ['try', p, 'auto'], { env: NO_NATIVE })
        expect(res.stdout).to.match(/^error EHEAPLOCKED region: .*heap is already open/)
      } finally {
        held.close()
      }
      expect(runFixture('region-holder', ['try', p, 'auto'], { env: NO_NATIVE }).stdout).to.equal('ok file\n')
      expect(fs.existsSync(lockFilePath(p))).to.equal(false)
    })

    it(`a child without the addon holds off a ${backend} open here`, async () => {
      const { child, line } = await startFixture('region-holder', ['hold', p, 'auto'], 'open', { env: NO_NATIVE })
      try {
        expect(line).to.equal('open file')
        expect(() => openRegion(p, { backend })).to.throw(HeapLockedError, p)
      } finally {
        child.kill('SIGKILL')
        await waitExit(child)
      }
      // The killed child left a stale lock file: it is taken over.
      openRegion(p, { backend }).close()
      expect(fs.existsSync(lockFilePath(p))).to.equal(false)
    })

    it(`a child with the addon on ${backend} holds off a child without it, and the other way round`, async () => {
      const a = await startFixture('region-holder', ['hold', p, backend], 'open')
      try {
        expect(a.line).to.equal(`open ${backend}`)
        expect(runFixture('region-holder', ['try', p, 'auto'], { env: NO_NATIVE }).stdout).to.match(/^error EHEAPLOCKED /)
      } finally {
        a.child.stdin!.end()
        await waitExit(a.child)
      }
      const b = await startFixture('region-holder', ['hold', p, 'auto'], 'open', { env: NO_NATIVE })
      try {
        expect(runFixture('region-holder', ['try', p, backend]).stdout).to.match(/^error EHEAPLOCKED /)
      } finally {
        b.child.stdin!.end()
        await waitExit(b.child)
      }
      expect(runFixture('region-holder', ['try', p, backend]).stdout).to.equal(`ok ${backend}\n`)
    })
  }

  for (const backend of ['mmap', 'file'] as const) {
    it(`${backend}: the lock file of a killed addon process is stale even when its pid is alive again (pid reuse)`, async () => {
      const { child } = await startFixture('region-holder', ['hold', p, backend], 'open')
      child.kill('SIGKILL')
      await waitExit(child)
      const lock = lockFilePath(p)
      const left = fs.readFileSync(lock, 'utf8')
      expect(left.startsWith(`${child.pid}\n`)).to.equal(true)
      fs.writeFileSync(lock, left.replace(/^\d+/, '1')) // pid 1 is always alive: as if the pid were reused
      // The flock is free, so whoever wrote that lock file while holding it is gone.
      openRegion(p, { backend }).close()
      expect(fs.existsSync(lock)).to.equal(false)
    })
  }

  it('the lock file of a killed process without the addon, whose pid is alive again, still refuses (the stated limit)', async () => {
    const { child } = await startFixture('region-holder', ['hold', p, 'auto'], 'open', { env: NO_NATIVE })
    child.kill('SIGKILL')
    await waitExit(child)
    const lock = lockFilePath(p)
    fs.writeFileSync(lock, fs.readFileSync(lock, 'utf8').replace(/^\d+/, '1'))
    expect(() => openRegion(p, { backend: 'mmap' })).to.throw(HeapLockedError, 'live process 1')
    fs.unlinkSync(lock) // what the message tells a user to do once sure no process uses the heap
    openRegion(p, { backend: 'mmap' }).close()
  })

  it('a heap held by a child without the addon can not be opened with the addon (no lost root)', async () => {
    const hp = path.join(dir, 'h2')
    const h = Heap.create(hp, { size: 1 << 20, chunkSize: 4096, logSize: 8192, rootCapacity: 16 })
    const b = h.alloc(64); h.persist(b, 64); h.setRoot('a', b)
    h.close()
    const { child } = await startFixture('region-holder', ['hold', hp, 'auto'], 'open', { env: NO_NATIVE })
    try {
      expect(() => Heap.open(hp)).to.throw(HeapLockedError)
      expect(() => Heap.open(hp, { backend: 'file' })).to.throw(HeapLockedError)
    } finally {
      child.stdin!.end()
      await waitExit(child)
    }
    const again = Heap.open(hp)
    expect(again.getRoot('a')).to.equal(b)
    again.close()
  })
})
