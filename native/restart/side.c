/* Side files beside an image (IMAGE.SUFFIX, written by core/side_file.c):
 * read whole and checked against their trailer "end crc32c:xxxxxxxx\n"
 * before anything in them is used. */
#include "side.h"
#include "crc32c.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TRAILER_LEN 20   /* "end crc32c:" + 8 hex digits + "\n" */

int side_file_read(const char *image, const char *suffix, char **data, size_t *len) {
  char path[4200];
  snprintf(path, sizeof path, "%s.%s", image, suffix);
  *data = NULL;
  *len = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return 0;
    fprintf(stderr, "stasis-restart: %s: %s\n", path, strerror(errno));
    return -1;
  }
  struct stat st;
  char *buf = NULL;
  size_t have = 0;
  if (fstat(fd, &st) == 0 && (buf = malloc((size_t)st.st_size + 1)))
    while (have < (size_t)st.st_size) {
      ssize_t r = read(fd, buf + have, (size_t)st.st_size - have);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;
      have += (size_t)r;
    }
  close(fd);
  if (!buf || have != (size_t)st.st_size) {
    fprintf(stderr, "stasis-restart: %s: cannot read it\n", path);
    free(buf);
    return -1;
  }
  unsigned crc;
  char nl = 0;
  size_t body = have >= TRAILER_LEN ? have - TRAILER_LEN : 0;
  buf[have] = 0;
  if (have < TRAILER_LEN || sscanf(buf + body, "end crc32c:%8x%c", &crc, &nl) != 2 || nl != '\n' ||
      crc32c(0, buf, body) != crc) {
    fprintf(stderr, "stasis-restart: %s: corrupt (checksum mismatch or truncated)\n", path);
    free(buf);
    return -1;
  }
  buf[body] = 0;
  *data = buf;
  *len = body;
  return 0;
}
