/** @Persistent classes shared by the tests. */
import { Persistent, field, PArray } from '../src'

@Persistent()
export class AllKinds {
  @field.i32 i!: number
  @field.bool flag!: boolean
  @field.u32 u!: number
  @field.f64 d!: number
  @field.i64 big!: bigint
  @field() s!: string
  @field() n!: number
  @field.ref(() => AllKinds) other!: AllKinds | null
  @field.array('f64') nums!: PArray<number> | null
  @field.array(() => AllKinds) refs!: PArray<AllKinds | null> | null
}

@Persistent()
export class Account {
  @field() owner!: string
  @field.i32 balance!: number

  deposit(n: number): void { this.balance += n }
}

@Persistent()
export class Bank {
  @field.array(() => Account) accounts!: PArray<Account>
  @field.i32 transfers!: number
}

@Persistent('ListNode')
export class Node {
  @field() value!: number
  @field() label!: string
  @field() next!: Node // not `Node | null`: a union emits design:type Object
}

@Persistent()
export class Tree {
  @field.i32 key!: number
  @field() name!: string
  @field.ref(() => Tree) left!: Tree | null
  @field.ref(() => Tree) right!: Tree | null
}

@Persistent()
export class Shape {
  @field.bool filled!: boolean
  @field() name!: string
  area(): number { return 0 }
}

@Persistent()
export class Circle extends Shape {
  @field() r!: number
  override area(): number { return Math.PI * this.r * this.r }
}

@Persistent()
export class Person {
  @field() name!: string
  @field.ref(() => Person) friend!: Person | null
  @field.array(() => Person) children!: PArray<Person | null> | null
  @field.array('i32') scores!: PArray<number> | null
  @field.i64 id!: bigint
}

/** A numeric enum without a 0 member (a fresh field reads its smallest member). */
export enum Priority { Low = 1, Mid = 5, High = 10 }
/** A string enum (stored as an index into its sorted members). */
export enum Status { Open = 'open', Done = 'done', Blocked = 'blocked' }

/** Every value kind added for domain models: dates, enums, optional and nullable primitives. */
@Persistent()
export class Task {
  @field() title!: string
  @field() due!: Date // inferred from design:type Date
  @field.date created!: Date
  @field.enum(Priority) priority!: Priority
  @field.enum(Status) status!: Status
  @field.optional.i32 estimate?: number
  @field.optional.u32 count?: number
  @field.optional.f64 ratio?: number
  @field.optional.bool done?: boolean
  @field.optional.string note?: string
  @field.optional.date closed?: Date
  @field.optional.enum(Status) review?: Status
  @field.nullable.string assignee!: string | null
  @field.nullable.f64 score!: number | null
  @field.nullable.bool flag!: boolean | null
  @field.nullable.enum(Priority) escalation!: Priority | null
  @field.nullable.date started!: Date | null
  @field.ref(() => Task) next!: Task | null
}
