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

// Sized from the run's N (about 300 bytes per entry, 16 MiB at least), so the timed puts do not grow
// (remap) the heap; the file's space is reserved on disk at create (not sparse), so this is its disk use.
const N = Number(process.env.BENCH_N || (process.env.BENCH_QUICK === '1' ? 20000 : 1000000));
const SIZE = Math.max(16, Math.ceil((N * 300) / 2 ** 20)) * 2 ** 20;
const MAX_SIZE = 4 * 2 ** 30 - 4096;

module.exports = {
  id: 'pmap',
  name: 'PersistentMap (makalu-ts)',
  persistent: true,
  keyType: 'string',
  valueType: 'string',
  settings: {
    process: 'PHeap.create(file, {size: about 300 B per entry (16 MiB at least; reserved on disk), maxSize: 4 GiB, durability:"process"}) on mmap; map.set(k, v) outside a transaction = one failure-atomic pointer swing (entry, key, value blocks durable, then one 8-byte slot store)',
    bulk: 'same heap; heap.transaction(() => all map.set()): undo log for the first slot words, then the slot array is copied once inside the transaction (a copy needs no log)',
    power: 'durability:"power", backend:"file": map.set() outside a transaction = 2 drains (new blocks; then the slot), each drain = pwrite of the flushed words + fdatasync',
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
