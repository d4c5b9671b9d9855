'use strict';
// better-sqlite3 peer. WAL journal; synchronous=NORMAL for process durability
// (WAL+NORMAL loses nothing on a process kill, may lose the last commits on power
// loss), synchronous=FULL for power durability (fsync of the WAL at every commit).
const path = require('node:path');
const Database = require('better-sqlite3');
const version = require('../lib/pkgver')('better-sqlite3');

function sqliteVersion() {
  const db = new Database(':memory:');
  try { return db.prepare('select sqlite_version()').pluck().get(); } finally { db.close(); }
}
const SQLITE = sqliteVersion();

module.exports = {
  id: 'sqlite',
  name: `better-sqlite3 ${version} (SQLite ${SQLITE})`,
  persistent: true,
  keyType: 'string',
  valueType: 'bytes',
  settings: {
    process: 'journal_mode=WAL, synchronous=NORMAL, table kv(k TEXT PRIMARY KEY, v BLOB) WITHOUT ROWID, other pragmas default (wal_autocheckpoint=1000, cache_size=-2000); one prepared INSERT OR REPLACE per put, own implicit transaction',
    bulk: 'same db; BEGIN; all INSERT OR REPLACE; COMMIT',
    power: 'journal_mode=WAL, synchronous=FULL; one INSERT OR REPLACE per put in its own implicit transaction (WAL fsync per commit)',
    group: 'power settings; BEGIN / 100 x INSERT OR REPLACE / COMMIT',
    get: 'prepared SELECT v FROM kv WHERE k=? with .pluck().get()',
  },
  create() {
    let db = null, ins = null, sel = null, begin = null, commit = null;
    return {
      open(dir, { durability }) {
        db = new Database(path.join(dir, 'kv.sqlite'));
        db.pragma('journal_mode = WAL');
        db.pragma(durability === 'power' ? 'synchronous = FULL' : 'synchronous = NORMAL');
        db.exec('CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID');
        ins = db.prepare('INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)');
        sel = db.prepare('SELECT v FROM kv WHERE k = ?').pluck();
        begin = db.prepare('BEGIN');
        commit = db.prepare('COMMIT');
      },
      putEach(keys, values, from, to) {
        for (let i = from; i < to; i++) ins.run(keys[i], values[i]);
      },
      putGroups(keys, values, from, to, groupSize) {
        for (let g = from; g < to; g += groupSize) {
          const end = Math.min(to, g + groupSize);
          begin.run();
          for (let i = g; i < end; i++) ins.run(keys[i], values[i]);
          commit.run();
        }
      },
      putAll(keys, values, from, to) {
        begin.run();
        for (let i = from; i < to; i++) ins.run(keys[i], values[i]);
        commit.run();
      },
      getEach(keys, order, from, to) {
        let hits = 0;
        for (let j = from; j < to; j++) if (sel.get(keys[order[j]]) !== undefined) hits++;
        return hits;
      },
      get(key) { return sel.get(key); },
      close() { db.close(); db = null; },
    };
  },
};
