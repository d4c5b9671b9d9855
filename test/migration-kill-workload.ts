/**
 * The workload of the kill-during-migration test: a catalog of items written by release 1 of
 * `Kill.Item` (price as a string), and release 2 (price as a number, a new `cents` field),
 * which needs a migration. Shared by the test and its child.
 */
import { PHeap, Persistent, field, PArray, Migration } from '@makalu/pobj'

@Persistent('Kill.Item') export class ItemV1 {
  @field() name!: string
  @field() price!: string
}
@Persistent('Kill.Item') export class ItemV2 {
  @field() name!: string
  @field.f64 price!: number
  @field.i32 cents!: number
}
@Persistent('Kill.Catalog') export class CatalogV1 { @field.array(() => ItemV1) items!: PArray<ItemV1> }
@Persistent('Kill.Catalog') export class CatalogV2 { @field.array(() => ItemV2) items!: PArray<ItemV2> }

export const priceOf = (i: number): string => `${i}.${String(i % 100).padStart(2, '0')}`

/** Writes n items of release 1 under root 'catalog'. */
export function writeV1(heap: PHeap, n: number): void {
  const items: ItemV1[] = []
  heap.transaction(() => {
    for (let i = 0; i < n; i++) items.push(heap.new(ItemV1, { name: `item ${i}`, price: priceOf(i) }))
    heap.setRoot('catalog', heap.new(CatalogV1, { items: heap.newArray(ItemV1, items) }))
  })
}

export const migration: Migration<ItemV2> = {
  to: ItemV2,
  migrate(old, obj) {
    obj.price = Number(old.price)
    obj.cents = Math.round(Number(old.price) * 100) % 100
  },
}
