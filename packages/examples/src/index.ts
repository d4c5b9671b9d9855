/**
 * @makalu/examples: PersistentMap and PersistentList, crash-safe collections
 * built from @Persistent classes on @makalu/pobj.
 */
import 'reflect-metadata'
import { BlockIO as BlockIOForTests } from './block-io'
export { PersistentMap, MapKey, MapHeader, AnyObject } from './persistent-map'
export { PersistentList, ListItem, ListHeader } from './persistent-list'
export { PValue } from './value-codec'
/** For this repository's planted-bug tests only (they patch its prototype); not an API. */
export const testHooks = { BlockIO: BlockIOForTests }
