# A database written in a transaction loop: 20 rows per transaction; after
# each it checks that the table holds exactly the rows it wrote (its view
# and the file agree) and prints "rows N", or "BROKEN ..." and exits.
import sqlite3
import sys
import time

db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute('CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT)')
n = db.execute('SELECT COUNT(*) FROM t').fetchone()[0]
while True:
    db.execute('BEGIN')
    for _ in range(20):
        db.execute('INSERT INTO t (v) VALUES (?)', ('x' * 200,))
    db.execute('COMMIT')
    n += 20
    count, top = db.execute('SELECT COUNT(*), MAX(id) FROM t').fetchone()
    if count != n or top != n:
        print('BROKEN rows', count, 'max id', top, 'expected', n, flush=True)
        sys.exit(1)
    print('rows', n, flush=True)
    time.sleep(0.02)
