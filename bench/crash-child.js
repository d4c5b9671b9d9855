'use strict';
// Child for workload (d), recovery after kill -9:
//   node crash-child.js <storeId> <dir> <n>
// Opens the store with process durability, loads n entries in commits of 10 000,
// writes "ready\n" to stdout,
// then keeps overwriting existing keys one atomic put at a time until the parent
// SIGKILLs it, so the kill lands in the middle of a stream of commits.
const fs = require('node:fs');
const { loadStore } = require('./stores');
const { makeData } = require('./lib/data');

async function main() {
  const [id, dir, nStr] = process.argv.slice(2);
  const n = Number(nStr);
  const mod = loadStore(id);
  const data = makeData(n);
  const keys = mod.keyType === 'bytes' ? data.keyBufs : data.keys;
  const values = mod.valueType === 'string' ? data.valueStrs : data.values;
  const s = mod.create();
  await s.open(dir, { durability: 'process' });
  // Load in commits of 10 000 (not one giant transaction, which would leave
  // LevelDB a whole-data-set log record to replay and say little about recovery).
  if (s.putGroups) await s.putGroups(keys, values, 0, n, 10000);
  else if (s.putAll) await s.putAll(keys, values, 0, n);
  else await s.putEach(keys, values, 0, n);
  // Overwrite key i with value (i+1) % n: the parent accepts either value.
  const shifted = values.slice(1).concat(values.slice(0, 1));
  fs.writeSync(1, 'ready\n');
  for (let i = 0; ; i = (i + 100) % n) {
    await s.putEach(keys, shifted, i, Math.min(n, i + 100));
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
