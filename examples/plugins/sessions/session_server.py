#!/usr/bin/env python3
"""A toy service that numbers what clients open, as a resource manager or a
database numbers sessions: the numbers start at BASE, so a restarted server
(another BASE) gives other numbers for the same names and knows nothing of
the old ones. One request per connection, one line each way:
  OPEN name  ->  ID n          NAME n  ->  NAME name  (or ERR unknown n)
Usage: session_server.py SOCKET_PATH BASE"""
import os
import socketserver
import sys

path, base = sys.argv[1], int(sys.argv[2])
names = {}


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        verb, _, arg = self.rfile.readline().decode().strip().partition(" ")
        if verb == "OPEN":
            n = base + len(names)
            names[n] = arg
            reply = f"ID {n}"
        elif verb == "NAME" and arg.isdigit() and int(arg) in names:
            reply = f"NAME {names[int(arg)]}"
        else:
            reply = f"ERR unknown {arg}"
        self.wfile.write((reply + "\n").encode())


if os.path.exists(path):
    os.unlink(path)
with socketserver.UnixStreamServer(path, Handler) as server:
    print("listening", flush=True)
    server.serve_forever()
