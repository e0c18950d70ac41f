#!/usr/bin/python3
"""mpi_exchange.c in Python with mpi4py: each step a ring exchange, an
allreduce and a storm of point-to-point messages between every pair of
ranks, folded into a checksum. argv[1]: steps (default 300), ~20 ms each.
Rank 0 prints "step N sum S" every 20 steps and "done S" at the end: a run
interrupted by checkpoints and restarts must print what an uninterrupted
one does."""
import hashlib
import sys
import time

from mpi4py import MPI

MAXLEN = 4096
MASK = (1 << 64) - 1


def mix(h, v):
    return ((h ^ v) * 0x100000001b3) & MASK


def payload(step, src, dst):
    n = 1 + (step * 131 + src * 17 + dst * 7) % MAXLEN
    return hashlib.shake_128(f"{step} {src} {dst}".encode()).digest(n)


def main():
    comm = MPI.COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    total = 0xcbf29ce484222325
    inbox = {p: bytearray(MAXLEN) for p in range(size) if p != rank}
    for step in range(steps):
        # Ring (pickled Python ints).
        got = comm.sendrecv(mix(total, rank), dest=(rank + 1) % size, source=(rank - 1) % size)
        total = mix(total, comm.allreduce(got, op=MPI.BXOR))
        # Storm: raw buffers of varying length to and from every other rank.
        reqs, sends = [], []
        for p in inbox:
            sends.append(payload(step, rank, p))
            reqs.append(MPI.COMM_WORLD.Isend([sends[-1], MPI.BYTE], dest=p, tag=2))
            reqs.append(MPI.COMM_WORLD.Irecv([inbox[p], MPI.BYTE], source=p, tag=2))
        MPI.Request.Waitall(reqs)
        h = hashlib.blake2b(digest_size=8)
        for p in sorted(inbox):
            n = 1 + (step * 131 + p * 17 + rank * 7) % MAXLEN
            if bytes(inbox[p][:n]) != payload(step, p, rank):
                print(f"BROKEN rank {rank} step {step}: message from {p} differs", flush=True)
            h.update(inbox[p][:n])
        local = int.from_bytes(h.digest(), "little")
        total = mix(total, comm.allreduce(local, op=MPI.BXOR))
        if rank == 0 and step % 20 == 0:
            print(f"step {step} sum {total:016x}", flush=True)
        time.sleep(0.02)
    if rank == 0:
        print(f"done {total:016x}", flush=True)


main()
