/**
 * The workload of the kill test for every value kind: a chain of records, newest first, each
 * holding every field kind pobj has. Op i is a pure function of i: an even op adds a record and
 * rewrites optional fields of the previous head in one transaction; an odd op writes one
 * optional field of the head outside a transaction (failure-atomic on its own). The parent
 * replays the ops on plain objects (`model`) and compares.
 */
import { PHeap, Persistent, field } from '@makalu/pobj'

export enum Priority { Low = 1, High = 5, Urgent = 9 }
export enum Stage { Todo = 'todo', Doing = 'doing', Done = 'done' }

@Persistent('kinds.Rec')
export class Rec {
  @field.i32 n!: number
  @field.u32 u!: number
  @field.f64 x!: number
  @field.i64 big!: bigint
  @field.bool b!: boolean
  @field.string s!: string
  @field.date d!: Date
  @field.enum(Priority) pr!: Priority
  @field.enum(Stage) st!: Stage
  @field.optional.i32 oi?: number
  @field.optional.string note?: string
  @field.nullable.date due!: Date | null
  @field.nullable.bool flag!: boolean | null
  @field.optional.enum(Stage) next?: Stage
  @field.ref(() => Rec) older!: Rec | null
}

export const HEAD = 'kinds.head'
const XS = [0, -0, NaN, 1e308, -5e-324, Math.PI, Infinity]
const SS = ['', 'plain', '\uD800 lone', 'emoji 🎉', 'ünïcödé', 'x'.repeat(300)]
const BIGS = [0n, -(2n ** 63n), 2n ** 63n - 1n, 123456789012345678n]
const PRS = [Priority.Low, Priority.High, Priority.Urgent]
const STS = [Stage.Todo, Stage.Doing, Stage.Done]

/** The plain values of record i as first written. */
export function recordOf(i: number): Omit<Rec, 'older'> {
  return {
    n: (i * 7919) | 0, u: (i * 2654435761) >>> 0, x: XS[i % XS.length], big: BIGS[i % BIGS.length], b: i % 2 === 0,
    s: `${SS[i % SS.length]}#${i}`, d: new Date(Date.UTC(2026, 0, 1) + i * 86_400_000), pr: PRS[i % 3], st: STS[i % 3],
    oi: i % 4 === 0 ? undefined : -i, note: i % 3 === 0 ? undefined : `note ${i}`, due: i % 5 === 0 ? null : new Date(i * 1000),
    flag: i % 3 === 1 ? null : i % 2 === 1, next: i % 2 ? Stage.Doing : undefined,
  }
}

type Plain = Omit<Rec, 'older'>
/** What op i does to the previous head (even ops) or the head (odd ops). */
function edits(i: number): Partial<Plain> {
  return i % 2 === 0
    ? { oi: i % 3 ? undefined : i, flag: null, next: Stage.Done }
    : { note: i % 4 === 1 ? undefined : `edited ${i}` }
}

/** Applies op i to the heap. */
export function applyOp(heap: PHeap, i: number): void {
  const head = heap.root(HEAD, Rec)
  if (i % 2 === 0) {
    heap.transaction(() => {
      if (head) Object.assign(head, edits(i))
      heap.setRoot(HEAD, heap.new(Rec, { ...recordOf(i / 2), older: head }))
    })
  } else if (head) Object.assign(head, edits(i))
}

/** The chain (newest first) after ops 0..k-1, as plain values. */
export function model(k: number): Plain[] {
  const chain: Plain[] = []
  for (let i = 0; i < k; i++) {
    if (i % 2 === 0) {
      if (chain.length > 0) Object.assign(chain[0], edits(i))
      chain.unshift(recordOf(i / 2))
    } else if (chain.length > 0) Object.assign(chain[0], edits(i))
  }
  return chain
}

/** The chain in the heap, as plain values. */
export function read(heap: PHeap): Plain[] {
  const out: Plain[] = []
  for (let r = heap.root(HEAD, Rec); r; r = r.older) {
    out.push({ n: r.n, u: r.u, x: r.x, big: r.big, b: r.b, s: r.s, d: r.d, pr: r.pr, st: r.st, oi: r.oi, note: r.note, due: r.due, flag: r.flag, next: r.next })
  }
  return out
}
