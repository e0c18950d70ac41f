"""The Python binding (python/stasis): what api_ckpt does, in Python. Prints
the API it runs with, "ready", waits for a line on stdin, runs an empty
delayed section ("delayed R") and one that asks for a checkpoint
("inside R": not allowed there), asks for a checkpoint ("returned N TEXT"),
then, after the callbacks had time to run, "events LIST" (on_checkpoint,
on_resume, on_restart, in the order they ran) and ticks; exits 0. With
STASIS_TEST_REFUSE set, on_checkpoint raises: the checkpoint is refused."""
import os
import sys
import time

import stasis

events = []


@stasis.on_checkpoint
def before():
    events.append("checkpoint")
    if os.environ.get("STASIS_TEST_REFUSE"):
        raise RuntimeError("refused by the test")


@stasis.on_resume
def after():
    events.append("resume")


@stasis.on_restart
def restored():
    events.append("restart")


print("api", stasis.api_version(), "enabled", int(stasis.is_enabled()), flush=True)
print("ready", flush=True)
sys.stdin.readline()
with stasis.delayed() as section:
    pass
print("delayed", section.result, flush=True)
with stasis.delayed():
    print("inside", stasis.checkpoint(), flush=True)
rc = stasis.checkpoint()
print("returned", rc, stasis.strerror(rc), flush=True)
time.sleep(0.5)   # on_resume and on_restart run beside this thread
print("events", ",".join(events) or "-", flush=True)
for i in range(int(sys.argv[1]) if len(sys.argv) > 1 else 3):
    print("tick", i, flush=True)
    time.sleep(0.1)
print("done", flush=True)
