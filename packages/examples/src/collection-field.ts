/**
 * Collections as field values: `@field.ref(() => PersistentMap) index!: PersistentMap | null`.
 * A collection is stored as its header object (pobj's storeAs): the field holds the header,
 * a read gives the collection of that header (the same JS object while it lives).
 */
import { PHeap, Class, FieldTypeError, storeAs } from '@makalu/pobj'

export function storeCollection<C extends { readonly object: H }, H extends object>(
  cls: Function, header: Class<H>, of: (heap: PHeap, header: H) => C): void {
  storeAs<C, H>(cls, {
    stored: header,
    wrap: (heap, h) => of(heap as PHeap, h),
    unwrap: (c) => {
      if (!(c instanceof cls)) {
        const got = typeof c === 'object' ? ((c as object | null)?.constructor?.name ?? 'null') : typeof c
        throw new FieldTypeError(`@makalu/examples: a ${cls.name} field: expected a ${cls.name} or null, got ${got}`)
      }
      return c.object
    },
  })
}
