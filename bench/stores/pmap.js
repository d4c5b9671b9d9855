'use strict';
// PersistentMap (makalu-ts) peer: a PHeap file holding one
// PersistentMap under root 'bench'. Needs the built workspaces (`npm run build`):
// @makalu/* resolve from bench/ through the root node_modules links.
//
// Durability: the heap's own levels. 'process': the mmap backend; flush/drain cost
// nothing (stores are in the page cache, which survives kill -9). 'power': the file
// backend, whose stores reach the file only at a drain (pwrite of the flushed words +
// fdatasync), so a transaction costs three drains however many slots it logs.
const fs = require('node:fs');
const path = require('node:path');
const { PHeap } = require('@makalu/pobj');
const { PersistentMap } = require('@makalu/examples');

// Sized from the run's N, so the timed puts do not grow (remap) the heap: an entry of this run is one
// 128-byte record plus about 16 bytes of slots (load <= 3/4, the array doubles), 160 bytes budgeted;
// maxSize = 4x the data (the allocation bitmap, 1 bit per 16 bytes of maxSize, is part of the file).
// The file's space is reserved on disk at create (not sparse), so this is its disk use.
const N = Number(process.env.BENCH_N || (process.env.BENCH_QUICK === '1' ? 20000 : 1000000));
const MiB = 2 ** 20;
const DATA = Math.max(4, Math.ceil((N * 160) / MiB)) * MiB;
const MAX_SIZE = Math.min(4 * 2 ** 30 - 4096, Math.max(64 * MiB, 4 * DATA));
const SIZE = DATA + Math.ceil(MAX_SIZE / 128 / MiB) * MiB + MiB;

module.exports = {
  id: 'pmap',
  name: 'PersistentMap (makalu-ts)',
  persistent: true,
  keyType: 'string',
  valueType: 'string',
  settings: {
    process: 'PHeap.create(file, {size: 160 B per entry + metadata (reserved on disk), maxSize: 4x that, durability:"process"}) on mmap; map.set(k, v) of a new key outside a transaction = one record block (key, value, order) and one sealed 8-byte slot store, one drain',
    bulk: 'same heap; heap.transaction(() => all map.set()): undo log for the first slot words, then the slot array is copied once inside the transaction (a copy needs no log)',
    power: 'durability:"power", backend:"file": map.set() of a new key outside a transaction = 1 drain (the record and its sealed slot together; a torn record is vacated by recovery), a drain = pwrite of the flushed words + fdatasync',
    group: 'power, backend:"file"; heap.transaction(() => 100 x map.set()): 3 drains per transaction (undo entries; data; commit mark)',
    get: 'map.get(k): hash, probe the slot array, compare hash then key bytes in place, decode the value string',
  },
  create() {
    let heap = null;
    let map = null;
    return {
      open(dir, { durability }) {
        const file = path.join(dir, 'heap.mk');
        const backend = durability === 'power' ? 'file' : 'mmap';
        heap = fs.existsSync(file)
          ? PHeap.open(file, { durability, backend })
          : PHeap.create(file, { size: SIZE, maxSize: MAX_SIZE, durability, backend });
        map = PersistentMap.open(heap, 'bench');
      },
      putEach(keys, values, from, to) {
        const m = map;
        for (let i = from; i < to; i++) m.set(keys[i], values[i]);
      },
      putGroups(keys, values, from, to, groupSize) {
        const m = map;
        for (let g = from; g < to; g += groupSize) {
          const end = Math.min(to, g + groupSize);
          heap.transaction(() => { for (let i = g; i < end; i++) m.set(keys[i], values[i]); });
        }
      },
      putAll(keys, values, from, to) {
        const m = map;
        heap.transaction(() => { for (let i = from; i < to; i++) m.set(keys[i], values[i]); });
      },
      getEach(keys, order, from, to) {
        const m = map;
        let hits = 0;
        for (let j = from; j < to; j++) if (m.get(keys[order[j]]) !== undefined) hits++;
        return hits;
      },
      get(key) { return map.get(key); },
      close() { heap.close(); heap = null; map = null; },
    };
  },
};
