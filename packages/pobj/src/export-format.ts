/**
 * The whole-heap export format ("makalu-heap", version 1). No logic here beyond the names.
 * Written by heap-export.ts, read by heap-import.ts; readable by anything that reads JSON,
 * with none of the application's classes: the header carries the heap's type table.
 *
 * NDJSON: UTF-8, one JSON value per line, each line ended by "\n". Line 1 is the header,
 * then exactly `objects` records, one per object or array, each written once, whatever
 * the number of refs and roots that reach it (identity is kept: a ref is an id).
 *
 *   line 1   { "format": "makalu-heap", "version": 1, "objects": N,
 *              "roots": { "<name>": id, ... },
 *              "types": [ { "typeId": 16, "name": "Book", "size": 32,
 *                           "fields": [ { "name": "title", "kind": "string", "offset": 8,
 *                                         "presence": "required" | "optional" | "nullable",
 *                                         "element"?: "i32"|"u32"|"f64"|"i64"|"string"|"ref", (arrays)
 *                                         "target"?: "Author",                            (ref, ref array)
 *                                         "enumType"?: "number"|"string", "members"?: [...] } ] } ] }
 *   object   { "id": n, "type": "Book", "fields": { "title": "Dune", "author": 7, ... } }
 *   array    { "id": n, "array": "i32"|"u32"|"f64"|"i64"|"string"|"ref", "of"?: "Book", "fixed"?: true, "items": [ ... ] }
 *            (a growable array unless "fixed": newFixedArray's one-block arrays; string items are strings)
 *
 * Ids are 1..N, dense, each used by exactly one record (in the exporter: the rank of the
 * object's block in address order, so no id map is kept). Values, by the field's kind:
 *
 *   i32 u32          a JSON number
 *   f64              a JSON number, or one of the strings "NaN" "Infinity" "-Infinity" "-0"
 *                    (JSON has none of them; every other number is exact in JSON's decimal form)
 *   i64              a decimal string ("-9223372036854775808"): JSON numbers lose bits past 2^53
 *   bool             true / false
 *   string           a JSON string; a lone surrogate is written as a \uD800 escape and reads back
 *   date             an ISO 8601 string (extended years for ±275760), exact to the millisecond
 *   enum             the member: a number (numeric enum) or a string (string enum)
 *   bytes            a base64 string (standard alphabet, padded)
 *   ref, array       the id of the record, or null
 *   absent           null (an optional or nullable field without a value)
 *
 * A field missing from a record reads as its kind's default on import (what `new` gives).
 * An object of a forwarded block (schema versions: a block of tag 5 pointing at the
 * object's current block) is one object: its id is that of the current block.
 */

export const EXPORT_FORMAT = 'makalu-heap'
export const EXPORT_VERSION = 1

/** The f64 values JSON numbers can not carry, by their string form. */
export const F64_SPECIAL: ReadonlyMap<string, number> = new Map([
  ['NaN', NaN], ['Infinity', Infinity], ['-Infinity', -Infinity], ['-0', -0],
])


export interface ExportedField {
  name: string
  kind: string
  offset: number
  presence: string
  element?: string
  target?: string
  enumType?: string
  members?: Array<number | string>
}
export interface ExportedType { typeId: number; name: string; size: number; fields: ExportedField[] }
export interface ExportHeader {
  format: string
  version: number
  objects: number
  roots: Record<string, number | null>
  types: ExportedType[]
}
export interface ObjectRecord { id: number; type: string; fields: Record<string, unknown> }
export interface ArrayRecord { id: number; array: string; of?: string; fixed?: true; items: unknown[] }
