/** heap.check() reads every object's field values: each kind of damage is named, field by field. */
import 'reflect-metadata'
import { expect } from 'chai'
import { SimRegion } from '@makalu/allocator'
import { PHeap, layoutOf } from '../src'
import { Task, Priority, Status, AllKinds } from './models'

const D = new Date('2026-05-01T00:00:00Z')

describe('pobj check(): stored values', () => {
  /** A heap holding one Task (every value kind) linked to a second one, and an AllKinds; its image and pointers. */
  function image(): { img: Uint8Array; t: number; u: number; a: number } {
    const region = new SimRegion(1 << 20)
    const heap = PHeap.createIn(region, { types: [Task, AllKinds] })
    const u = heap.new(Task, { title: 'second', due: D, created: D, priority: Priority.Low, status: Status.Open, assignee: null, score: null, flag: null, escalation: null, started: null })
    const t = heap.new(Task, {
      title: 'first', due: D, created: D, priority: Priority.High, status: Status.Done, estimate: -3, note: 'n', assignee: 'ann',
      score: 1, flag: true, escalation: Priority.Low, started: D, next: u,
    })
    const a = heap.new(AllKinds)
    heap.setRoot('t', t)
    heap.setRoot('a', a)
    expect(heap.check().violations).to.deep.equal([])
    const out = { t: heap.pointerOf(t), u: heap.pointerOf(u), a: heap.pointerOf(a) }
    heap.close()
    return { img: region.durableImage(), ...out }
  }
  const off = (name: string) => layoutOf(Task).byName.get(name)!.offset

  const damages: Array<[string, (dv: DataView, at: { t: number; u: number; a: number }) => void, RegExp]> = [
    ['a bool byte', (dv, p) => dv.setUint8(p.t + off('flag'), 7), /Task@\d+\.flag: bool byte 7/],
    ['a string enum index', (dv, p) => dv.setUint32(p.t + off('status'), 99, true), /Task@\d+\.status: enum index 99 of 3 members/],
    ['a numeric enum value', (dv, p) => dv.setInt32(p.t + off('priority'), 4, true), /Task@\d+\.priority: 4 is not a member of the enum/],
    ['a date', (dv, p) => dv.setFloat64(p.t + off('due'), NaN, true), /Task@\d+\.due: date of NaN ms/],
    ['an optional i32', (dv, p) => dv.setFloat64(p.t + off('estimate'), 1.5, true), /Task@\d+\.estimate: 1\.5 is not an i32/],
    ['a ref to a string', (dv, p) => dv.setUint32(p.t + off('next'), dv.getUint32(p.t + off('title'), true), true), /Task@\d+\.next: points at a block of tag 1, not an object/],
    ['a string pointer to an object', (dv, p) => dv.setUint32(p.t + off('note'), p.u, true), /Task@\d+\.note: points at a block of tag \d+, not a string/],
    ['string bytes', (dv, p) => dv.setUint8(dv.getUint32(p.t + off('title'), true) + 8, 0xff), /Task@\d+\.title: string bytes are not UTF-8/],
    ['a type id', (dv, p) => dv.setUint32(p.a, 999, true), /object@\d+: type id 999 is not in the type table/],
  ]
  for (const [what, damage, want] of damages) {
    it(`names damaged ${what}`, () => {
      const { img, ...at } = image()
      damage(new DataView(img.buffer, img.byteOffset, img.byteLength), at)
      const h = PHeap.openIn(new SimRegion(img), { types: [Task, AllKinds] })
      try {
        const c = h.check()
        expect(c.ok).to.equal(false)
        expect(c.violations.join('\n')).to.match(want)
      } finally { h.close() }
    })
  }
})
