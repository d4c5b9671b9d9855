import { expect } from 'chai'
import { killAfterAcks } from './support/kill-child'
import * as fs from 'fs'
import * as os from 'os'
import * as path from 'path'
import { isDeepStrictEqual } from 'util'
import { Heap, mulberry32, loadNative } from '../src'
import { workloads, Workload, State } from './support/workloads'

const WORKER = path.join(__dirname, 'fixtures', 'heap-worker.js')
const KILLS = Number(process.env.MAKALU_KILLS ?? 6)

/** Starts the worker, waits for `acks` acknowledgements, SIGKILLs it; returns the last acknowledged op. */
async function runAndKill(file: string, wi: number, seed: number, start: number, acks: number, backend: string): Promise<number> {
  let last = start - 1
  await killAfterAcks(WORKER, [file, String(wi), String(seed), String(start), backend], acks, ([op]) => { last = Number(op) })
  return last
}

function modelAt(w: Workload, seed: number, n: number): State {
  let s = w.initial
  for (let i = 0; i < n; i++) s = w.model(s, seed, i)
  return s
}

const backends = loadNative() ? ['mmap', 'file'] : ['file']

describe('heap survives SIGKILL of a child process mid-workload', function () {
  this.timeout(300_000)
  for (const backend of backends) {
    workloads.forEach((w, wi) => {
      it(`${backend}: ${w.name} (${KILLS} kills)`, async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'makalu-kill-'))
        const file = path.join(dir, 'heap')
        const seed = 11 + wi
        const r = mulberry32(seed)
        let next = 0
        for (let k = 0; k < KILLS; k++) {
          const acked = await runAndKill(file, wi, seed, next, 1 + Math.floor(r() * 40), backend)
          const heap = Heap.open(file, { backend: backend as 'mmap' | 'file' })
          try {
            expect(heap.recovery.clean).to.equal(false)
            expect(heap.check().violations).to.deep.equal([])
            const { state, blocks } = w.read(heap)
            // Acknowledged: ops 0..acked (the child writes each ack synchronously to the pipe
            // after the op returned). In flight: op acked + 1, which may or may not show.
            const done = modelAt(w, seed, acked + 1)
            const inFlight = w.model(done, seed, acked + 1)
            if (isDeepStrictEqual(state, done)) next = acked + 1
            else if (isDeepStrictEqual(state, inFlight)) next = acked + 2
            else throw new Error(`kill ${k}: state ${JSON.stringify(state)} after ack ${acked} is neither ${JSON.stringify(done)} nor ${JSON.stringify(inFlight)}`)
            let bytes = 0
            for (const p of blocks) bytes += heap.usableSize(p)
            expect(heap.stats().used, 'used bytes = reachable bytes').to.equal(bytes)
            expect(heap.stats().liveBlocks).to.equal(new Set(blocks).size)
          } finally {
            heap.close()
          }
        }
        fs.rmSync(dir, { recursive: true })
      })
    })
  }
})
