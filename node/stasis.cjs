'use strict';
// Node binding of the stasis plugin API (docs/plugin-api.md): the same
// verbs as the Python one. Over native/build/stasis.node, which finds
// libstasis in the process at load time; without stasis (or without the
// addon) every call answers ERR_NOT_ENABLED and nothing throws.
//
//   const stasis = require('…/node/stasis.cjs');
//   if (await stasis.checkpoint() === stasis.RESTARTED) reconnect();
//   stasis.delayed(() => moveMoney());
//   stasis.onRestart(() => reconnect());
const { join } = require('node:path');

let addon = null;
try { addon = require(join(__dirname, '..', 'native', 'build', 'stasis.node')); } catch { /* not built: not enabled */ }

const codes = {
  OK: 0, CHECKPOINTED: 0, RESTARTED: 1, ERR_NOT_ENABLED: -1, ERR_FAILED: -2, ERR_CONTEXT: -3,
  ERR_INVALID: -4, ERR_NO_SPACE: -5, ERR_NOT_FOUND: -6, ERR_EXPIRED: -7,
};
const messages = {
  0: 'success', 1: 'restarted from a checkpoint', [-1]: 'not running under stasis', [-2]: 'checkpoint failed',
  [-3]: 'not allowed in this context', [-4]: 'invalid argument', [-5]: 'limit reached', [-6]: 'not found',
  [-7]: 'a checkpoint gave up waiting for the delayed section',
};
const EVENT = { PRECHECKPOINT: 7, POSTCHECKPOINT: 8, RESTARTED: 5 };
const callbacks = { [EVENT.PRECHECKPOINT]: [], [EVENT.POSTCHECKPOINT]: [], [EVENT.RESTARTED]: [] };
let registered = false;

/** Runs on the main thread for each event; a throw in onCheckpoint refuses the checkpoint. */
function dispatch(event) {
  for (const fn of [...(callbacks[event] ?? [])]) {
    try { fn(); } catch (e) {
      if (event === EVENT.PRECHECKPOINT) throw e;
      process.stderr.write(`stasis: callback failed: ${e && e.stack ? e.stack : e}\n`);
    }
  }
}

function adder(event) {
  return (fn) => {
    if (!registered && addon) { addon.onEvents(dispatch); registered = true; }
    callbacks[event].push(fn);
    return fn;
  };
}

module.exports = {
  ...codes,
  API_VERSION: 1,
  /** The API version of the libstasis running this process, 0 without stasis. */
  apiVersion: () => (addon ? addon.apiVersion() : 0),
  /** True when the process runs under stasis with a coordinator. */
  isEnabled: () => Boolean(addon && addon.isEnabled()),
  strerror: (code) => messages[code] ?? 'unknown stasis return code',
  /** Checkpoint the whole job: a Promise of CHECKPOINTED (0), RESTARTED (1) or an ERR_* code. */
  checkpoint: () => (addon ? addon.checkpoint() : Promise.resolve(codes.ERR_NOT_ENABLED)),
  /** The same, blocking the main thread (no callback can run meanwhile). */
  checkpointSync: () => (addon ? addon.checkpointSync() : codes.ERR_NOT_ENABLED),
  /**
   * fn(section) with no checkpoint inside it (synchronous code only);
   * returns section = { value, began, result }: began and result are
   * stasis_delay_begin() and _end()'s codes (ERR_EXPIRED: a checkpoint gave up).
   */
  delayed(fn) {
    const began = addon ? addon.delayBegin() : codes.ERR_NOT_ENABLED;
    const section = { value: undefined, began, result: began };
    try { section.value = fn(section); } finally {
      if (began === codes.OK) section.result = addon.delayEnd();
    }
    return section;
  },
  /** fn() runs before each checkpoint, on the main thread; a throw refuses it. */
  onCheckpoint: adder(EVENT.PRECHECKPOINT),
  /** fn() runs after each checkpoint, in the same process. */
  onResume: adder(EVENT.POSTCHECKPOINT),
  /** fn() runs in a process restored from a checkpoint. */
  onRestart: adder(EVENT.RESTARTED),
};
