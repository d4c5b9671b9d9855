'use strict';
// Version of an installed dependency, even when its package.json is not in "exports".
const fs = require('node:fs');
const path = require('node:path');

module.exports = function pkgVersion(name) {
  let dir = path.dirname(require.resolve(name));
  for (;;) {
    const p = path.join(dir, 'package.json');
    if (fs.existsSync(p)) {
      const j = JSON.parse(fs.readFileSync(p, 'utf8'));
      if (j.name === name) return j.version;
    }
    const up = path.dirname(dir);
    if (up === dir) return '?';
    dir = up;
  }
};
