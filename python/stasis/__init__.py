"""Python binding of the stasis plugin API (docs/plugin-api.md).

Pure Python over the C library: under stasis, libstasis.so is preloaded and
its functions are found in the process (ctypes.CDLL(None)); without stasis
they are absent and every call answers ERR_NOT_ENABLED without raising.

    import stasis
    if stasis.checkpoint() == stasis.RESTARTED: reconnect()
    with stasis.delayed():          # no checkpoint in here
        move_money()
    @stasis.on_restart
    def reconnect(): ...

Callbacks run on stasis's checkpoint thread while the program's threads
run: on_checkpoint before the checkpoint (an exception refuses it),
on_resume after it in the same process, on_restart in a process restored
from it. Never while threads are stopped: the binding asks the C library
for those three events only.
"""
import contextlib
import ctypes
import sys
import traceback

__all__ = ["API_VERSION", "CHECKPOINTED", "RESTARTED", "ERR_NOT_ENABLED", "ERR_FAILED", "ERR_CONTEXT",
           "ERR_INVALID", "ERR_NO_SPACE", "ERR_NOT_FOUND", "ERR_EXPIRED", "api_version", "is_enabled",
           "checkpoint", "delayed", "strerror", "on_checkpoint", "on_resume", "on_restart"]

API_VERSION = 1   # of stasis.h this binding follows
OK = CHECKPOINTED = 0
RESTARTED = 1
ERR_NOT_ENABLED, ERR_FAILED, ERR_CONTEXT, ERR_INVALID, ERR_NO_SPACE, ERR_NOT_FOUND, ERR_EXPIRED = range(-1, -8, -1)

_EVENT_PRECHECKPOINT, _EVENT_POSTCHECKPOINT, _EVENT_RESTARTED = 7, 8, 5

_MESSAGES = {OK: "success", RESTARTED: "restarted from a checkpoint", ERR_NOT_ENABLED: "not running under stasis",
             ERR_FAILED: "checkpoint failed", ERR_CONTEXT: "not allowed in this context",
             ERR_INVALID: "invalid argument", ERR_NO_SPACE: "limit reached", ERR_NOT_FOUND: "not found",
             ERR_EXPIRED: "a checkpoint gave up waiting for the delayed section"}


def _find(name, restype, argtypes):
    try:
        fn = getattr(ctypes.CDLL(None), name)
    except (AttributeError, OSError):
        return None
    fn.restype, fn.argtypes = restype, argtypes
    return fn


_version = _find("stasis_api_version", ctypes.c_int, [])
_enabled = _find("stasis_is_enabled", ctypes.c_int, [])
_checkpoint = _find("stasis_checkpoint", ctypes.c_int, [])
_delay_begin = _find("stasis_delay_begin", ctypes.c_int, [])
_delay_end = _find("stasis_delay_end", ctypes.c_int, [])
_fail = _find("stasis_fail", None, [ctypes.c_char_p])


def api_version():
    """The API version of the libstasis running this process, 0 without stasis."""
    return _version() if _version else 0


def is_enabled():
    """True when the process runs under stasis with a coordinator."""
    return bool(_enabled and _enabled())


def strerror(code):
    return _MESSAGES.get(code, "unknown stasis return code")


def checkpoint():
    """Checkpoint the whole job and wait until it is committed: CHECKPOINTED
    (0) in the same process, RESTARTED (1) in a process restored from it,
    or a negative ERR_* code (ERR_NOT_ENABLED without stasis)."""
    return _checkpoint() if _checkpoint else ERR_NOT_ENABLED


class _Section:
    began = None    # stasis_delay_begin()'s code (OK, ERR_NOT_ENABLED)
    result = None   # stasis_delay_end()'s code once the block is left (ERR_EXPIRED: a checkpoint gave up)


@contextlib.contextmanager
def delayed():
    """No checkpoint inside the block: one requested meanwhile waits until it
    ends (at most STASIS_DELAY_TIMEOUT seconds, then it fails and
    section.result is ERR_EXPIRED)."""
    section = _Section()
    began = section.began = _delay_begin() if _delay_begin else ERR_NOT_ENABLED
    try:
        yield section
    finally:
        section.result = (_delay_end() if _delay_end else ERR_NOT_ENABLED) if began == OK else began


_callbacks = {_EVENT_PRECHECKPOINT: [], _EVENT_POSTCHECKPOINT: [], _EVENT_RESTARTED: []}
_EVENT_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int)


class _Plugin(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("event", _EVENT_FN)]


def _on_event(event):
    for fn in list(_callbacks.get(event, ())):
        try:
            fn()
        except Exception as e:   # noqa: BLE001 - a callback must not kill the checkpoint thread
            traceback.print_exc(file=sys.stderr)
            if event == _EVENT_PRECHECKPOINT and _fail:
                _fail(("python %s: %s" % (getattr(fn, "__name__", "callback"), e)).replace("%", "%%").encode())
                return -1
    return 0


_plugin = None


def _register():
    global _plugin
    if _plugin is not None:
        return
    register = _find("stasis_register_plugin_for", ctypes.c_int, [ctypes.POINTER(_Plugin), ctypes.c_uint])
    _plugin = _Plugin(b"python", _EVENT_FN(_on_event))   # kept alive: the C library holds its address
    if register:
        mask = sum(1 << e for e in _callbacks)
        register(ctypes.byref(_plugin), mask)


def _adder(event):
    def add(fn):
        _register()
        _callbacks[event].append(fn)
        return fn
    return add


on_checkpoint = _adder(_EVENT_PRECHECKPOINT)
on_checkpoint.__doc__ = "Decorator: fn() runs before each checkpoint (an exception refuses it)."
on_resume = _adder(_EVENT_POSTCHECKPOINT)
on_resume.__doc__ = "Decorator: fn() runs after each checkpoint, in the same process."
on_restart = _adder(_EVENT_RESTARTED)
on_restart.__doc__ = "Decorator: fn() runs in a process restored from a checkpoint."
