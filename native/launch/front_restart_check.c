/* What the fast restart checks of a generation before it starts anything,
 * as src/images/restorable.ts and manifest-check.ts do: each manifest entry
 * read as parseManifest reads it, each image's record headers against the
 * manifest's size and checksum, every byte as the loader checks it
 * (restart/verify.c), each side file's checksum. Anything else goes to Node, which
 * says why and tries an older generation. */
#include "front.h"
#include "front_restart.h"
#include "../core/crc32c.h"
#include "../core/image_format.h"
#include "../restart/image.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE 4096
#define REFS_MAX 64   /* the loader's REF_FILES_MAX (native/restart/image.h) */

int is_whole(const struct json *v) { return v && v->type == J_NUM && v->num >= 0 && v->num == (double)(long long)v->num && v->num <= 9007199254740991.0; }
int is_str(const struct json *v) { return v && v->type == J_STR; }

static int checksum_like(const struct json *v) {
  if (!is_str(v) || strlen(v->str) != 15 || strncmp(v->str, "crc32c:", 7)) return 0;
  for (const char *c = v->str + 7; *c; c++) if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f'))) return 0;
  return 1;
}

static int name_like(const char *s) {
  return *s && !strchr(s, '/') && strcmp(s, ".") && strcmp(s, "..");
}

/* A side file's name as parseManifest takes it: IMAGE.something, or [A-Za-z0-9_-][A-Za-z0-9_.-]*. */
static int side_name_like(const char *s, const char *image) {
  size_t il = strlen(image);
  if (!strncmp(s, image, il) && s[il] == '.') return 1;
  for (const char *c = s; *c; c++)
    if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_' || *c == '-' || (*c == '.' && c > s)))
      return 0;
  return 1;
}

/* files / refs of the process: absent, or [{name, bytes, checksum}] with names of their kind. */
static int files_ok(const struct json *list, const char *image, int refs) {
  if (!list) return 1;
  if (list->type != J_ARR) return 0;
  size_t il = strlen(image);
  for (size_t i = 0; i < list->n; i++) {
    const struct json *f = list->items[i], *name = json_get(f, "name");
    if (!f || f->type != J_OBJ || !is_str(name) || !name_like(name->str) || !strcmp(name->str, "manifest.json")
        || (!refs && !side_name_like(name->str, image))
        || !is_whole(json_get(f, "bytes")) || !checksum_like(json_get(f, "checksum")))
      return 0;
    if (refs && (strncmp(name->str, image, il) || strlen(name->str) != il + 8 || name->str[il] != '.' || name->str[il + 1] != 'g'
                 || parse_whole(name->str + il + 2, 999999) < 0))
      return 0;
  }
  return 1;
}

static int this_host(const char *host) {
  struct utsname u;
  if (uname(&u) < 0) return 0;
  size_t hs = strcspn(u.nodename, "."), gs = strcspn(host, ".");
  return !strcmp(host, "localhost") || (hs == gs && !strncmp(host, u.nodename, hs));
}

/* Record headers walked as manifest-check.ts does: the image checksum over
 * them, the END record's end; 0 when it matches size and checksum. (A
 * referenced image's: the process's own image is walked by the loader's code.) */
static int headers_match(const char *path, long long bytes, const char *checksum) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) < 0 || st.st_size != bytes) { if (fd >= 0) close(fd); return -1; }
  uint32_t sum = 0, legacy = 0;
  long long end = -1;
  for (long long off = 0; off + (long long)sizeof(struct rec_header) <= st.st_size;) {
    struct rec_header h;
    if (pread(fd, &h, sizeof h, off) != (ssize_t)sizeof h || h.magic != REC_MAGIC || crc32c(0, &h, 36) != h.header_crc) break;
    sum = crc32c(sum, &h, 36);
    legacy = crc32c(legacy, &h, sizeof h);
    long long at = off + (long long)sizeof h;
    if (h.flags & RECF_ALIGNED) at = (at + PAGE - 1) / PAGE * PAGE;
    if (h.stored_len > (uint64_t)st.st_size) break;
    off = at + (long long)h.stored_len;
    if (h.type == REC_END) { end = off; break; }
  }
  close(fd);
  char a[16], b[16];
  snprintf(a, sizeof a, "%08x", sum);
  snprintf(b, sizeof b, "%08x", legacy);
  return end == st.st_size && (!strcmp(checksum + 7, a) || !strcmp(checksum + 7, b)) ? 0 : -1;
}

/* A side file as verifySideFile reads it: size, crc32c of all before its trailer, the trailer. */
static int side_file_ok(const char *path, long long bytes, const char *checksum) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) < 0 || st.st_size != bytes || bytes < 20) { if (fd >= 0) close(fd); return -1; }
  static char buf[1 << 20];
  uint32_t crc = 0;
  long long body = bytes - 20, at = 0;
  while (at < body) {
    ssize_t r = pread(fd, buf, (size_t)(body - at < (long long)sizeof buf ? body - at : (long long)sizeof buf), at);
    if (r <= 0) { close(fd); return -1; }
    crc = crc32c(crc, buf, (size_t)r);
    at += r;
  }
  char trailer[21] = { 0 }, want[32];
  ssize_t r = pread(fd, trailer, 20, body);
  close(fd);
  snprintf(want, sizeof want, "end crc32c:%08x\n", crc);
  return r == 20 && !strcmp(trailer, want) && strlen(checksum) == 15 && !strncmp(want + 4, checksum, 15) ? 0 : -1;
}

/* fileIdentity: device, inode, size, modification and change times in ns. */
static int identity(const char *path, char *out, size_t cap) {
  struct stat st;
  if (stat(path, &st) < 0) return -1;
  snprintf(out, cap, "%llu:%llu:%lld:%lld%09ld:%lld%09ld", (unsigned long long)st.st_dev, (unsigned long long)st.st_ino,
           (long long)st.st_size, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec, (long long)st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
  return 0;
}

/* The checksum a manifest entry gives, as "crc32c:%08x", is one of the image's. */
static int checksum_is(const char *checksum, const struct image *img) {
  char a[16], b[16];
  snprintf(a, sizeof a, "%08x", img->headers_crc);
  snprintf(b, sizeof b, "%08x", img->headers_crc_legacy);
  return !strcmp(checksum + 7, a) || !strcmp(checksum + 7, b);
}

static void image_done(struct image *img) {
  if (img->base && img->base != MAP_FAILED) image_close(img);
  else if (img->fd >= 0) close(img->fd);
  free(img->regions);
  free(img->pages);
}

static long long optional_int(const struct json *p, const char *key, int *has) {
  const struct json *v = json_get(p, key);
  if (has) *has = v && v->type != J_NULL;
  if (!v || v->type == J_NULL) return 0;
  if (v->type != J_NUM || v->num != (double)(long long)v->num) to_node("a process entry the fast path does not read");
  return (long long)v->num;
}

/* One entry of the manifest, as parseManifest takes it and of this host; else Node's. */
void read_proc(const struct json *p, struct proc *out, const char *gen_dir) {
  const struct json *image = json_get(p, "image"), *host = json_get(p, "host"), *origin = json_get(p, "origin"),
                    *pid = json_get(p, "pid"), *bytes = json_get(p, "bytes"), *sum = json_get(p, "checksum");
  if (!p || p->type != J_OBJ || !is_str(image) || !name_like(image->str) || !pid || pid->type != J_NUM || pid->num != (double)(long long)pid->num
      || !is_whole(bytes) || !checksum_like(sum) || !files_ok(json_get(p, "files"), image->str, 0) || !files_ok(json_get(p, "refs"), image->str, 1)
      || (origin && !(is_str(origin) && *origin->str)))
    to_node("a process entry the fast path does not read (Node says why)");
  if (!is_str(host) || !this_host(host->str)) to_node("a process of another host");
  out->entry = p;
  out->image = image->str;
  out->origin = origin ? origin->str : host->str;
  out->pid = (long long)pid->num;
  out->ppid = optional_int(p, "ppid", &out->has_ppid);
  out->pgid = optional_int(p, "pgid", NULL);
  out->sid = optional_int(p, "sid", NULL);
  if (!(out->path = join_path(gen_dir, image->str))) to_node("a path too long");
}

/* checkAgainstManifest, the loader's verification, the side files
 * (restorable.ts); appends the identities of the image files verified. */
void verify_proc(const struct proc *p, char *verified, size_t cap, size_t *vlen) {
  const struct json *refs = json_get(p->entry, "refs"), *files = json_get(p->entry, "files");
  const char *gen_dir_end = strrchr(p->path, '/');
  char gen_dir[PATH_MAX];
  snprintf(gen_dir, sizeof gen_dir, "%.*s", (int)(gen_dir_end - p->path), p->path);
  /* The loader's own code (restart/verify.c, linked in: `stasis-restart
   * --verify IMAGE` in a child cost a fork and two execs more), its messages
   * left to Node: its walk of the records gives the manifest's checksum too. */
  struct image img;
  image_quiet = 1;
  if (image_open_unchecked(&img, p->path) < 0 || img.size != (size_t)json_get(p->entry, "bytes")->num
      || !checksum_is(json_get(p->entry, "checksum")->str, &img)) {
    image_done(&img);
    to_node("an image differs from the manifest, or the loader does not read it (Node says how)");
  }
  size_t nrefs = refs ? refs->n : 0;
  if (nrefs > REFS_MAX) to_node("more referenced images than the loader takes (Node says so)");
  char *paths[REFS_MAX + 1] = { p->path }, before[REFS_MAX + 1][160], now[160];
  for (size_t i = 0; i < nrefs; i++) {
    const struct json *r = refs->items[i];
    paths[i + 1] = join_path(gen_dir, json_get(r, "name")->str);
    if (!paths[i + 1] || headers_match(paths[i + 1], (long long)json_get(r, "bytes")->num, json_get(r, "checksum")->str) < 0)
      to_node("a referenced image differs from the manifest (Node says how)");
  }
  for (size_t i = 0; i <= nrefs; i++) if (identity(paths[i], before[i], sizeof before[i]) < 0) before[i][0] = 0;
  say("record headers read");
  int payloads = image_check_payloads(&img);
  image_done(&img);
  if (payloads < 0) to_node("the loader does not verify an image (Node says why, and tries older ones)");
  for (size_t i = 0; i <= nrefs; i++)
    if (before[i][0] && identity(paths[i], now, sizeof now) == 0 && !strcmp(now, before[i]) && *vlen + 162 < cap)
      *vlen += (size_t)snprintf(verified + *vlen, cap - *vlen, "%s%s", *vlen ? "\n" : "", now);
  for (size_t i = 0; files && i < files->n; i++) {
    const struct json *f = files->items[i];
    char *side = join_path(gen_dir, json_get(f, "name")->str);
    if (!side || side_file_ok(side, (long long)json_get(f, "bytes")->num, json_get(f, "checksum")->str) < 0)
      to_node("a side file differs from the manifest (Node says how)");
    free(side);
  }
}
