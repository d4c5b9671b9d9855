/**
 * @makalu/examples: PersistentMap and PersistentList, crash-safe collections
 * built from @Persistent classes on @makalu/pobj.
 */
import 'reflect-metadata'
export { PersistentMap, MapKey, MapEntry, MapHeader, AnyObject } from './persistent-map'
export { PersistentList, ListItem, ListHeader } from './persistent-list'
export { PValue } from './value-codec'
