/* A byte buffer in mmap'd memory (the checkpoint thread never mallocs). */
#include "sock.h"
#include <string.h>
#include <sys/mman.h>

int growbuf_reserve(struct growbuf *b, size_t more) {
  if (b->len + more <= b->cap) return 0;
  size_t cap = b->cap ? b->cap : 65536;
  while (cap < b->len + more) cap *= 2;
  void *p = b->data ? mremap(b->data, b->cap, cap, MREMAP_MAYMOVE)
                    : mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return -1;
  b->data = p;
  b->cap = cap;
  return 0;
}

int growbuf_append(struct growbuf *b, const void *p, size_t n) {
  if (growbuf_reserve(b, n) < 0) return -1;
  memcpy(b->data + b->len, p, n);
  b->len += n;
  return 0;
}

void growbuf_free(struct growbuf *b) {
  if (b->data) munmap(b->data, b->cap);
  b->data = NULL;
  b->len = b->cap = 0;
}
