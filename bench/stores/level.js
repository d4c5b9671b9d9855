'use strict';
// classic-level (LevelDB) peer. Process durability: put() with the default
// sync:false (the write-ahead log is written to the OS before the put resolves,
// so a process kill loses nothing; power loss may). Power durability: {sync:true}
// (fsync of the log per write).
const { ClassicLevel } = require('classic-level');
const version = require('../lib/pkgver')('classic-level');

module.exports = {
  id: 'level',
  name: `classic-level ${version} (LevelDB)`,
  persistent: true,
  keyType: 'string',
  valueType: 'bytes',
  settings: {
    process: 'new ClassicLevel(dir, {keyEncoding:"utf8", valueEncoding:"buffer"}), LevelDB defaults (4 MiB write buffer, 8 MiB block cache, snappy); await db.put(k, v) one at a time, default sync:false',
    bulk: 'same db; one chained batch of all puts, await batch.write()',
    power: 'await db.put(k, v, {sync:true}) one at a time',
    group: 'await db.batch([100 puts], {sync:true})',
    get: 'db.getSync(key)',
  },
  create() {
    let db = null, wopts;
    return {
      async open(dir, { durability }) {
        db = new ClassicLevel(dir, { keyEncoding: 'utf8', valueEncoding: 'buffer' });
        await db.open();
        wopts = durability === 'power' ? { sync: true } : undefined;
      },
      async putEach(keys, values, from, to) {
        for (let i = from; i < to; i++) await db.put(keys[i], values[i], wopts);
      },
      async putGroups(keys, values, from, to, groupSize) {
        for (let g = from; g < to; g += groupSize) {
          const end = Math.min(to, g + groupSize);
          const ops = [];
          for (let i = g; i < end; i++) ops.push({ type: 'put', key: keys[i], value: values[i] });
          await db.batch(ops, wopts);
        }
      },
      async putAll(keys, values, from, to) {
        const b = db.batch();
        for (let i = from; i < to; i++) b.put(keys[i], values[i]);
        await b.write(wopts);
      },
      getEach(keys, order, from, to) {
        let hits = 0;
        for (let j = from; j < to; j++) if (db.getSync(keys[order[j]]) !== undefined) hits++;
        return hits;
      },
      get(key) { return db.getSync(key); },
      async close() { await db.close(); db = null; },
    };
  },
};
