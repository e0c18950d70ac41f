/* Pipes and FIFOs of a process tree. At SAVE every process writes, beside
 * its image, the side file "IMAGE.pipes" (checked here against its
 * checksum): one record per pipe it holds an end of — "pipe INO SIZE LEN\n"
 * then LEN bytes, or for a FIFO "fifo DEV INO SIZE LEN PATHLEN\n", its path,
 * then LEN bytes: what the pipe held, the same in every holder's file.
 * Before anything forks, the loader makes one new pipe per inode found in
 * the tree's files (a FIFO: opens it read-write at its path, mapped by
 * --path-map), gives it its capacity and its bytes, once, and keeps a
 * descriptor; every forked loader inherits them all. Each restored process
 * learns them through restart_info.inherited as "pipe:INO=FD" or
 * "fifo:DEV:INO=FD" and reopens its ends from there (plugins/pipe); every
 * inherited copy is closed once a process has its descriptors back, so a
 * reader sees EOF when the last real writer closes. */
#include "../../restart/image.h"
#include "../../restart/side.h"
#include "../../core/path_map.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_PIPES 4096
static char made[MAX_PIPES][48];
static int nmade;

static int known(const char *name) {
  for (int i = 0; i < nmade; i++) if (strcmp(made[i], name) == 0) return 1;
  return 0;
}

/* A FIFO whose path is gone (restarted on another host, whose /tmp lacks
 * the launcher's session directory: Open MPI's debugger_attach_fifo): made
 * again, with the directories above it (0700, as such session dirs are).
 * A FIFO holds nothing on disk: its bytes come from the image. */
static int make_again(char *path) {
  for (char *s = strchr(path + 1, '/'); s; s = strchr(s + 1, '/')) {
    *s = 0;
    int bad = mkdir(path, 0700) < 0 && errno != EEXIST;
    *s = '/';
    if (bad) return -1;
  }
  return mkfifo(path, 0600) < 0 && errno != EEXIST ? -1 : 0;
}

/* A FIFO, opened read-write at its (mapped) path; one deleted while open
 * comes back as a new nameless FIFO in the same directory: made under its
 * old name when that is free (so it reads "PATH (deleted)" as before), else
 * under a scratch name, and unlinked at once. */
static int open_fifo(const char *file, const char *saved) {
  char path[4096], tmp[4200];
  path_map_apply(restart_path_map, saved, path, sizeof path);
  size_t n = strlen(path);
  const char *at = path;
  if (n > 10 && strcmp(path + n - 10, " (deleted)") == 0) {
    path[n - 10] = 0;
    snprintf(tmp, sizeof tmp, "%s", path);
    int made = mkfifo(tmp, 0600) == 0;
    if (!made && errno == EEXIST) {
      snprintf(tmp, sizeof tmp, "%s.stasis-%d", path, (int)getpid());
      made = mkfifo(tmp, 0600) == 0;
    }
    if (!made) {
      fprintf(stderr, "stasis-restart: %s: cannot re-make deleted FIFO %s: %s\n", file, path, strerror(errno));
      return -1;
    }
    at = tmp;
  }
  struct stat st;
  int fd = open(at, O_RDWR | O_NONBLOCK);
  if (fd < 0 && errno == ENOENT && at == path && make_again(path) == 0) fd = open(at, O_RDWR | O_NONBLOCK);
  if (at == tmp) unlink(tmp);
  if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode))) {
    close(fd);
    fprintf(stderr, "stasis-restart: %s: %s is no longer a FIFO\n", file, path);
    return -1;
  }
  if (fd < 0) fprintf(stderr, "stasis-restart: %s: cannot open FIFO %s: %s\n", file, path, strerror(errno));
  return fd;
}

/* One pipe (fifo_path NULL) or FIFO, holding its bytes, handed over as `name`. */
static int make_pipe(const char *file, const char *name, const char *fifo_path, int size, const char *data, size_t len,
                     char *out, size_t cap) {
  int p[2] = { -1, -1 };
  if (nmade >= MAX_PIPES) { fprintf(stderr, "stasis-restart: %s: more than %d pipes\n", file, MAX_PIPES); return -1; }
  if (fifo_path) {
    if ((p[0] = open_fifo(file, fifo_path)) < 0) return -1;
  } else if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0) {
    fprintf(stderr, "stasis-restart: pipe: %s\n", strerror(errno));
    return -1;
  }
  int w = p[1] >= 0 ? p[1] : p[0];
  if (size > 0 && fcntl(w, F_GETPIPE_SZ) != size && fcntl(w, F_SETPIPE_SZ, size) < 0 && (size_t)fcntl(w, F_GETPIPE_SZ) < len)
    fprintf(stderr, "stasis-restart: %s: cannot give %s its size %d back: %s\n", file, name, size, strerror(errno));
  for (size_t off = 0; off < len;) {
    ssize_t wr = write(w, data + off, len - off);
    if (wr < 0 && errno == EINTR) continue;
    if (wr <= 0) {
      fprintf(stderr, "stasis-restart: %s: cannot put %zu bytes back into %s: %s\n", file, len, name, strerror(errno));
      return -1;
    }
    off += wr;
  }
  if (p[1] >= 0) close(p[1]);
  /* What is kept is not O_NONBLOCK for anyone: each process reopens it. */
  size_t used = strlen(out);
  if (snprintf(out + used, cap - used, "%s%s=%d", used ? " " : "", name, p[0]) >= (int)(cap - used)) {
    fprintf(stderr, "stasis-restart: too many pipes to hand over\n");
    return -1;
  }
  snprintf(made[nmade++], sizeof made[0], "%s", name);
  return 0;
}

/* One image's records (no file: the process held no pipe). */
static int read_records(const char *image, char *out, size_t cap) {
  char *buf, file[4200];
  size_t len;
  if (side_file_read(image, "pipes", &buf, &len) < 0) return -1;
  if (!buf) return 0;
  snprintf(file, sizeof file, "%s.pipes", image);
  int rc = 0;
  for (size_t at = 0; rc == 0 && at < len;) {
    unsigned long long dev = 0, ino;
    int size, used = 0;
    size_t n, pathlen = 0;
    char name[48];
    const char *rec = buf + at, *nl = memchr(rec, '\n', len - at < 128 ? len - at : 128);
    char head[128];   /* the header line alone: sscanf must not run into the bytes */
    if (nl) { memcpy(head, rec, nl - rec); head[nl - rec] = 0; used = (int)(nl - rec) + 1; }
    int end = -1;
    if (nl && sscanf(head, "pipe %llu %d %zu%n", &ino, &size, &n, &end) == 3 && end == used - 1) {
      snprintf(name, sizeof name, "pipe:%llu", ino);
    } else if (nl && sscanf(head, "fifo %llu %llu %d %zu %zu%n", &dev, &ino, &size, &n, &pathlen, &end) == 5 && end == used - 1) {
      snprintf(name, sizeof name, "fifo:%llu:%llu", dev, ino);
    } else {
      fprintf(stderr, "stasis-restart: %s: malformed record at byte %zu\n", file, at);
      rc = -1;
      break;
    }
    if (pathlen >= 4096 || n > len || at + used + pathlen + n > len) {
      fprintf(stderr, "stasis-restart: %s: truncated record for %s\n", file, name);
      rc = -1;
      break;
    }
    char path[4096];
    memcpy(path, rec + used, pathlen);
    path[pathlen] = 0;
    if (!known(name)) rc = make_pipe(file, name, pathlen ? path : NULL, size, rec + used + pathlen, n, out, cap);
    at += used + pathlen + n;
  }
  free(buf);
  return rc;
}

int pipes_prepare(int count, const char *const *images, char *out, size_t cap) {
  out[0] = 0;
  for (int i = 0; i < count; i++)
    if (read_records(images[i], out, cap) < 0) return -1;
  return 0;
}
