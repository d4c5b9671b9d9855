import { expect } from 'chai'
import * as fs from 'fs'
import * as path from 'path'
import { OpenRegionOptions, RegionError, openRegion, loadNative, MAX_REGION_SIZE } from '../src'
import { spawnSync } from 'child_process'
import { fixture, makeTempDir, removeDir, runFixture, snapshotDir } from './fixtures/region-util'

/**
 * Bad input to openRegion: a typed RegionError with a clear message, and the
 * directory exactly as it was (nothing created, truncated or written).
 */
const backends = loadNative() ? ['mmap', 'file'] as const : ['file'] as const

for (const backend of backends) {
  describe(`openRegion refuses bad input (${backend})`, () => {
    let dir: string
    beforeEach(() => { dir = makeTempDir(`err-${backend}`) })
    afterEach(() => removeDir(dir))

    /** Expects a RegionError matching `message`, and an unchanged directory. */
    function refuses(p: string, opts: OpenRegionOptions, message: RegExp): void {
      const before = snapshotDir(dir)
      let caught: unknown
      try {
        openRegion(p, { backend, ...opts }).close()
      } catch (e) {
        caught = e
      }
      expect(caught, 'openRegion should have thrown').to.be.instanceOf(RegionError)
      expect((caught as RegionError).code).to.equal('EREGION')
      expect((caught as Error).message).to.match(/^region: /)
      expect((caught as Error).message).to.match(message)
      expect(snapshotDir(dir)).to.deep.equal(before)
    }

    function writeFile(name: string, size: number, fill = 0x5a): string {
      const p = path.join(dir, name)
      fs.writeFileSync(p, Buffer.alloc(size, fill))
      return p
    }

    it('a missing file without create (not created)', () => {
      const p = path.join(dir, 'missing')
      refuses(p, {}, /missing.*no such file \(pass create: true/)
      expect(fs.existsSync(p)).to.equal(false)
    })

    it('create in a directory that does not exist', () => {
      refuses(path.join(dir, 'nodir', 'heap'), { create: true, size: 8192 }, /directory does not exist/)
    })

    it('a directory', () => {
      fs.mkdirSync(path.join(dir, 'sub'))
      refuses(path.join(dir, 'sub'), {}, /is a directory/)
      refuses(path.join(dir, 'sub'), { create: 'if-missing', size: 8192 }, /is a directory/)
    })

    it('something that is not a regular file', () => {
      const before = fs.statSync('/dev/null')
      refuses('/dev/null', {}, /not a regular file/)
      expect(fs.statSync('/dev/null').mode).to.equal(before.mode)
    })

    it('a zero-length file (left zero-length)', () => {
      const p = writeFile('empty', 0)
      refuses(p, {}, /empty \(zero-length\)/)
      refuses(p, { create: 'if-missing', size: 8192 }, /empty \(zero-length\)/)
      expect(fs.statSync(p).size).to.equal(0)
    })

    it('an existing file whose size is not a multiple of 4096, or below 4096', () => {
      refuses(writeFile('odd', 5000), {}, /size 5000 is not a multiple of 4096/)
      refuses(writeFile('small', 2048), {}, /size 2048 is below the minimum of 4096/)
      refuses(writeFile('tiny', 8), {}, /below the minimum/)
    })

    it('an existing file over 4 GiB (sparse; not truncated)', () => {
      const p = path.join(dir, 'huge')
      fs.closeSync(fs.openSync(p, 'w'))
      fs.truncateSync(p, MAX_REGION_SIZE + 4096)
      refuses(p, {}, /over the maximum/)
      expect(fs.statSync(p).size).to.equal(MAX_REGION_SIZE + 4096)
    })

    it('a size below the minimum, not a multiple of 4096, over 4 GiB or not an integer (nothing created)', () => {
      const p = path.join(dir, 'new')
      refuses(p, { create: true, size: 0 }, /below the minimum/)
      refuses(p, { create: true, size: 2048 }, /below the minimum/)
      refuses(p, { create: true, size: -4096 }, /below the minimum/)
      refuses(p, { create: true, size: 5000 }, /not a multiple of 4096/)
      refuses(p, { create: true, size: MAX_REGION_SIZE + 4096 }, /over the maximum/)
      refuses(p, { create: true, size: 4096.5 }, /must be an integer/)
      refuses(p, { create: true, size: NaN }, /must be an integer/)
      refuses(p, { create: 'if-missing', size: 100 }, /below the minimum/)
      expect(fs.existsSync(p)).to.equal(false)
    })

    it('create without a size', () => {
      refuses(path.join(dir, 'new'), { create: true }, /needs a size/)
      refuses(path.join(dir, 'new'), { create: 'if-missing' }, /needs a size/)
    })

    it('create: true over an existing file (content untouched)', () => {
      const p = writeFile('existing', 8192, 0x77)
      refuses(p, { create: true, size: 4096 }, /exists already/)
      expect(fs.readFileSync(p).every((b) => b === 0x77)).to.equal(true)
    })

    it('a size that differs from an existing file', () => {
      refuses(writeFile('h', 8192), { size: 16384 }, /8192 bytes, not the 16384 asked for/)
    })

    it('bad option values', () => {
      const p = writeFile('h', 8192)
      refuses(p, { durability: 'disk' as never }, /durability must be 'power' or 'process'/)
      refuses(p, { backend: 'nvm' as never }, /backend must be 'mmap' or 'file'/)
      refuses(p, { create: 'yes' as never }, /create must be/)
      refuses('', {}, /path must be a non-empty string/)
    })

    it('a read-only file opened for writing (EACCES; untouched)', function () {
      const p = writeFile('ro', 8192, 0x33)
      fs.chmodSync(p, 0o444)
      const before = snapshotDir(dir)
      if (process.getuid && process.getuid() === 0) {
        // Root ignores permission bits: try it as nobody in a child process
        // (when nobody can read the compiled fixtures: a checkout under /root may not be).
        const probe = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(fixture('region-util'))})`], { uid: 65534, gid: 65534 })
        if (probe.status !== 0) this.skip()
        const res = runFixture('region-holder', ['try', p, backend], { uid: 65534, gid: 65534 })
        expect(res.error, String(res.error)).to.equal(undefined)
        expect(res.stdout).to.match(/^error EREGION region: cannot open .*ro: permission denied/)
      } else {
        refuses(p, {}, /permission denied/)
      }
      expect(snapshotDir(dir)).to.deep.equal(before)
    })

    it("create: 'if-missing' opens an existing file as it is and creates a missing one", () => {
      const p = writeFile('h', 8192, 0x11)
      const r = openRegion(p, { backend, create: 'if-missing', size: 4096 })
      expect(r.size).to.equal(8192)
      expect(r.bytes[0]).to.equal(0x11)
      r.close()
      const q = path.join(dir, 'fresh')
      const s = openRegion(q, { backend, create: 'if-missing', size: 12288 })
      expect(s.size).to.equal(12288)
      s.close()
      expect(fs.statSync(q).size).to.equal(12288)
    })

    it('a region of exactly 4 GiB is accepted (mmap only: sparse, nothing read)', function () {
      if (backend !== 'mmap') this.skip()
      const p = path.join(dir, 'max')
      const r = openRegion(p, { backend, create: true, size: 2 ** 32, durability: 'process' })
      expect(r.size).to.equal(2 ** 32)
      r.bytes[2 ** 32 - 1] = 1
      r.flush(2 ** 32 - 8, 8)
      r.drain()
      r.close()
      expect(fs.statSync(p).size).to.equal(2 ** 32)
    })
  })
}

describe('openRegion without the native addon', () => {
  let dir: string
  beforeEach(() => { dir = makeTempDir('err-nonative') })
  afterEach(() => removeDir(dir))

  it("falls back to FileRegion, and refuses backend 'mmap' with a clear RegionError", () => {
    const p = path.join(dir, 'h')
    fs.writeFileSync(p, Buffer.alloc(8192))
    const env = { MAKALU_NO_NATIVE: '1' }
    expect(runFixture('region-holder', ['try', p, 'auto'], { env }).stdout).to.equal('ok file\n')
    expect(runFixture('region-holder', ['try', p, 'mmap'], { env }).stdout)
      .to.match(/^error EREGION region: backend 'mmap' asked for .*native addon is not available/)
    expect(fs.existsSync(p + '.lock')).to.equal(false)
  })
})
