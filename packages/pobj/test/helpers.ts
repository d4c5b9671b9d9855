/** Test helpers: fresh heaps on SimRegion, and a reachability walk from the persisted type table. */
import { SimRegion } from '@makalu/allocator'
import { PHeap, Class, reachable } from '../src'

export function simHeap(types: Class[], size = 1 << 20): { region: SimRegion; heap: PHeap } {
  const region = new SimRegion(size)
  const heap = PHeap.createIn(region, { types })
  return { region, heap }
}

export { reachable }
