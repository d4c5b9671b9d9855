import { expect } from 'chai'
import * as fs from 'fs'
import * as path from 'path'
import { spawnSync } from 'child_process'
import { Worker } from 'worker_threads'
import { Heap, MmapRegion, loadNative, openRegion } from '../src'
import { fixture, makeTempDir, removeDir } from './fixtures/region-util'
import { mappedLines } from './fixtures/mapping-child'

/**
 * How the mmap backend maps a heap ([scale] item 4, "instant opens"): one mapping of the
 * heap's maxSize, made at open through the V8 API so that V8 does not count it as external
 * memory (no GC at open); growth is an ftruncate and a longer view over the same buffer;
 * views stop at the file's end; the GC, or the thread's exit, unmaps what close() did not.
 */
const MiB = 1 << 20

function runChild(args: string[], nodeArgs: string[] = []): ReturnType<typeof spawnSync> & { json: Record<string, unknown>[] } {
  const res = spawnSync(process.execPath, [...nodeArgs, fixture('mapping-child'), ...args], { encoding: 'utf8', timeout: 30_000 })
  const json = String(res.stdout).split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>)
  return Object.assign(res, { json })
}

function runWorker(data: { file: string; create: boolean; close: boolean }): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const w = new Worker(fixture('mapping-worker'), { workerData: data })
    let msg: Record<string, unknown> | undefined
    w.on('message', (m: Record<string, unknown>) => { msg = m })
    w.on('error', reject)
    w.on('exit', (code) => (code === 0 && msg ? resolve(msg) : reject(new Error(`worker exited with ${code}, message ${JSON.stringify(msg)}`))))
  })
}

describe('the mmap mapping: maxSize mapped once, views bounded to the file', function () {
  let dir: string
  before(function () { if (!loadNative()) this.skip() })
  beforeEach(() => { dir = makeTempDir('mapping') })
  afterEach(() => removeDir(dir))

  it('a heap grown past its initial size keeps its data and its ArrayBuffer; views taken before keep their length', () => {
    const file = path.join(dir, 'h')
    const h = Heap.create(file, { size: MiB, maxSize: 64 * MiB, backend: 'mmap', durability: 'process' })
    const region = h.region as MmapRegion
    expect(region.mappedSize).to.be.at.least(64 * MiB - 65536)
    const before = h.bytes
    const buffer = before.buffer
    let grew = 0
    h.onGrow(() => grew++)
    const blocks: number[] = []
    while (h.region.size < 8 * MiB) {
      const p = h.alloc(4096)
      h.bytes[p] = blocks.length & 0xff
      blocks.push(p)
    }
    expect(grew).to.be.greaterThan(0)
    expect(h.bytes.buffer).to.equal(buffer) // the same ArrayBuffer: growth made no new mapping
    expect(h.bytes.length).to.equal(fs.statSync(file).size) // the view is the file, no more
    expect(before.length).to.equal(MiB) // an earlier view keeps its old length and contents
    expect(before[blocks[0]]).to.equal(0)
    blocks.forEach((p, i) => expect(h.bytes[p]).to.equal(i & 0xff))
    h.close()
    expect(before.length).to.equal(0) // close detaches every view
    const again = Heap.open(file, { backend: 'mmap' })
    blocks.forEach((p, i) => expect(again.bytes[p]).to.equal(i & 0xff))
    expect(again.bytes.length).to.equal(fs.statSync(file).size)
    again.close()
  })

  it('mapping a heap adds nothing to V8\'s external memory (so no GC is started by the open)', () => {
    const file = path.join(dir, 'h')
    Heap.create(file, { size: 64 * MiB, maxSize: 256 * MiB, backend: 'mmap', durability: 'process' }).close()
    const external = process.memoryUsage().external
    const h = Heap.open(file, { backend: 'mmap', durability: 'process' })
    const grown = process.memoryUsage().external - external
    expect((h.region as MmapRegion).mappedSize).to.be.greaterThan(200 * MiB)
    expect(grown).to.be.below(MiB) // was 64 MiB: napi's external buffers count their length
    h.close()
  })

  it('a region grows within its maxSize on the same buffer; past it, it maps anew and old views go empty', () => {
    const r = openRegion(path.join(dir, 'r'), { create: true, size: 8192, maxSize: 32768, backend: 'mmap' }) as MmapRegion
    const first = r.bytes
    first[100] = 9
    r.grow(16384)
    expect(r.bytes.buffer).to.equal(first.buffer)
    expect([first.length, r.bytes.length, r.bytes[100], r.bytes[16383], r.bytes[16384]]).to.deep.equal([8192, 16384, 9, 0, undefined])
    r.grow(65536) // past the mapping
    expect(r.bytes.buffer).to.not.equal(first.buffer)
    expect([first.length, r.mappedSize, r.bytes.length, r.bytes[100]]).to.deep.equal([0, 65536, 65536, 9])
    r.close()
  })

  it('an index past the file reads undefined; past the file the buffer reads zeros (no SIGBUS) and refuses writes (child)', () => {
    const file = path.join(dir, 'h')
    Heap.create(file, { size: MiB, maxSize: 32 * MiB, backend: 'mmap', durability: 'process' }).close()
    const bounded = runChild(['past-eof', file])
    expect(bounded.status, String(bounded.stderr)).to.equal(0)
    const [out] = bounded.json
    expect(out.length).to.equal(MiB)
    expect(out.size).to.equal(MiB)
    expect(out.mapped as number).to.be.greaterThan(30 * MiB)
    expect(out.atEnd).to.equal(undefined)
    expect(out.farPast).to.equal(undefined)
    expect(out.u32).to.equal(undefined)
    // The buffer itself passes the file's end: what lies there is not the file (whose pages
    // past EOF would be a SIGBUS) but read-only zeros, so a clone of heap.bytes works.
    expect([out.rawRead, out.cloneLength, out.cloneBuffer]).to.deep.equal([0, MiB, out.mapped])
    const raw = runChild(['past-eof', file, 'raw'])
    expect(raw.signal).to.equal('SIGSEGV')
    expect(raw.json.length).to.equal(1)
    expect(fs.statSync(file).size).to.equal(MiB)
  })

  it('close unmaps at once, and reopening many times leaves no mapping behind', () => {
    const file = path.join(dir, 'h')
    Heap.create(file, { size: MiB, maxSize: 64 * MiB, backend: 'mmap', durability: 'process' }).close()
    expect(mappedLines(file)).to.have.length(0)
    for (let i = 0; i < 20; i++) {
      const h = Heap.open(file, { backend: 'mmap', durability: 'process' })
      expect(mappedLines(file)).to.have.length(1)
      const p = h.alloc(64)
      h.bytes[p] = i
      h.persist(p, 64)
      h.setRoot('last', p)
      h.close()
      expect(mappedLines(file)).to.have.length(0)
    }
    const h = Heap.open(file, { backend: 'mmap' })
    expect(h.bytes[h.getRoot('last')]).to.equal(19)
    h.close()
  })

  it('a heap in a worker_thread loads the addon and maps; a worker that exits without close leaves no mapping', async () => {
    const file = path.join(dir, 'h')
    const a = await runWorker({ file, create: true, close: true })
    expect(a).to.deep.include({ kind: 'mmap', roots: 1 })
    expect(a.mapped as number).to.be.greaterThan(15 * MiB)
    const h = Heap.open(file, { backend: 'mmap' }) // the worker closed it: clean, and ours again
    expect([h.recovery.clean, h.roots().length]).to.deep.equal([true, 1])
    h.close()
    const other = path.join(dir, 'h2')
    const b = await runWorker({ file: other, create: true, close: false })
    expect(b).to.deep.include({ kind: 'mmap', roots: 1 })
    expect(mappedLines(other)).to.have.length(0) // unmapped when the worker's environment went away
  })

  it('the GC unmaps a buffer dropped without unmap(), and never one unmap() released (child, --expose-gc)', () => {
    const res = runChild(['gc-fallback', dir], ['--expose-gc'])
    expect([res.signal, res.status], String(res.stderr)).to.deep.equal([null, 0])
    expect(res.json[0]).to.deep.equal({
      mappedBeforeGc: 1, mappedAfterGc: 0,
      firstLength: 0, mappedBeforeGc2: 1, mappedAfterGc2: 1, secondWrites: 42, mappedAfterUnmap: 0,
      regionMapped: 1, regionMappedAfterGc: 0,
    })
  })
})
