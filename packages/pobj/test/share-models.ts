/** Classes of the pobj sharing tests: the main thread knows Item; the workers also use Note, new to the heap. */
import 'reflect-metadata'
import { Persistent, field } from '../src'

@Persistent('share.Item')
export class Item {
  @field.i32 worker!: number
  @field.i32 serial!: number
  @field() label!: string
  @field.ref(() => Item) next!: Item | null
}

@Persistent('share.Note')
export class Note {
  @field() text!: string
  @field.ref(() => Item) about!: Item | null
}
