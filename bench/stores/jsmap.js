'use strict';
// Plain JS Map: the volatile upper limit. Nothing survives the process.
module.exports = {
  id: 'jsmap',
  name: `JS Map (node ${process.version})`,
  persistent: false,
  keyType: 'string',
  valueType: 'bytes',
  settings: {
    process: 'volatile: map.set(k, v), no durability at all (the upper limit)',
    get: 'map.get(k)',
  },
  create() {
    let m = null;
    return {
      open() { m = new Map(); },
      putEach(keys, values, from, to) {
        for (let i = from; i < to; i++) m.set(keys[i], values[i]);
      },
      getEach(keys, order, from, to) {
        let hits = 0;
        for (let j = from; j < to; j++) if (m.get(keys[order[j]]) !== undefined) hits++;
        return hits;
      },
      get(key) { return m.get(key); },
      close() { m = null; },
    };
  },
};
