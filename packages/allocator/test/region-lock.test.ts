import { expect } from 'chai'
import * as fs from 'fs'
import * as path from 'path'
import { HeapLockedError, openRegion, loadNative } from '../src'
import { lockFilePath, lockWithFile } from '../src/region/lock'
import { makeTempDir, removeDir, runFixture, startFixture, waitExit } from './fixtures/region-util'

/** A heap file is open at most once: in this process or another. */
const backends = loadNative() ? ['mmap', 'file'] as const : ['file'] as const

describe('region locking', () => {
  let dir: string
  let p: string
  beforeEach(() => {
    dir = makeTempDir('lock')
    p = path.join(dir, 'heap')
    openRegion(p, { create: true, size: 8192 }).close()
  })
  afterEach(() => removeDir(dir))

  for (const backend of backends) {
    describe(`${backend} backend (${loadNative() ? 'flock' : 'lock file'})`, () => {
      it('a second open in the same process throws HeapLockedError naming the path', () => {
        const first = openRegion(p, { backend })
        expect(() => openRegion(p, { backend })).to.throw(HeapLockedError, p)
        try {
          openRegion(p, { backend: backend === 'mmap' ? 'file' : backend })
          expect.fail('second open should throw')
        } catch (e) {
          expect((e as HeapLockedError).code).to.equal('EHEAPLOCKED')
        }
        first.close()
        openRegion(p, { backend }).close() // free again after close
      })

      it('a refused second open leaves the first one working and the file untouched', () => {
        const first = openRegion(p, { backend })
        first.bytes[0] = 9; first.flush(0, 1); first.drain()
        expect(() => openRegion(p, { backend })).to.throw(HeapLockedError)
        expect(first.bytes[0]).to.equal(9)
        first.bytes[1] = 8; first.flush(1, 1); first.drain()
        first.close()
        expect(Array.from(fs.readFileSync(p).subarray(0, 2))).to.deep.equal([9, 8])
        expect(fs.statSync(p).size).to.equal(8192)
      })

      it('a file held by a child process can not be opened here until the child is gone', async () => {
        const { child, line } = await startFixture('region-holder', ['hold', p, backend], 'open')
        try {
          expect(line).to.equal(`open ${backend}`)
          expect(() => openRegion(p, { backend })).to.throw(HeapLockedError, p)
        } finally {
          child.kill('SIGKILL')
          await waitExit(child)
        }
        openRegion(p, { backend }).close() // the kernel dropped the child's lock
      })

      it('a child process can not open a file held here', () => {
        const held = openRegion(p, { backend })
        try {
          const res = runFixture('region-holder', ['try', p, backend])
          expect(res.stdout).to.match(/^error EHEAPLOCKED region: .*heap is already open/)
        } finally {
          held.close()
        }
        expect(runFixture('region-holder', ['try', p, backend]).stdout).to.equal(`ok ${backend}\n`)
      })
    })
  }

  describe('lock file (the fallback without the addon)', () => {
    it('is taken once, names the holder, and is removed on release', () => {
      const lock = lockWithFile(p)
      expect(fs.readFileSync(lockFilePath(p), 'utf8')).to.equal(`${process.pid}\n`)
      expect(() => lockWithFile(p)).to.throw(HeapLockedError, `live process ${process.pid}, this one`)
      lock.release()
      expect(fs.existsSync(lockFilePath(p))).to.equal(false)
      lock.release() // twice is harmless
      lockWithFile(p).release()
      expect(fs.readdirSync(dir)).to.deep.equal(['heap']) // no temporary files left behind
    })

    it('takes over a stale lock whose process is gone, or that holds garbage', async () => {
      const dead = runFixture('region-holder', ['try', '/nonexistent', 'file']).pid!
      fs.writeFileSync(lockFilePath(p), `${dead}\n`)
      const lock = lockWithFile(p)
      expect(fs.readFileSync(lockFilePath(p), 'utf8')).to.equal(`${process.pid}\n`)
      lock.release()
      fs.writeFileSync(lockFilePath(p), 'garbage')
      lockWithFile(p).release()
      expect(fs.existsSync(lockFilePath(p))).to.equal(false)
    })

    it('does not remove a lock that is no longer its own', () => {
      const lock = lockWithFile(p)
      fs.writeFileSync(lockFilePath(p), '1\n') // taken over meanwhile (pid 1 is alive)
      lock.release()
      expect(fs.readFileSync(lockFilePath(p), 'utf8')).to.equal('1\n')
      expect(() => lockWithFile(p)).to.throw(HeapLockedError, 'live process 1')
    })

    it('conflicts across processes, and a killed holder leaves a stale lock that is taken over', async () => {
      const env = { MAKALU_NO_NATIVE: '1' }
      const { child, line } = await startFixture('region-holder', ['hold', p, 'auto'], 'open', { env })
      expect(line).to.equal('open file')
      try {
        expect(() => lockWithFile(p)).to.throw(HeapLockedError, `live process ${child.pid}`)
        expect(runFixture('region-holder', ['try', p, 'auto'], { env }).stdout).to.match(/^error EHEAPLOCKED .*held by live process/)
      } finally {
        child.kill('SIGKILL')
        await waitExit(child)
      }
      expect(fs.readFileSync(lockFilePath(p), 'utf8')).to.equal(`${child.pid}\n`) // left behind by the kill
      expect(runFixture('region-holder', ['try', p, 'auto'], { env }).stdout).to.equal('ok file\n')
      expect(fs.existsSync(lockFilePath(p))).to.equal(false)
    })

    it('a holder that closes normally removes its lock file', async () => {
      const env = { MAKALU_NO_NATIVE: '1' }
      const { child } = await startFixture('region-holder', ['hold', p, 'auto'], 'open', { env })
      child.stdin!.end()
      const { code } = await waitExit(child)
      expect(code).to.equal(0)
      expect(fs.existsSync(lockFilePath(p))).to.equal(false)
    })
  })
})
