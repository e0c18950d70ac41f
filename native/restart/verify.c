/* Reading and verifying an image before anything of it is mapped. The
 * checks are those of `stasis inspect` (src/images/reader.ts): an image one
 * refuses, the other refuses too (test/images/verdict.test.ts). */
#include "image.h"
#include "crc32c.h"
#include "parallel.h"
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define IMAGE_HINT ((void *)0x210000000000ull)
#define PAGES_RUN_MAX (8u << 20)

int image_quiet;

static int bad(const struct image *img, const char *what, const char *fmt, ...) {
  if (image_quiet) return -1;
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  fprintf(stderr, "stasis-restart: %s: %s: %s\n", img->name, what, msg);
  return -1;
}

/* Headers and the small records are read with pread into copies that stay
 * (never freed: the loader's heap goes with it): walking ~1000 headers
 * through the mapping faulted a page-cache page in for each, 4x the reads'
 * cost on a VM with shadow page tables. PAGES payloads stay in the mapping. */
static void *keep(size_t len) {
  static char *chunk;
  static size_t left;
  len = (len + 15) & ~(size_t)15;
  if (len > 4096) return malloc(len);
  if (len > left) {
    if (!(chunk = malloc(65536))) return NULL;
    left = 65536;
  }
  void *at = chunk;
  chunk += len;
  left -= len;
  return at;
}

static int read_at(const struct image *img, void *buf, size_t len, uint64_t off) {
  for (size_t got = 0; got < len;) {
    ssize_t n = pread(img->fd, (char *)buf + got, len - got, (off_t)(off + got));
    if (n <= 0) return -1;
    got += (size_t)n;
  }
  return 0;
}

static int check_record(struct image *img, uint64_t off, int index, const struct rec_header **out,
                        const char **payload, uint64_t *payload_off, uint64_t *next) {
  if (off + sizeof(struct rec_header) > img->size)
    return bad(img, "truncated", "record %d header ends past the end of the file", index);
  char head[sizeof(struct rec_header) + IMG_PAGE];   /* the header, then an ALIGNED record's gap */
  if (read_at(img, head, sizeof(struct rec_header), off) < 0)
    return bad(img, "cannot read", "record %d at offset %llu: %m", index, (unsigned long long)off);
  const struct rec_header *h = (const void *)head;
  if (h->magic != REC_MAGIC) return bad(img, "corrupt", "record %d at offset %llu: bad magic", index, (unsigned long long)off);
  if (crc32c(0, h, 36) != h->header_crc)
    return bad(img, "corrupt", "record %d at offset %llu: header checksum mismatch", index, (unsigned long long)off);
  if (h->flags & ~(RECF_COMP_MASK | RECF_ALIGNED))
    return bad(img, "corrupt", "record %d at offset %llu: unknown flags 0x%x", index, (unsigned long long)off, h->flags);
  uint64_t p = off + sizeof *h;
  if (h->flags & RECF_ALIGNED) p = (p + IMG_PAGE - 1) & ~(uint64_t)(IMG_PAGE - 1);
  if (p > img->size || h->stored_len > img->size || p + h->stored_len > img->size)
    return bad(img, "truncated", "record %d payload ends past the end of the file", index);
  if (p > off + sizeof *h && read_at(img, head + sizeof *h, p - off - sizeof *h, off + sizeof *h) < 0)
    return bad(img, "cannot read", "record %d at offset %llu: %m", index, (unsigned long long)off);
  for (uint64_t g = off + sizeof *h; g < p; g++)
    if (head[g - off]) return bad(img, "corrupt", "record %d at offset %llu: the alignment gap is not zero", index, (unsigned long long)off);
  if (h->type == REC_REF) {
    if (h->flags || h->stored_len < sizeof(struct ref_rec) || h->stored_len > sizeof(struct ref_rec) + REF_NAME_MAX)
      return bad(img, "corrupt", "record %d at offset %llu: malformed REF", index, (unsigned long long)off);
  } else if (h->type != REC_PAGES && h->stored_len > (64u << 20))
    return bad(img, "corrupt", "record %d at offset %llu: a %llu-byte record of type %u", index, (unsigned long long)off,
               (unsigned long long)h->stored_len, h->type);
  if (h->type != REC_PAGES && h->type != REC_REF && ((h->flags & RECF_COMP_MASK) || h->addr || h->raw_len != h->stored_len))
    return bad(img, "corrupt", "record %d at offset %llu: compression, addr or raw length set on a record of type %u", index,
               (unsigned long long)off, h->type);
  img->headers_crc = crc32c(img->headers_crc, h, 36);
  img->headers_crc_legacy = crc32c(img->headers_crc_legacy, h, sizeof *h);
  struct rec_header *kept = keep(sizeof *h);
  if (!kept) return bad(img, "out of memory", "record %d", index);
  *kept = *h;
  *payload = img->base + p;
  /* PAGES payloads, most of the file, are checked afterwards on every CPU. */
  if (h->type != REC_PAGES) {
    char *copy = keep(h->stored_len + 1);
    if (!copy) return bad(img, "out of memory", "record %d", index);
    if (read_at(img, copy, h->stored_len, p) < 0) return bad(img, "cannot read", "record %d at offset %llu: %m", index, (unsigned long long)off);
    copy[h->stored_len] = 0;
    if (crc32c(0, copy, h->stored_len) != h->payload_crc)
      return bad(img, "corrupt", "record %d at offset %llu: payload checksum mismatch", index, (unsigned long long)off);
    *payload = copy;
  }
  *out = kept;
  *payload_off = p;
  *next = p + h->stored_len;
  return 0;
}

/* `next_page`: where the region's previous PAGES ended (runs in increasing order, no overlap). */
static int check_pages(struct image *img, const struct loaded_region *r, const struct rec_header *h, int index,
                       uint64_t *next_page) {
  if (!r) return bad(img, "corrupt", "record %d: pages before any region", index);
  if (!(r->rec->flags & RGN_CONTENTS)) return bad(img, "corrupt", "record %d: PAGES for a region without CONTENTS", index);
  if ((h->flags & RECF_COMP_MASK) > RECF_LZ4) return bad(img, "corrupt", "record %d: unknown compression", index);
  if (h->raw_len == 0 || h->raw_len % IMG_PAGE || h->raw_len > PAGES_RUN_MAX || h->addr % IMG_PAGE)
    return bad(img, "corrupt", "record %d: PAGES are not whole pages of at most 8 MiB", index);
  if (h->addr < *next_page || h->addr + h->raw_len > r->rec->end || h->addr + h->raw_len < h->addr)
    return bad(img, "corrupt", "record %d: pages outside their region or overlapping earlier pages", index);
  if (!(h->flags & RECF_COMP_MASK) && (h->stored_len != h->raw_len || !(h->flags & RECF_ALIGNED)))
    return bad(img, "corrupt", "record %d: uncompressed PAGES must be ALIGNED with stored length = raw length", index);
  *next_page = h->addr + h->raw_len;
  return 0;
}

/* The file a REF names, opened and mapped once; NULL after bad(). */
static const struct ref_file *ref_file(struct image *img, const char *name, uint32_t len, int index) {
  if (len == 0 || len > REF_NAME_MAX || memchr(name, '/', len) || memchr(name, 0, len))
    return bad(img, "corrupt", "record %d: REF names no file of this directory", index), NULL;
  for (int i = 0; i < img->nrefs; i++)
    if (strlen(img->refs[i].name) == len && memcmp(img->refs[i].name, name, len) == 0) return &img->refs[i];
  if (img->nrefs == REF_FILES_MAX) return bad(img, "corrupt", "record %d: more than %d files referenced", index, REF_FILES_MAX), NULL;
  struct ref_file *f = &img->refs[img->nrefs];
  memcpy(f->name, name, len);
  f->name[len] = 0;
  char path[4600];
  const char *slash = strrchr(img->name, '/');
  snprintf(path, sizeof path, "%.*s%s", slash ? (int)(slash - img->name + 1) : 0, img->name, f->name);
  struct stat st;
  f->fd = open(path, O_RDONLY | O_CLOEXEC);
  if (f->fd < 0 || fstat(f->fd, &st) < 0)
    return bad(img, "corrupt", "record %d refers to %s: %m", index, f->name), NULL;
  f->size = st.st_size;
  /* Beyond the image, each at its own 1 GiB boundary: away from the program's memory too. */
  uintptr_t at = (uintptr_t)img->base + img->size;
  for (int i = 0; i < img->nrefs; i++)
    if ((uintptr_t)img->refs[i].base + img->refs[i].size > at) at = (uintptr_t)img->refs[i].base + img->refs[i].size;
  at = (at + (1ull << 30)) & ~((1ull << 30) - 1);
  f->base = f->size ? mmap((void *)at, f->size, PROT_READ, MAP_PRIVATE | MAP_FIXED_NOREPLACE, f->fd, 0) : NULL;
  if (f->base == MAP_FAILED) return bad(img, "cannot map", "%s: %m", f->name), NULL;
  img->nrefs++;
  return f;
}

/* A REF: the PAGES record it names, checked as far as its header; its
 * payload checksum is checked with this image's. */
static int check_ref(struct image *img, const struct rec_header *h, const char *payload, int index, struct pages *out) {
  const struct ref_rec *rr = (const void *)payload;
  if (h->stored_len != sizeof *rr + rr->name_len) return bad(img, "corrupt", "record %d: malformed REF", index);
  const struct ref_file *f = ref_file(img, payload + sizeof *rr, rr->name_len, index);
  if (!f) return -1;
  const struct rec_header *t = (const void *)(f->base + rr->offset);
  uint64_t p = rr->offset + sizeof *t;
  if (rr->offset > f->size || f->size - rr->offset < sizeof *t || t->magic != REC_MAGIC || crc32c(0, t, 36) != t->header_crc ||
      t->header_crc != rr->header_crc)
    return bad(img, "corrupt", "record %d refers to %s at offset %llu: not the record it names", index, f->name,
               (unsigned long long)rr->offset);
  if (t->flags & RECF_ALIGNED) p = (p + IMG_PAGE - 1) & ~(uint64_t)(IMG_PAGE - 1);
  if (t->type != REC_PAGES || t->raw_len != h->raw_len || p > f->size || t->stored_len > f->size - p ||
      (t->flags & ~(RECF_COMP_MASK | RECF_ALIGNED)) || (t->flags & RECF_COMP_MASK) > RECF_LZ4)
    return bad(img, "corrupt", "record %d refers to %s at offset %llu: a record that does not hold these pages", index, f->name,
               (unsigned long long)rr->offset);
  *out = (struct pages){ t, f->base + p, h->addr, f->fd, f->name, p, index, 0, 0, 0, 0 };
  return 0;
}

/* Payloads are read into a buffer of each thread, not through the image's
 * mapping: a page-cache page mapped into a process for the first time can
 * cost more than its copy (3.5x on a VM with shadow page tables, where the
 * mapping made verifying a 290 MB image take 0.12 s instead of 0.035 s). */
#define CHECK_BUF (256u << 10)
static char *check_bufs;

static int payload_ok(const struct pages *p, char *buf) {
  if (!buf) return crc32c(0, p->payload, p->rec->stored_len) == p->rec->payload_crc;
  uint32_t crc = 0;
  for (uint64_t at = 0, left = p->rec->stored_len; left;) {
    ssize_t n = pread(p->fd, buf, left < CHECK_BUF ? left : CHECK_BUF, (off_t)(p->file_offset + at));
    if (n <= 0) return crc32c(0, p->payload, p->rec->stored_len) == p->rec->payload_crc;   /* as the mapping reads it */
    crc = crc32c(crc, buf, (size_t)n);
    at += (uint64_t)n;
    left -= (uint64_t)n;
  }
  return crc == p->rec->payload_crc;
}

static void check_payload(int i, int thread, void *arg) {
  struct image *img = arg;
  struct pages *p = &img->pages[i];
  p->crc_ok = p->deferred || p->trusted || payload_ok(p, check_bufs ? check_bufs + (size_t)thread * CHECK_BUF : NULL);
}

int image_open_verified(struct image *img, const char *path) {
  return image_open_unchecked(img, path) < 0 ? -1 : image_check_payloads(img);
}

int image_open_unchecked(struct image *img, const char *path) {
  memset(img, 0, sizeof *img);
  img->name = path;
  img->fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (img->fd < 0 || fstat(img->fd, &st) < 0) return bad(img, "cannot open", "%m");
  img->size = st.st_size;
  if (img->size < sizeof(struct rec_header)) return bad(img, "truncated", "file is %zu bytes", img->size);
  img->base = mmap(IMAGE_HINT, img->size, PROT_READ, MAP_PRIVATE | MAP_FIXED_NOREPLACE, img->fd, 0);
  if (img->base == MAP_FAILED) return bad(img, "cannot map", "%m");
  int cap_r = 256, cap_p = 4096;
  img->regions = calloc(cap_r, sizeof *img->regions);
  img->pages = calloc(cap_p, sizeof *img->pages);
  uint64_t off = 0, next = 0, next_page = 0, memory = 0;
  int index = 0, ended = 0, have_meta = 0;
  struct loaded_region *cur = NULL;
  while (off < img->size) {
    const struct rec_header *h = NULL;
    const char *payload = NULL;
    uint64_t poff = 0;
    if (ended) return bad(img, "corrupt", "data after the END record");
    if (check_record(img, off, index, &h, &payload, &poff, &next) < 0) return -1;
    if (index == 0 && (h->type != REC_HEADER || h->stored_len != sizeof(struct image_header) ||
                       memcmp(payload, IMG_MAGIC, 8) != 0))
      return bad(img, "corrupt", "not a stasis image (no header record)");
    switch (h->type) {
    case REC_HEADER:
      if (index != 0) return bad(img, "corrupt", "second header record");
      img->header = (const void *)payload;
      if (img->header->version != IMG_VERSION) return bad(img, "unsupported", "image version %u", img->header->version);
      if (img->header->page_size != IMG_PAGE) return bad(img, "unsupported", "page size %u", img->header->page_size);
      break;
    case REC_META:
      if (have_meta++) return bad(img, "corrupt", "record %d: a second META record", index);
      if (json_object_check(payload, h->stored_len) < 0) return bad(img, "corrupt", "record %d: META is not a JSON object", index);
      break;
    case REC_REGION: {
      const struct region_rec *rr = (const void *)payload;
      /* RGN_MAPFILE: the file's identity follows the path; only with CONTENTS, never shared. */
      uint64_t ident = h->stored_len >= sizeof *rr && (rr->flags & RGN_MAPFILE) ? sizeof(struct file_ident) : 0;
      if (h->stored_len < sizeof *rr || h->stored_len != sizeof *rr + rr->path_len + ident || rr->end <= rr->start ||
          (ident && (rr->flags & (RGN_CONTENTS | RGN_SHARED | RGN_FILE | RGN_OBJECT)) != (RGN_CONTENTS | RGN_FILE)))
        return bad(img, "corrupt", "record %d: malformed region", index);
      if (img->nregions == cap_r) img->regions = realloc(img->regions, (cap_r *= 2) * sizeof *img->regions);
      cur = &img->regions[img->nregions++];
      cur->rec = rr;
      cur->path = payload + sizeof *rr;
      cur->ident = ident ? (const void *)(payload + sizeof *rr + rr->path_len) : NULL;
      cur->file_fd = -1;
      cur->npages = 0;
      next_page = rr->start;
      break;
    }
    case REC_PAGES:
    case REC_REF: {
      /* A REF is checked as the PAGES it stands for would be (compression aside). */
      struct rec_header as_pages = *h;
      if (h->type == REC_REF) { as_pages.flags = RECF_ALIGNED; as_pages.stored_len = h->raw_len; }
      if (check_pages(img, cur, &as_pages, index, &next_page) < 0) return -1;
      memory += h->raw_len;
      if (img->npages == cap_p) img->pages = realloc(img->pages, (cap_p *= 2) * sizeof *img->pages);
      struct pages *pg = &img->pages[img->npages];
      if (h->type == REC_PAGES) *pg = (struct pages){ h, payload, h->addr, img->fd, img->name, poff, index, 0, 0, 0, off };
      else if (check_ref(img, h, payload, index, pg) < 0) return -1;
      img->npages++;
      cur->npages++;
      break;
    }
    case REC_END: {
      const struct end_rec *e = (const void *)payload;
      if (h->stored_len != sizeof *e || e->records != (uint64_t)index)
        return bad(img, "corrupt", "END record does not match the %d records read", index);
      if (e->memory_bytes != memory)
        return bad(img, "corrupt", "END counts %llu memory bytes but the PAGES hold %llu", (unsigned long long)e->memory_bytes,
                   (unsigned long long)memory);
      ended = 1;
      break;
    }
    default:
      return bad(img, "corrupt", "record %d: unknown type %u", index, h->type);
    }
    off = next;
    index++;
  }
  if (!ended) return bad(img, "truncated", "no END record");
  /* Pages pointers per region, now that the arrays stopped moving. */
  int p = 0;
  for (int i = 0; i < img->nregions; i++) {
    img->regions[i].pages = &img->pages[p];
    p += img->regions[i].npages;
  }
  return 0;
}

int image_check_payloads(struct image *img) {
  /* Unmapped again before anything of the program is mapped. */
  size_t len = (size_t)parallel_threads() * CHECK_BUF;
  check_bufs = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (check_bufs == MAP_FAILED) check_bufs = NULL;
  parallel_run(img->npages, check_payload, img);
  if (check_bufs) munmap(check_bufs, len);
  check_bufs = NULL;
  for (int i = 0; i < img->npages; i++)
    if (!img->pages[i].crc_ok)
      return img->pages[i].fd == img->fd
                 ? bad(img, "corrupt", "record %d at offset %llu: payload checksum mismatch", img->pages[i].record,
                       (unsigned long long)img->pages[i].rec_offset)
                 : bad(img, "corrupt", "record %d refers to %s, whose record there has a payload checksum mismatch",
                       img->pages[i].record, img->pages[i].file);
  return 0;
}

void image_close(struct image *img) {
  munmap((void *)img->base, img->size);
  close(img->fd);
  for (int i = 0; i < img->nrefs; i++) {
    if (img->refs[i].base) munmap((void *)img->refs[i].base, img->refs[i].size);
    close(img->refs[i].fd);
  }
}
