/* The loader's view of an image: verified records, nothing mapped yet. */
#ifndef STASIS_LOADER_IMAGE_H
#define STASIS_LOADER_IMAGE_H
#include "../core/image_format.h"
#include <stddef.h>

struct pages {
  const struct rec_header *rec;   /* a PAGES record, of this image or of a file a REF names */
  const char *payload;
  uint64_t addr;           /* where the pages go (a REF's addr, else rec->addr) */
  int fd;                  /* the file holding the payload */
  const char *file;        /* its name, for messages */
  uint64_t file_offset;
  int record;              /* index in the file, for messages */
  int crc_ok;              /* payload checksum verified */
  int deferred;            /* lazy: the pager checks it before filling (lazy.c) */
  int trusted;             /* mapped from a file `stasis restart` verified just before (main.c) */
  uint64_t rec_offset;     /* of its header in this image (for messages) */
};

struct loaded_region {
  const struct region_rec *rec;
  const char *path;        /* not NUL-terminated: rec->path_len bytes */
  struct pages *pages;
  int npages;
  const struct file_ident *ident;   /* RGN_MAPFILE: the file as it was at the checkpoint, else NULL */
  int file_fd;                      /* RGN_MAPFILE: that file, opened and checked (mapfile.c) */
};

/* A file that REF records name (incremental images), mapped read-only. */
#define REF_FILES_MAX 64
struct ref_file { char name[REF_NAME_MAX + 1]; int fd; const char *base; size_t size; };

struct image {
  const char *name;
  struct ref_file refs[REF_FILES_MAX];
  int nrefs;
  int fd;
  const char *base;
  size_t size;
  const struct image_header *header;
  struct loaded_region *regions;
  int nregions;
  struct pages *pages;
  int npages;
  /* The image's checksum as its manifest entry gives it (manifest-check.ts):
   * crc32c over each record header's first 36 bytes, and over whole headers
   * (the form of older manifests); set by image_open_unchecked. */
  uint32_t headers_crc, headers_crc_legacy;
};

/* main.c: --path-map as the loader got it (STASIS_PATH_MAP, see
 * core/path_map.h); applied to every path the loader opens. */
extern char restart_path_map[4096];

/* json_check.c: 0 when buf holds exactly one JSON object (META). */
int json_object_check(const char *buf, size_t len);

/* Maps the file read-only and checks every record; on failure prints one
 * line naming the image and returns -1. */
int image_open_verified(struct image *img, const char *path);
extern int image_quiet;   /* set: refusals without their line on stderr (the CLI's front says it through Node) */
/* The same in two steps: every record but the PAGES payloads, then the
 * payloads not marked deferred. */
int image_open_unchecked(struct image *img, const char *path);
int image_check_payloads(struct image *img);
/* mapfile.c: opens the file of every RGN_MAPFILE region and checks it is
 * the one of the checkpoint; else one line naming it, -1. */
int mapfile_check(struct image *img);
/* Unmaps and closes the image and the files it references. */
void image_close(struct image *img);
#endif
