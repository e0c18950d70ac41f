/* libstasis-client.so: what programs and plugins link (-lstasis-client) so
 * that they run with or without stasis. Every function of stasis.h is here
 * as a stub that answers "not running under stasis". Under stasis,
 * libstasis.so is preloaded: it comes first in the lookup order and its
 * definitions replace these, with no run-time lookup and no wrapper in
 * between (see docs/plugin-api.md for why a library rather than a
 * dlsym shim). stasis_strerror() is in strerror.c, shared with libstasis. */
#include <stasis.h>
#include <stdio.h>

#define STUB __attribute__((visibility("default")))

STUB int stasis_api_version(void) { return 0; }
STUB int stasis_is_enabled(void) { return 0; }
STUB int stasis_checkpoint_generation(void) { return 0; }
STUB int stasis_checkpoint(void) { return STASIS_ERR_NOT_ENABLED; }
STUB int stasis_delay_begin(void) { return STASIS_ERR_NOT_ENABLED; }
STUB int stasis_delay_end(void) { return STASIS_ERR_NOT_ENABLED; }
STUB long stasis_delay_timeout_ms(void) { return STASIS_ERR_NOT_ENABLED; }
STUB int stasis_register_plugin(const struct stasis_plugin *p) { (void)p; return STASIS_ERR_NOT_ENABLED; }
STUB int stasis_register_plugin_for(const struct stasis_plugin *p, unsigned int events) {
  (void)p, (void)events;
  return STASIS_ERR_NOT_ENABLED;
}
STUB int stasis_register_fd_kind(const struct stasis_fd_kind *k) { (void)k; return STASIS_ERR_NOT_ENABLED; }
STUB int stasis_register_memory_claim(stasis_memory_claim_fn f) { (void)f; return STASIS_ERR_NOT_ENABLED; }
STUB int stasis_data_save(const char *name, const void *data, size_t len) {
  (void)name, (void)data, (void)len;
  return STASIS_ERR_NOT_ENABLED;
}
STUB long stasis_data_load(const char *name, void *buf, size_t cap) {
  (void)name, (void)buf, (void)cap;
  return STASIS_ERR_NOT_ENABLED;
}
STUB long stasis_vid_new(const char *t, long real) { (void)t, (void)real; return STASIS_ERR_NOT_ENABLED; }
STUB long stasis_vid_real(const char *t, long vid) { (void)t, (void)vid; return STASIS_ERR_NOT_ENABLED; }
STUB long stasis_vid_virtual(const char *t, long real) { (void)t, (void)real; return STASIS_ERR_NOT_ENABLED; }
STUB int stasis_vid_set(const char *t, long vid, long real) { (void)t, (void)vid, (void)real; return STASIS_ERR_NOT_ENABLED; }
STUB int stasis_vid_drop(const char *t, long vid) { (void)t, (void)vid; return STASIS_ERR_NOT_ENABLED; }
STUB const char *stasis_restore_path(const char *saved, char *buf, unsigned long cap) {
  snprintf(buf, cap, "%s", saved);
  return buf;
}
STUB void stasis_fail(const char *fmt, ...) { (void)fmt; }
