"""Python multiprocessing with the default (fork) start method: a Pool of
3 workers maps a slow deterministic function in order (imap), the workers
add to a shared Value under its lock, and a separate Process feeds a Queue.
Semaphores and the Value live in unlinked /dev/shm files mapped shared;
tasks and results travel through pipes. The output is the same on every
run: "result I HASH" per item, then the queue's sum, the counter, "done",
on stdout or, when given, appended to the file OUT.
Usage: mp_pool.py [ITEMS [OUT]]"""
import hashlib
import multiprocessing as mp
import sys
import time

counter = None


def init(shared):
    global counter
    counter = shared


def work(i):
    time.sleep(0.04)
    with counter.get_lock():
        counter.value += i
    return i, hashlib.sha256(str(i).encode()).hexdigest()[:16]


def producer(queue, n):
    for i in range(n):
        queue.put(i * i)
        time.sleep(0.02)
    queue.put(None)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    out = open(sys.argv[2], 'a', buffering=1) if len(sys.argv) > 2 else sys.stdout
    shared = mp.Value('q', 0)
    queue = mp.Queue()
    feeder = mp.Process(target=producer, args=(queue, n))
    feeder.start()
    with mp.Pool(3, initializer=init, initargs=(shared,)) as pool:
        for i, digest in pool.imap(work, range(n), chunksize=1):
            print('result', i, digest, file=out, flush=True)
    total = 0
    while (x := queue.get()) is not None:
        total += x
    feeder.join()
    print('queue sum', total, 'exit', feeder.exitcode, file=out)
    print('counter', shared.value, file=out)
    print('done', file=out, flush=True)


if __name__ == '__main__':
    main()
