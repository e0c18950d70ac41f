# A listener without SO_REUSEADDR (as UCX's in MPICH ranks), a client
# connected to it in the same process, a line each way every 100 ms.
# Prints "port N" once, then "tick N"; "BROKEN ..." if an echo is wrong.
# With "churn": first one connection that the listener's side closes first,
# as MPI's simultaneous connects do, leaving the port in TIME_WAIT.
import socket, sys, time
l = socket.socket()
l.bind(('127.0.0.1', 0))
l.listen(4)
port = l.getsockname()[1]
print('port', port, flush=True)
if sys.argv[1:] == ['churn']:
    once = socket.create_connection(('127.0.0.1', port))
    first, _ = l.accept()
    first.close()          # the active close: TIME_WAIT on the listener's port
    once.recv(1)
    once.close()
c = socket.create_connection(('127.0.0.1', port))
s, _ = l.accept()
tick = 0
while True:
    tick += 1
    c.sendall(b'%d\n' % tick)
    got = s.recv(64)
    s.sendall(got)
    back = c.recv(64)
    if back != b'%d\n' % tick:
        print('BROKEN echo', back, flush=True)
    print('tick', tick, flush=True)
    time.sleep(0.1)
