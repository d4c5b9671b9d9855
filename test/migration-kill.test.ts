/**
 * SIGKILL during a migration, on mmap and on the file backend: a child opens a heap of items
 * written by release 1 of a class with release 2 and a migration (every item rewritten); the
 * parent kills it at a random point of the migration and opens the file: it must hold either
 * the release-1 heap, whole (and the migration then runs to the end), or the migrated one,
 * whole, never a mix; check() clean and nothing unreachable kept.
 */
import { expect } from 'chai'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { mulberry32 } from '@makalu/allocator'
import { PHeap, SchemaMismatchError, reachable } from '@makalu/pobj'
import { ItemV1, ItemV2, CatalogV1, CatalogV2, writeV1, migration, priceOf } from './migration-kill-workload'
import { runUntilKilled } from './kill-kit'

const CHILD = path.join(__dirname, 'migration-kill-child.js')
const N = Number(process.env.MAKALU_MIGRATION_KILL_N || (process.env.MAKALU_SOAK === '1' ? 100_000 : 20_000))
const KILLS = Number(process.env.MAKALU_MIGRATION_KILLS || (process.env.MAKALU_SOAK === '1' ? 40 : 8))

function clean(heap: PHeap): void {
  expect(heap.check().violations).to.deep.equal([])
  expect(heap.recovery.stalePointers).to.equal(0)
  expect(heap.stats().used, 'used bytes == reachable bytes').to.equal(reachable(heap).bytes)
}

/** 'old' or 'new', after checking that the file holds that heap whole. */
function verify(file: string, backend: 'mmap' | 'file'): 'old' | 'new' {
  let heap: PHeap
  try {
    heap = PHeap.open(file, { backend, types: [CatalogV2], gc: false })
  } catch (e) {
    expect(e, String(e)).to.be.instanceOf(SchemaMismatchError)
    const old = PHeap.open(file, { backend, types: [CatalogV1], gc: false })
    try {
      clean(old)
      const items = old.root('catalog', CatalogV1)!.items
      expect(items.length).to.equal(N)
      for (let i = 0; i < N; i += 97) expect(items.get(i).price).to.equal(priceOf(i))
      expect([...old.objects(ItemV1)].length).to.equal(N)
    } finally { old.close() }
    return 'old'
  }
  try {
    clean(heap)
    const items = heap.root('catalog', CatalogV2)!.items
    expect(items.length).to.equal(N)
    for (let i = 0; i < N; i += 97) {
      const it = items.get(i)
      expect([it.name, it.price, it.cents]).to.deep.equal([`item ${i}`, Number(priceOf(i)), i % 100])
    }
    expect(heap.types.versionsOf('Kill.Item').filter((e) => !e.retired).length).to.equal(1)
    return 'new'
  } finally { heap.close() }
}

describe('SIGKILL during a migration', function () {
  this.timeout(0)
  let dir: string
  before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'makalu-migration-kill-')) })
  after(() => fs.rmSync(dir, { recursive: true, force: true }))

  for (const backend of ['mmap', 'file'] as const) {
    it(`${backend}: ${KILLS} kills of a ${N}-object migration: each file is the old heap or the migrated one`, async () => {
      const original = path.join(dir, `${backend}-v1.heap`)
      const h = PHeap.create(original, { backend, size: 32 << 20, maxSize: 512 << 20, types: [CatalogV1, ItemV1], gc: false })
      writeV1(h, N)
      h.close()
      const rand = mulberry32(backend === 'mmap' ? 5 : 6)
      const seen = { old: 0, new: 0 }
      for (let k = 0; k < KILLS; k++) {
        const file = path.join(dir, `${backend}-${k}.heap`)
        fs.copyFileSync(original, file)
        // Kill at a random progress line, or (1 in 4) right after the migration's last one.
        const at = rand() < 0.25 ? N : Math.floor(rand() * N)
        let last = ''
        await runUntilKilled(CHILD, [file, backend], (line, kill) => {
          last = line
          if (line === 'migrated' || (line.startsWith('progress ') && Number(line.slice(9)) >= at)) kill()
        })
        const kind = verify(file, backend)
        seen[kind]++
        if (kind === 'old') {
          // The migration runs again, to the end.
          PHeap.open(file, { backend, types: [CatalogV2], migrations: [migration], gc: false }).close()
          expect(verify(file, backend), `kill ${k} (last line '${last}')`).to.equal('new')
        }
        fs.rmSync(file)
        fs.rmSync(`${file}.lock`, { force: true })
      }
      console.log(`      ${backend}: ${KILLS} kills: ${seen.old} left the old heap, ${seen.new} the migrated one`)
      expect(seen.old + seen.new).to.equal(KILLS)
      void ItemV2
    })
  }
})
