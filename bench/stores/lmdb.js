'use strict';
// lmdb-js peer. Process durability: noSync (commits reach the OS page cache / the
// shared memory map; a process kill loses nothing, power loss may). Power
// durability: noSync:false and overlappingSync:false, so every commit has fsynced
// data and meta page before putSync / transactionSync returns.
const { open } = require('lmdb');
const version = require('../lib/pkgver')('lmdb');

const COMMON = { encoding: 'binary', compression: false, cache: false };

module.exports = {
  id: 'lmdb',
  name: `lmdb-js ${version}`,
  persistent: true,
  keyType: 'string',
  valueType: 'bytes',
  settings: {
    process: 'open({encoding:"binary", compression:false, cache:false, noSync:true}); each put = putSync() outside a transaction = its own write txn',
    bulk: 'same env; all puts in one transactionSync()',
    power: 'noSync:false, overlappingSync:false (lmdb-js defaults it to true on Linux, which flushes after the commit returns); putSync() per put = one fsync\'d commit',
    group: 'power settings; transactionSync() around each group of 100 putSync()',
    get: 'db.get(key) (sync, copies value into a Buffer)',
  },
  create() {
    let db = null;
    return {
      open(dir, { durability }) {
        const opts = durability === 'power'
          ? { ...COMMON, path: dir, noSync: false, overlappingSync: false }
          : { ...COMMON, path: dir, noSync: true };
        db = open(opts);
      },
      putEach(keys, values, from, to) {
        for (let i = from; i < to; i++) db.putSync(keys[i], values[i]);
      },
      putGroups(keys, values, from, to, groupSize) {
        for (let g = from; g < to; g += groupSize) {
          const end = Math.min(to, g + groupSize);
          db.transactionSync(() => {
            for (let i = g; i < end; i++) db.putSync(keys[i], values[i]);
          });
        }
      },
      putAll(keys, values, from, to) {
        db.transactionSync(() => {
          for (let i = from; i < to; i++) db.putSync(keys[i], values[i]);
        });
      },
      getEach(keys, order, from, to) {
        let hits = 0;
        for (let j = from; j < to; j++) if (db.get(keys[order[j]]) !== undefined) hits++;
        return hits;
      },
      get(key) { return db.get(key); },
      async close() { await db.close(); db = null; },
    };
  },
};
