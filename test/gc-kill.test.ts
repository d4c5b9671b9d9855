/**
 * SIGKILL during online collection, on mmap and on the file backend: a child replaces runs
 * of a 30k-item chain in transactions and collects after each op; the parent kills it, often
 * right after it announced a collection, reopens, and checks: the chain is the model after
 * the acknowledged ops (or the op in flight), nothing reachable lost, nothing unreachable
 * kept (used bytes == reachable bytes, without running gc), no stale pointer, check() clean.
 */
import { expect } from 'chai'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { mulberry32 } from '@makalu/allocator'
import { PHeap, reachable } from '@makalu/pobj'
import { ChainItem, modelLabels, readLabels } from './gc-kill-workload'
import { runUntilKilled, tempDir } from './kill-kit'

const CHILD = path.join(__dirname, 'gc-kill-child.js')
const KILLS = Number(process.env.MAKALU_GC_KILLS || (process.env.MAKALU_SOAK === '1' ? 200 : 24))

interface Run { acked: number; lines: string[] }

/** Runs the child from op `start`; kills it at the `gcAt`-th "gc" line (or after `ms` when gcAt is 0). */
async function runAndKill(file: string, backend: string, seed: number, start: number, gcAt: number, ms: number): Promise<Run> {
  let acked = start
  let gcs = 0
  const { lines } = await runUntilKilled(CHILD, [file, backend, String(seed), String(start)], (line, kill) => {
    if (line.startsWith('ack ')) acked = Number(line.slice(4)) + 1
    else if (line.startsWith('gc ') && ++gcs === gcAt) kill() // right as a collection starts
  }, gcAt === 0 ? { killAfterMs: ms } : {})
  return { acked, lines }
}

describe('SIGKILL during online collection (gc)', function () {
  this.timeout(0)
  const dir = tempDir('makalu-gc-kill-')

  for (const backend of ['mmap', 'file'] as const) {
    it(`${backend}: ${KILLS} kills, most of them inside a collection; recovery keeps exactly what is reachable`, async () => {
      const seed = backend === 'mmap' ? 11 : 12
      const file = path.join(dir(), `${backend}.heap`)
      const rand = mulberry32(seed)
      let done = 0
      let duringGc = 0
      for (let k = 0; k < KILLS; k++) {
        const early = k > 0 && rand() < 0.1
        const r = await runAndKill(file, backend, seed, done, early ? 0 : 1 + Math.floor(rand() * 4), 20 + Math.floor(rand() * 200))
        const last = r.lines[r.lines.length - 1] ?? ''
        if (last.startsWith('gc ')) duringGc++ // announced a collection, never finished it
        if (!fs.existsSync(file)) continue
        const heap = PHeap.open(file, { backend, types: [ChainItem], gc: false })
        try {
          const where = `${backend}, kill ${k} after ${r.acked} acked ops (last line '${last}')`
          const labels = readLabels(heap)
          if (labels.length === 0 && done === 0) continue // killed while setting up
          const before = modelLabels(seed, r.acked)
          const inFlight = modelLabels(seed, r.acked + 1)
          const same = (a: string[], b: string[]): boolean => a.length === b.length && a.every((x, i) => x === b[i])
          if (same(labels, before)) done = r.acked
          else if (same(labels, inFlight)) done = r.acked + 1
          else expect.fail(`${where}: the chain is neither the state after the acked ops nor after the op in flight`)
          expect(heap.recovery.stalePointers, where).to.equal(0)
          expect(heap.check().violations, where).to.deep.equal([])
          const live = reachable(heap)
          expect(heap.stats().used, `${where}: used bytes = reachable bytes`).to.equal(live.bytes)
        } finally {
          heap.close()
        }
      }
      console.log(`      ${backend}: ${KILLS} kills, ${duringGc} inside a collection, ${done} ops survived`)
      expect(duringGc, 'kills that landed inside a collection').to.be.greaterThan(KILLS / 3)
    })
  }
})
