"""Python's own HTTP server (http.server.ThreadingHTTPServer, a thread
per request) and an urllib client in one process: the client asks for
/reqN ten times a second on a new connection each time and checks the
answer. Prints "tick N"; "retry N ..." when a request failed and was made
again; "BROKEN ..." on a wrong answer."""
import http.server
import threading
import time
import urllib.request


class Echo(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = self.path.encode()
        self.send_response(200)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Echo)
port = server.server_address[1]
threading.Thread(target=server.serve_forever, daemon=True).start()
n = 0
while True:
    n += 1
    got = None
    for attempt in range(5):
        try:
            got = urllib.request.urlopen(f'http://127.0.0.1:{port}/req{n}', timeout=5).read().decode()
            break
        except OSError as e:
            print('retry', n, e, flush=True)
            time.sleep(0.2)
    if got != f'/req{n}':
        print('BROKEN', n, got, flush=True)
    print('tick', n, flush=True)
    time.sleep(0.1)
