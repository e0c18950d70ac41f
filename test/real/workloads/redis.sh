#!/bin/bash
# redis-server and its own client, redis-cli, in one job (on 127.0.0.1 PORT):
# one redis-cli fed by a slow loop on one connection for most of the run,
# then a redis-cli per command; every reply is printed, so the output is
# the same each run.
set -eu
port=$1
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no --loglevel warning --logfile '' >/dev/null 2>&1 &
server=$!
until redis-cli -p "$port" ping >/dev/null 2>&1; do
  kill -0 "$server" 2>/dev/null || { echo "redis-server did not start (port $port taken?)" >&2; exit 1; }
  sleep 0.1
done
for i in $(seq 1 300); do echo "INCR counter"; echo "RPUSH list item$i"; sleep 0.03; done | redis-cli -p "$port"
for i in $(seq 1 60); do redis-cli -p "$port" SET "key$i" "value$i"; redis-cli -p "$port" GET "key$i"; done
redis-cli -p "$port" LRANGE list 0 -1 | md5sum
redis-cli -p "$port" GET counter
redis-cli -p "$port" SHUTDOWN NOSAVE || true
wait "$server" || true
echo done
