/* Anonymous pipes of a process tree. At SAVE every process writes, beside
 * its image, "IMAGE.pipes": one record per pipe it holds an end of
 * ("pipe INO SIZE LEN\n" then LEN bytes: what the pipe held, the same in
 * every holder's file). Before anything forks, the loader makes one new
 * pipe per inode found in the tree's files, gives it its capacity and its
 * bytes, closes the write end and keeps the read end; every forked loader
 * inherits them all. Each restored process learns them through
 * restart_info.inherited as "pipe:INO=FD" and reopens its ends from there
 * (plugins/pipe); every inherited copy is closed once a process has its
 * descriptors back, so a reader sees EOF when the last real writer closes. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_PIPES 4096
static unsigned long long made[MAX_PIPES];
static int nmade;

static int known(unsigned long long ino) {
  for (int i = 0; i < nmade; i++) if (made[i] == ino) return 1;
  return 0;
}

static int make_pipe(const char *file, unsigned long long ino, int size, const char *data, size_t len,
                     char *out, size_t cap) {
  int p[2];
  if (nmade >= MAX_PIPES) { fprintf(stderr, "stasis-restart: %s: more than %d pipes\n", file, MAX_PIPES); return -1; }
  if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0) { fprintf(stderr, "stasis-restart: pipe: %s\n", strerror(errno)); return -1; }
  if (size > 0 && fcntl(p[1], F_GETPIPE_SZ) != size && fcntl(p[1], F_SETPIPE_SZ, size) < 0 && (size_t)fcntl(p[1], F_GETPIPE_SZ) < len)
    fprintf(stderr, "stasis-restart: %s: cannot give pipe:[%llu] its size %d back: %s\n", file, ino, size, strerror(errno));
  for (size_t off = 0; off < len;) {
    ssize_t w = write(p[1], data + off, len - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      fprintf(stderr, "stasis-restart: %s: cannot put %zu bytes back into pipe:[%llu]: %s\n", file, len, ino, strerror(errno));
      return -1;
    }
    off += w;
  }
  close(p[1]);
  /* The read end is not O_NONBLOCK for anyone: each process reopens it. */
  size_t used = strlen(out);
  if (snprintf(out + used, cap - used, "%spipe:%llu=%d", used ? " " : "", ino, p[0]) >= (int)(cap - used)) {
    fprintf(stderr, "stasis-restart: too many pipes to hand over\n");
    return -1;
  }
  made[nmade++] = ino;
  return 0;
}

/* One image's record file (absent: the process held no pipe). */
static int read_records(const char *image, char *out, size_t cap) {
  char path[4200];
  snprintf(path, sizeof path, "%s.pipes", image);
  FILE *f = fopen(path, "re");
  if (!f) {
    if (errno == ENOENT) return 0;
    fprintf(stderr, "stasis-restart: %s: %s\n", path, strerror(errno));
    return -1;
  }
  unsigned long long ino;
  int size;
  size_t len;
  int rc = 0, n;
  while (rc == 0 && (n = fscanf(f, "pipe %llu %d %zu", &ino, &size, &len)) == 3 && fgetc(f) == '\n') {
    char *data = len ? malloc(len) : NULL;
    if ((len && !data) || (len && fread(data, 1, len, f) != len)) {
      fprintf(stderr, "stasis-restart: %s: truncated record for pipe:[%llu]\n", path, ino);
      rc = -1;
    } else if (!known(ino)) {
      rc = make_pipe(path, ino, size, data, len, out, cap);
    }
    free(data);
  }
  if (rc == 0 && !feof(f)) { fprintf(stderr, "stasis-restart: %s: malformed\n", path); rc = -1; }
  fclose(f);
  return rc;
}

int pipes_prepare(int count, const char *const *images, char *out, size_t cap) {
  out[0] = 0;
  for (int i = 0; i < count; i++)
    if (read_records(images[i], out, cap) < 0) return -1;
  return 0;
}
