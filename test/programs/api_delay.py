"""api_delay.c in Python (python/stasis), with the same output: a worker
thread runs sections in a loop (counter += 1, sleep, counter += 1 inside
stasis.delayed()); on_checkpoint notes the counter, on_resume prints
"saved counter C, N ms after section K ended", on_restart prints
"restored counter C". Usage: api_delay.py SECTION_MS [SECTIONS]"""
import sys
import threading
import time

import stasis

section_s = (int(sys.argv[1]) if len(sys.argv) > 1 else 1000) / 1000
sections = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
state = {"counter": 0, "ended": 0, "last_end": 0.0, "pre": 0.0, "saved": 0, "saved_sections": 0}


def wall_ms():
    return int(time.time() * 1000)


@stasis.on_checkpoint
def before():
    # No section is open and none can begin until the checkpoint is over.
    state.update(pre=time.monotonic(), saved=state["counter"], saved_sections=state["ended"])


@stasis.on_resume
def after():
    print("saved counter %d, %d ms after section %d ended" % (
        state["saved"], round((state["pre"] - state["last_end"]) * 1000), state["saved_sections"] - 1), flush=True)


@stasis.on_restart
def restored():
    print("restored counter %d" % state["counter"], flush=True)


def worker():
    for k in range(sections):
        with stasis.delayed() as section:
            state["counter"] += 1
            print("inside %d begin %d at %d" % (k, section.began, wall_ms()), flush=True)
            time.sleep(section_s)
            state["counter"] += 1
            state["last_end"] = time.monotonic()
            at = wall_ms()
            state["ended"] += 1
        print("ended %d rc %d at %d" % (k, section.result, at), flush=True)
        time.sleep(0.02)


print("register 0", flush=True)
t = threading.Thread(target=worker)
t.start()
t.join()
print("done %d" % state["counter"], flush=True)
