/**
 * SIGKILL torture of PersistentMap + PersistentList: a child runs the workload and
 * acks every op; the parent kills it after a random number of acks (sometimes
 * during open/recovery), waits for 'close' (every ack line read), reopens the heap
 * and checks it against the model of the acknowledged ops: the state is the one
 * after the last ack or after the op in flight, nothing leaked (used bytes ==
 * reachable bytes), check() clean. Each heap file lives through many kills.
 *
 * CI: 4 heap generations x 55 kills, mmap and file backends. MAKALU_SOAK=1: keeps
 * going for MAKALU_SOAK_SECS (default 600) seconds.
 */
import { expect } from 'chai'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { mulberry32 } from '@makalu/allocator'
import { PHeap } from '@makalu/pobj'
import { Item, Model, emptyModel, applyModel, opAt, matchModel, checkHeapSound } from './workload'
import { runUntilKilled } from './kill-kit'

const CHILD = path.join(__dirname, 'torture-child.js')
const SOAK = process.env.MAKALU_SOAK === '1'
const SOAK_SECS = Number(process.env.MAKALU_SOAK_SECS || 600)

interface KillResult { acked: number; opened: boolean }

/** Runs the child from op `start`; kills it after `acks` acks (or `earlyMs` ms if acks is 0). Resolves at 'close'. */
async function runAndKill(file: string, backend: string, seed: number, start: number, acks: number, earlyMs: number): Promise<KillResult> {
  let last = start - 1
  let seen = 0
  let opened = false
  let outOfOrder = ''
  await runUntilKilled(CHILD, [file, backend, String(seed), String(start)], (line, kill) => {
    if (line === 'open') opened = true
    else if (line.startsWith('ack ')) {
      const i = Number(line.slice(4))
      if (i !== last + 1 && !outOfOrder) outOfOrder = `ack ${i} after ${last}`
      last = i
      if (++seen >= acks && acks > 0) kill()
    }
  }, acks === 0 ? { killAfterMs: earlyMs } : {})
  if (outOfOrder) throw new Error(outOfOrder)
  return { acked: last + 1, opened }
}

interface GenerationStats { kills: number; inFlightApplied: number; early: number; ops: number }

async function generation(dir: string, backend: 'mmap' | 'file', seed: number, kills: number, deadline: number): Promise<GenerationStats> {
  const file = path.join(dir, `g${seed}-${backend}.heap`)
  fs.rmSync(file, { force: true })
  const rand = mulberry32(seed * 7 + 1)
  const model: Model = emptyModel()
  let done = 0
  const st: GenerationStats = { kills: 0, inFlightApplied: 0, early: 0, ops: 0 }
  for (let k = 0; k < kills && Date.now() < deadline; k++) {
    const early = rand() < 0.1
    const acks = early ? 0 : 1 + Math.floor(rand() * rand() * 120)
    const r = await runAndKill(file, backend, seed, done, acks, 5 + Math.floor(rand() * 150))
    st.kills++
    if (early) st.early++
    if (!fs.existsSync(file)) continue // killed before the heap file was created
    // The model after the acknowledged ops.
    for (let i = done; i < r.acked; i++) applyModel(model, opAt(seed, i, model.list.length))
    const heap = PHeap.open(file, { backend, types: [Item] })
    try {
      const now = matchModel(heap, model, seed, r.acked)
      if (now > r.acked) st.inFlightApplied++
      done = now
      checkHeapSound(heap)
    } catch (e) {
      ;(e as Error).message = `${backend} seed ${seed}, kill ${k} after ${r.acked} acked ops: ${(e as Error).message}`
      throw e
    } finally {
      heap.close()
    }
  }
  st.ops = done
  fs.rmSync(file, { force: true })
  return st
}

describe('torture: SIGKILL of a child running map and list workloads', function () {
  this.timeout(0)
  let dir: string
  before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'makalu-torture-')) })
  after(() => fs.rmSync(dir, { recursive: true, force: true }))

  it(SOAK ? `soak: keeps killing for ${SOAK_SECS} s` : '220 kills over 4 heap generations (mmap and file)', async () => {
    const t0 = Date.now()
    const deadline = SOAK ? t0 + SOAK_SECS * 1000 : Infinity
    const total: GenerationStats = { kills: 0, inFlightApplied: 0, early: 0, ops: 0 }
    const plan: Array<['mmap' | 'file', number]> = [['mmap', 1], ['file', 2], ['mmap', 3], ['file', 4]]
    for (let g = 0; SOAK ? Date.now() < deadline : g < plan.length; g++) {
      const [backend, seed] = SOAK ? [g % 2 ? 'file' : 'mmap', 1000 + g] as ['mmap' | 'file', number] : plan[g]
      const st = await generation(dir, backend, seed, SOAK ? 200 : 55, deadline)
      total.kills += st.kills
      total.inFlightApplied += st.inFlightApplied
      total.early += st.early
      total.ops += st.ops
    }
    const secs = (Date.now() - t0) / 1000
    console.log(`      ${total.kills} kills (${total.early} during open/recovery), ${total.ops} ops survived, ` +
      `in-flight op visible after ${total.inFlightApplied} kills; ${secs.toFixed(1)} s`)
    if (!SOAK) expect(total.kills).to.be.at.least(200)
  })
})
