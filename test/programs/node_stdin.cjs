'use strict';
// Node reading its stdin through libuv (fd 0 in the event loop's epoll set):
// prints "stdin N bytes" per chunk, "stdin end" at EOF, and "tick N cpu MS"
// every 100 ms (MS: the process's CPU time so far, to see a busy loop).
let n = 0;
process.stdin.on('data', (d) => console.log(`stdin ${d.length} bytes`));
process.stdin.on('end', () => console.log('stdin end'));
setInterval(() => {
  const { user, system } = process.cpuUsage();
  console.log(`tick ${n++} cpu ${Math.round((user + system) / 1000)}`);
}, 100);
