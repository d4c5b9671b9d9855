/**
 * Compile-time tests of the public declarations: `tsc -b` fails if an expectation breaks
 * (each @ts-expect-error must meet an error). Nothing here runs.
 */
import { PHeap, PArray, Persistent, field, Init, PHeapStats, PHeapShareToken, ObjectToken } from '../../src'

@Persistent('types.Task')
class Task {
  @field() title!: string
  @field.i32 points!: number
  @field.ref(() => Task) parent!: Task | null
  @field.array(() => Task) subtasks!: PArray<Task | null> | null
  done(): boolean { return this.points === 0 }
}

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false
function expectType<T>(_v: T): void { /* compile-time only */ }
function assertEqual<A, B>(_proof: Equal<A, B>): void { /* compile-time only */ }

export function typeTests(heap: PHeap): void {
  // init: data members only, each optional, with their own types.
  heap.new(Task, { title: 'x', points: 3 })
  heap.new(Task)
  // @ts-expect-error a method is not a field
  heap.new(Task, { done: () => true })
  // @ts-expect-error a field of the wrong type
  heap.new(Task, { points: 'three' })
  // @ts-expect-error no such field
  heap.new(Task, { nope: 1 })
  assertEqual<Init<Task>, { title?: string; points?: number; parent?: Task | null; subtasks?: PArray<Task | null> | null }>(true)

  // newArray infers its element type.
  const t = heap.new(Task)
  const _a1 = heap.newArray(Task, [t])
  const _a2 = heap.newArray(Task, 4)
  const _a3 = heap.newArray('i32', [1, 2])
  const _a4 = heap.newArray('i64', 2)
  const _a5 = heap.newArray('string', 2)
  assertEqual<typeof _a5, PArray<string>>(true)
  assertEqual<typeof _a1, PArray<Task>>(true)
  assertEqual<typeof _a2, PArray<Task | null>>(true)
  assertEqual<typeof _a3, PArray<number>>(true)
  assertEqual<typeof _a4, PArray<bigint>>(true)
  // @ts-expect-error i64 elements are bigints
  heap.newArray('i64', [1, 2])
  expectType<PArray<string>>(heap.newArray('string', ['a']))
  expectType<number>(heap.newArray('f64', 0).push(1, 2))
  // @ts-expect-error not an element kind
  heap.newArray('bool', 2)

  // Roots with a class are typed; stats say what stats() returns.
  expectType<Task | null>(heap.root('t', Task))
  const s: PHeapStats = heap.stats()
  expectType<number>(s.gc.collections + s.roots + s.capacity + s.chunks + s.freeChunks + s.types['types.Task'].count)
  expectType<{ ms: number; freedBlocks: number }>(heap.gc())
}

enum Level { Low = 1, High = 2 }
enum Phase { Open = 'open', Done = 'done' }

@Persistent('types.Event')
class Event {
  @field() at!: Date
  @field.date created!: Date
  @field.enum(Level) level!: Level
  @field.enum(Phase) phase!: Phase
  @field.optional.i32 estimate?: number
  @field.optional.u32 count?: number
  @field.optional.f64 ratio?: number
  @field.optional.bool done?: boolean
  @field.optional.string note?: string
  @field.optional.date closed?: Date
  @field.optional.enum(Phase) review?: Phase
  @field.optional() inferred?: number
  @field.nullable.string assignee!: string | null
  @field.nullable.f64 score!: number | null
  @field.nullable.bool flag!: boolean | null
  @field.nullable.date started!: Date | null
  @field.nullable.enum(Level) escalation!: Level | null
}

export function valueTypeTests(heap: PHeap): void {
  const e = heap.new(Event, { at: new Date(), level: Level.High, phase: Phase.Done, estimate: undefined, assignee: null, started: null })
  expectType<Date>(e.at)
  expectType<number | undefined>(e.estimate)
  expectType<string | null>(e.assignee)
  assertEqual<Init<Event>['level'], Level | undefined>(true)
  // @ts-expect-error a Date field takes a Date, not a number
  heap.new(Event, { at: 0 })
  // @ts-expect-error an enum field takes a member
  heap.new(Event, { phase: 'bogus' })
  // @ts-expect-error null is for nullable fields
  heap.new(Event, { note: null })
  // @ts-expect-error an i64 can not be optional (no spare bit pattern)
  void field.optional.i64
  // @ts-expect-error ref and array fields are nullable already
  void field.nullable.ref
  // @ts-expect-error nullable has no inference (`T | null` emits design:type Object)
  void field.nullable()
}

export function shareTypeTests(heap: PHeap): void {
  // A token to post to a worker; attach takes the classes (and a gc policy), not migrations.
  const token: PHeapShareToken = heap.share()
  const other = PHeap.attach(token, { types: [Task] })
  const t = other.tokenOf(other.new(Task))
  expectType<ObjectToken>(t)
  expectType<object>(heap.fromToken(t))
  // @ts-expect-error migrations run only at the sharing open
  PHeap.attach(token, { migrations: [] })
}
