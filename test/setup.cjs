// Loaded before every spec: descriptors leaked into the test runner by
// whatever started it (not close-on-exec, above stdio) are closed, so the
// programs the tests checkpoint inherit only stdio — as in a batch job.
'use strict';
const fs = require('node:fs');

const O_CLOEXEC = 0o2000000;
for (const name of fs.readdirSync('/proc/self/fd')) {
  const fd = Number(name);
  if (fd <= 2) continue;
  try {
    const info = fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
    const flags = parseInt((/^flags:\s+([0-7]+)/m.exec(info) || [])[1] || '0', 8);
    if (!(flags & O_CLOEXEC)) {
      fs.closeSync(fd);
      process.stderr.write(`test setup: closed descriptor ${fd} inherited from the environment\n`);
    }
  } catch { /* closed meanwhile (the readdir handle itself) */ }
}
