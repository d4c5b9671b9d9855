/**
 * SIGKILL while a child writes every value kind (numbers, -0 and NaN, i64 extremes, booleans,
 * strings with lone surrogates, dates, numeric and string enums, optional and nullable values,
 * refs), in transactions and as single writes, on mmap and the file backend: after each kill
 * the heap reads exactly the state after the acknowledged ops, or after the op in flight.
 */
import { expect } from 'chai'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { isDeepStrictEqual } from 'node:util'
import { mulberry32 } from '@makalu/allocator'
import { PHeap, reachable } from '@makalu/pobj'
import { Rec, model, read } from './kinds-kill-workload'
import { runUntilKilled, tempDir } from './kill-kit'

const CHILD = path.join(__dirname, 'kinds-kill-child.js')
const KILLS = Number(process.env.MAKALU_KINDS_KILLS || (process.env.MAKALU_SOAK === '1' ? 100 : 12))

describe('SIGKILL while every value kind is written', function () {
  this.timeout(0)
  const dir = tempDir('makalu-kinds-kill-')

  for (const backend of ['mmap', 'file'] as const) {
    it(`${backend}: ${KILLS} kills; each heap reads the model after the acked ops or the op in flight, value for value`, async () => {
      const file = path.join(dir(), `${backend}.heap`)
      const rand = mulberry32(backend === 'mmap' ? 3 : 4)
      let done = 0
      let inFlight = 0
      for (let k = 0; k < KILLS; k++) {
        let acked = done
        const target = done + 20 + Math.floor(rand() * 400)
        await runUntilKilled(CHILD, [file, backend, String(done)], (line, kill) => {
          if (line.startsWith('ack ')) { acked = Number(line.slice(4)) + 1; if (acked >= target) kill() }
        }, { killAfterMs: 3000 })
        if (!fs.existsSync(file)) continue
        const heap = PHeap.open(file, { backend, types: [Rec] })
        try {
          const where = `${backend}, kill ${k} after ${acked} acked ops`
          const got = read(heap)
          if (isDeepStrictEqual(got, model(acked))) done = acked
          else if (isDeepStrictEqual(got, model(acked + 1))) { done = acked + 1; inFlight++ }
          else expect(got, `${where}: neither the acked state nor the next`).to.deep.equal(model(acked))
          expect(heap.check().violations, where).to.deep.equal([])
          expect(heap.stats().used, `${where}: used bytes = reachable bytes`).to.equal(reachable(heap).bytes)
        } finally { heap.close() }
      }
      console.log(`      ${backend}: ${KILLS} kills, ${done} ops survived, the op in flight visible after ${inFlight}`)
      expect(done).to.be.greaterThan(KILLS * 10)
    })
  }
})
