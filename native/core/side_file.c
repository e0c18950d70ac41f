/* Side files: what a plugin writes beside the image (IMAGE.SUFFIX) for the
 * restart loader to read before it maps anything (pipes to make before the
 * tree forks, children to re-make). Each ends with the trailer
 * "end crc32c:xxxxxxxx\n" (CRC-32C of every byte before it), which the
 * loader verifies; SAVED reports each file so the manifest lists it.
 * A plugin may also seal a file of its own in the generation directory
 * (one written for all processes, by whichever got there first). */
#include "core.h"
#include "crc32c.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define MAX_SIDE_FILES 8
#define TRAILER_LEN 20   /* "end crc32c:" + 8 hex digits + "\n" */
struct side_file { char suffix[16]; int fd; uint64_t bytes; uint32_t crc; int done; };
static struct side_file files[MAX_SIDE_FILES];
static int nfiles;
/* " /NAME:BYTES:crc32c:xxxxxxxx" per sealed file: bounded, as SAVED is one line. */
static char sealed[12288];
static size_t sealed_len;

void side_files_reset(void) {
  for (int i = 0; i < nfiles; i++) if (!files[i].done && files[i].fd >= 0) close(files[i].fd);
  nfiles = 0;
  sealed_len = 0;
  sealed[0] = 0;
}

static int write_trailer(int fd, uint64_t at, uint32_t crc) {
  char trailer[32];
  int n = snprintf(trailer, sizeof trailer, "end crc32c:%08x\n", crc);
  for (int w = 0; w < n;) {
    ssize_t r = pwrite(fd, trailer + w, (size_t)(n - w), (off_t)(at + (uint64_t)w));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    w += (int)r;
  }
  return 0;
}

int stasis_side_seal(int fd, const char *name, uint64_t len, uint32_t crc) {
  char token[160];
  int n = snprintf(token, sizeof token, " /%s:%llu:crc32c:%08x", name, (unsigned long long)len + TRAILER_LEN, crc);
  if (n >= (int)sizeof token || sealed_len + (size_t)n >= sizeof sealed) {
    stasis_fail("side file %s: name too long, or too many files for one process", name);
    return -1;
  }
  if (ftruncate(fd, (off_t)len) < 0 || write_trailer(fd, len, crc) < 0 || fsync(fd) < 0) {
    stasis_fail("cannot write %s beside %s: %s", name, stasis_save_path, strerror(errno));
    return -1;
  }
  memcpy(sealed + sealed_len, token, (size_t)n + 1);
  sealed_len += (size_t)n;
  return 0;
}

int stasis_side_open(const char *suffix) {
  if (!stasis_save_path) { stasis_fail("%s: no image path", suffix); return -1; }
  if (nfiles >= MAX_SIDE_FILES || strlen(suffix) >= sizeof files[0].suffix) {
    stasis_fail("side file %s: too many, or name too long", suffix);
    return -1;
  }
  char path[4200];
  snprintf(path, sizeof path, "%s.%s", stasis_save_path, suffix);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) { stasis_fail("cannot write %s: %s", path, strerror(errno)); return -1; }
  struct side_file *f = &files[nfiles];
  *f = (struct side_file){ .fd = fd };
  snprintf(f->suffix, sizeof f->suffix, "%s", suffix);
  return nfiles++;
}

int stasis_side_write(int id, const void *buf, size_t n) {
  struct side_file *f = &files[id];
  f->crc = crc32c(f->crc, buf, n);
  f->bytes += n;
  for (const char *p = buf; n > 0;) {
    ssize_t w = write(f->fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) { stasis_fail("cannot write %s.%s: %s", stasis_save_path, f->suffix, strerror(errno)); return -1; }
    p += w; n -= (size_t)w;
  }
  return 0;
}

int stasis_side_close(int id) {
  struct side_file *f = &files[id];
  char trailer[32];
  int n = snprintf(trailer, sizeof trailer, "end crc32c:%08x\n", f->crc);
  uint32_t crc = f->crc;
  int rc = stasis_side_write(id, trailer, (size_t)n);
  f->crc = crc;   /* the checksum is of what precedes the trailer */
  if (rc == 0 && fsync(f->fd) < 0) {
    stasis_fail("cannot fsync %s.%s: %s", stasis_save_path, f->suffix, strerror(errno));
    rc = -1;
  }
  close(f->fd);
  f->fd = -1;
  f->done = rc == 0;
  return rc;
}

/* " SUFFIX:BYTES:crc32c:xxxxxxxx" per finished file, then the sealed ones,
 * for SAVED; -1 (after stasis_fail) when they do not fit in `cap`. */
int side_files_describe(char *out, size_t cap) {
  size_t used = 0;
  out[0] = 0;
  for (int i = 0; i < nfiles && used < cap; i++)
    if (files[i].done)
      used += (size_t)snprintf(out + used, cap - used, " %s:%llu:crc32c:%08x", files[i].suffix,
                               (unsigned long long)files[i].bytes, files[i].crc);
  if (used < cap) used += (size_t)snprintf(out + used, cap - used, "%s", sealed);
  if (used < cap) return 0;
  stasis_fail("too many side files to report in one SAVED line");
  return -1;
}
