import { expect } from 'chai'
import * as path from 'path'
import { openRegion, loadNative } from '../src'
import { makeTempDir, patternWord, removeDir, startFixture, waitExit } from './fixtures/region-util'

/**
 * A real SIGKILL: a child opens the region in 'process' mode, writes and
 * drains a pattern, prints "drained", then scribbles unflushed garbage in a
 * loop. Killed right after "drained", the drained pattern must be intact.
 */
const backends = loadNative() ? ['mmap', 'file'] as const : ['file'] as const
const SIZE = 1 << 20

describe('region survives SIGKILL of the writer', () => {
  let dir: string
  beforeEach(() => { dir = makeTempDir('kill') })
  afterEach(() => removeDir(dir))

  for (const backend of backends) {
    it(`${backend}: drained data is intact after the writer is killed (3 runs)`, async () => {
      const p = path.join(dir, `heap-${backend}`)
      openRegion(p, { create: true, size: SIZE, backend }).close()
      for (let seed = 1; seed <= 3; seed++) {
        const { child } = await startFixture('region-writer', [p, backend, String(seed)], 'drained')
        child.kill('SIGKILL')
        const { signal } = await waitExit(child)
        expect(signal).to.equal('SIGKILL')

        const r = openRegion(p, { backend }) // the kill released the lock
        const words = new BigUint64Array(r.bytes.buffer, r.bytes.byteOffset, SIZE / 8)
        const quarter = SIZE / 4 / 8
        let bad = 0
        for (let i = 0; i < quarter; i++) if (words[i] !== patternWord(seed, i)) bad++
        expect(bad, `seed ${seed}: drained words that changed`).to.equal(0)
        if (backend === 'mmap') {
          // mmap in 'process' mode: unflushed stores are in the page cache and survive too.
          let lost = 0
          for (let i = quarter; i < 2 * quarter; i++) if (words[i] !== patternWord(seed + 1, i)) lost++
          expect(lost, `seed ${seed}: unflushed mmap words lost`).to.equal(0)
        }
        r.close()
      }
    })
  }
})
