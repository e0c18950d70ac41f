/* stasis_strerror(): in libstasis and in libstasis-client alike. */
#include <stasis.h>

__attribute__((visibility("default"))) const char *stasis_strerror(int code) {
  switch (code) {
  case STASIS_OK: return "success";
  case STASIS_RESTARTED: return "restarted from a checkpoint";
  case STASIS_ERR_NOT_ENABLED: return "not running under stasis";
  case STASIS_ERR_FAILED: return "checkpoint failed";
  case STASIS_ERR_CONTEXT: return "not allowed in this context";
  case STASIS_ERR_INVALID: return "invalid argument";
  case STASIS_ERR_NO_SPACE: return "limit reached";
  case STASIS_ERR_NOT_FOUND: return "not found";
  case STASIS_ERR_EXPIRED: return "a checkpoint gave up waiting for the delayed section";
  default: return "unknown stasis return code";
  }
}
