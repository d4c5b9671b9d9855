/** The makalu CLI, run as a child process (it has none of the classes below) on real heap files. */
import 'reflect-metadata'
import { expect } from 'chai'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { Heap, format as F } from '@makalu/allocator'
import { PHeap, PArray, Persistent, field } from '@makalu/pobj'
import { makalu, sha } from './run-cli'

enum Status { Open = 'open', Done = 'done' }

@Persistent('cli.Task')
class Task {
  @field() title!: string
  @field.i32 points!: number
  @field.optional.date due!: Date | undefined
  @field.enum(Status) status!: Status
  @field.ref(() => Task) parent!: Task | null
  @field.array(() => Task) subtasks!: PArray<Task | null> | null
}


describe('makalu CLI', function () {
  this.timeout(60_000)
  let dir: string
  let file: string
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'makalu-cli-'))
    file = path.join(dir, 'tasks.heap')
    const heap = PHeap.create(file, { size: 1 << 20, types: [Task] })
    const top = heap.new(Task, { title: 'ship v1', points: 8, due: new Date('2027-01-15T00:00:00Z'), status: Status.Open })
    top.subtasks = heap.newArray(Task, [heap.new(Task, { title: 'write docs', points: 3, parent: top }), null])
    heap.setRoot('plan', top)
    heap.close()
  })
  after(() => fs.rmSync(dir, { recursive: true, force: true }))

  it('info: format, state, roots, the type table and use per type, from the file alone; writes nothing', () => {
    const before = sha(file)
    const r = makalu('info', file, '--json')
    expect(r.code, r.err).to.equal(0)
    const j = JSON.parse(r.out)
    expect(j.format).to.include({ version: F.FORMAT_VERSION, owner: 'makalu.pobj' })
    expect(j.state).to.match(/^clean/)
    expect(j.native).to.match(/addon is loaded|not built/)
    expect(Object.keys(j.roots)).to.include('plan')
    const task = j.types.find((t: { name: string }) => t.name === 'cli.Task')
    expect(task).to.include({ objects: 2 })
    expect(task.fields.join(' ')).to.match(/title: string.*points: i32.*parent: ref → cli.Task.*subtasks: array<ref>/)
    expect(makalu('info', file).out).to.match(/state: clean/)
    expect(sha(file)).to.equal(before)
  })

  it('dump: the objects under a root, as text and JSON, bounded by --limit', () => {
    const text = makalu('dump', file, 'plan')
    expect(text.code, text.err).to.equal(0)
    expect(text.out).to.match(/root "plan" → #1/)
    expect(text.out).to.match(/#1 cli\.Task \{ title: "ship v1", points: 8, due: "2027-01-15T00:00:00.000Z", status: "open", parent: null, subtasks: #2 \}/)
    expect(text.out).to.match(/#3 cli\.Task \{ title: "write docs", points: 3, due: undefined, status: "done", parent: #1/)
    const j = JSON.parse(makalu('dump', file, '--json').out)
    expect(j.objects.map((o: { type: string }) => o.type)).to.deep.equal(['cli.Task', 'array<ref>(2)', 'cli.Task'])
    const one = JSON.parse(makalu('dump', file, '--json', '--limit', '1').out)
    expect([one.objects.length, one.truncated]).to.deep.equal([1, true])
    expect(makalu('dump', file, 'nope').code).to.not.equal(0)
  })

  it('check: 0 on a sound heap, even while another process holds it open (read-only, no lock); 1 on damage', () => {
    const live = PHeap.open(file, { types: [Task] })
    try {
      const r = makalu('check', file)
      expect(r.code, r.err).to.equal(0)
      expect(r.out).to.match(/ok; .*dirty \(recovered in memory only/)
    } finally {
      live.close()
    }
    const damaged = path.join(dir, 'damaged.heap')
    fs.copyFileSync(file, damaged)
    const h = Heap.open(damaged, { owner: 'makalu.pobj' })
    const slot = h.layout.rootTableOff
    h.close()
    const bytes = fs.readFileSync(damaged)
    for (let i = 0; i < 4; i++) bytes[slot + i * F.ROOT_SLOT_SIZE + F.RS_NAME] ^= 0x20 // a name byte of each of the first slots
    fs.writeFileSync(damaged, bytes)
    const bad = makalu('check', damaged)
    expect(bad.code).to.equal(1)
    expect(bad.err).to.match(/HeapCorruptError \(EHEAPCORRUPT\).*root slot/)
  })

  it('works on a raw allocator heap too, and says what is wrong with bad input', () => {
    const rawFile = path.join(dir, 'raw.heap')
    const h = Heap.create(rawFile, { size: 1 << 20 })
    h.setRoot('r', h.alloc(100))
    h.close()
    const r = makalu('info', rawFile, '--json')
    expect(r.code, r.err).to.equal(0)
    expect(JSON.parse(r.out).format.owner).to.equal('(raw allocator heap)')
    expect(makalu('dump', rawFile).out).to.match(/#1 <block of 112 bytes/)
    expect(makalu('info', path.join(dir, 'missing')).code).to.equal(1)
    expect(makalu('frobnicate', file).code).to.equal(2)
    expect(makalu().out).to.match(/usage/)
  })

  it('gc: an offline collection frees what no root reaches; --version and help', () => {
    const g = path.join(dir, 'garbage.heap')
    const heap = PHeap.create(g, { size: 1 << 20, types: [Task] })
    heap.setRoot('t', heap.new(Task, { title: 'kept' }))
    for (let i = 0; i < 50; i++) heap.new(Task, { title: `junk ${i}` })
    heap.close()
    const r = makalu('gc', g)
    expect(r.code, r.err).to.equal(0)
    expect(r.out).to.match(/freed/)
    expect(Number(/(\d+) freed/.exec(r.out)![1])).to.equal(100) // 50 objects and their titles
    expect(makalu('gc', g).out).to.match(/ 0 freed/)
    expect(makalu('--version').out.trim()).to.match(/^\d+\.\d+\.\d+$/)
    expect(makalu('help', 'dump').out).to.match(/breadth-first/)
    expect(makalu('dump', '--help').out).to.match(/makalu dump FILE/)
  })

  it('picture: an SVG of the chunk map and the bytes per type', () => {
    const out = path.join(dir, 'heap.svg')
    const r = makalu('picture', file, out)
    expect(r.code, r.err).to.equal(0)
    const svg = fs.readFileSync(out, 'utf8')
    expect(svg).to.match(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/)
    expect(svg.trim()).to.match(/<\/svg>$/)
    expect((svg.match(/<rect /g) ?? []).length).to.be.greaterThan(16) // one per chunk, and more
    expect(svg).to.contain('cli.Task (2)')
    expect(svg).to.match(/free: [\d.]+ (KiB|MiB)/)
  })

  it('backup: a consistent copy that opens to the same objects', () => {
    const copy = path.join(dir, 'copy.heap')
    const r = makalu('backup', file, copy)
    expect(r.code, r.err).to.equal(0)
    const heap = PHeap.open(copy, { types: [Task] })
    expect(heap.root('plan', Task)!.subtasks!.get(0)!.title).to.equal('write docs')
    heap.close()
  })

  it('backup --compact: a copy of the objects the roots reach, in a smaller file', () => {
    const copy = path.join(dir, 'compact.heap')
    const r = makalu('backup', file, copy, '--compact')
    expect(r.code, r.err).to.equal(0)
    expect(r.out).to.match(/compact\.heap: \d+ bytes, \d+ objects, \d+ roots \(compacted\)/)
    expect(fs.statSync(copy).size).to.be.at.most(fs.statSync(file).size)
    const heap = PHeap.open(copy, { types: [Task] })
    expect(heap.root('plan', Task)!.subtasks!.get(0)!.title).to.equal('write docs')
    expect(heap.check().ok).to.equal(true)
    heap.close()
    expect(makalu('backup', file, copy, '--compact').code).to.equal(1) // COPY exists: refused
  })
})
