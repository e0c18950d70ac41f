/* On-disk image format, version 1 (docs/image-format.md). Shared by the
 * writer in libstasis and the restart loader. */
#ifndef STASIS_IMAGE_FORMAT_H
#define STASIS_IMAGE_FORMAT_H
#include <stdint.h>

#define REC_MAGIC 0x43455253u /* "SREC" in file order */
#define IMG_MAGIC "STASIS01"
#define IMG_VERSION 1
#define IMG_PAGE 4096

enum rec_type { REC_HEADER = 1, REC_META = 2, REC_REGION = 3, REC_PAGES = 4, REC_END = 5, REC_REF = 6 };
enum rec_flags { RECF_ZSTD = 1, RECF_LZ4 = 2, RECF_COMP_MASK = 15, RECF_ALIGNED = 16 };
enum region_flags {
  RGN_SHARED = 1, RGN_FILE = 2, RGN_CONTENTS = 4, RGN_STACK = 8, RGN_HEAP = 16, RGN_DELETED = 32,
  RGN_OBJECT = 64, /* contents elsewhere: a shared object the loader makes once per tree */
  RGN_MAPFILE = 128 /* private file mapping mapped from the file again; PAGES hold only the pages the process changed */
};

struct rec_header {
  uint32_t magic;
  uint16_t type;
  uint16_t flags;
  uint64_t addr;
  uint64_t stored_len;
  uint64_t raw_len;
  uint32_t payload_crc;
  uint32_t header_crc; /* crc32c of the 36 bytes above */
} __attribute__((packed));
_Static_assert(sizeof(struct rec_header) == 40, "record header is 40 bytes");

struct image_header {
  char magic[8];
  uint32_t version;
  uint32_t page_size;
  uint64_t pid, created_ns;
  uint64_t restart_entry, restart_info, restart_stack, main_fs;
  uint64_t vvar_start, vvar_end, vclock_start, vclock_end, vdso_start, vdso_end;
  uint64_t start_code, end_code, start_data, end_data, start_brk, brk;
  uint64_t start_stack, arg_start, arg_end, env_start, env_end;
} __attribute__((packed));

struct region_rec {
  uint64_t start, end, file_offset;
  uint32_t prot, flags, path_len, reserved;
} __attribute__((packed));

/* After the path of a REGION with RGN_MAPFILE: the file as it was at the
 * checkpoint. hash: XXH3-128 of its bytes [file_offset, file_offset +
 * hashed) — what the region maps of it. */
struct file_ident {
  uint64_t size, mtime_ns, ctime_ns, dev, ino, hashed, hash[2];
} __attribute__((packed));
_Static_assert(sizeof(struct file_ident) == 64, "file_ident is 64 bytes");

/* REC_REF (incremental images): the memory at the header's addr, raw_len
 * bytes, is the contents of the PAGES record at `offset` of the file named
 * after this struct (in the image's directory; always the file that really
 * holds the bytes, never another REF). That record's header crc pins its
 * flags, lengths and payload crc. */
struct ref_rec {
  uint64_t offset;
  uint32_t header_crc, name_len;
} __attribute__((packed));
#define REF_NAME_MAX 256

struct end_rec {
  uint64_t records, memory_bytes;
} __attribute__((packed));

/* Parameter block inside the restored core that the loader fills in. */
/* Room for "name=fd" of every descriptor handed over: a process may hold
 * thousands of sockets (fd.c keeps at most 4096). */
#define RESTART_INHERITED_MAX 98304
#define RESTART_INFO_MAGIC 0x4f464e4953525453ull /* "STRSINFO" */
/* The same, for the only process of its generation: it runs on before its
 * coordinator answers (no other process to wait for). A second magic, not
 * a new field: the struct keeps the layout images of earlier builds have. */
#define RESTART_INFO_MAGIC_ALONE 0x454e4f4c41525453ull /* "STRALONE" */
struct restart_info {
  uint64_t magic;
  uint64_t loader_start, loader_end;
  uint64_t new_pid;
  char coord[256];
  char token[128];
  char image[4096];
  /* Descriptors the loader opened for this process, "name=fd name=fd ...":
   * opaque to the core; the fd plugin keeps them through its restore and
   * kinds look them up by name (plugins/fd: fd_inherited). */
  char inherited[RESTART_INHERITED_MAX];
  /* `stasis restart --path-map`: "OLD=NEW" lines (core/path_map.h). */
  char path_map[4096];
  /* Children the loader made for this process that have no image of their
   * own (zombies re-made): "VPID=PID ...", mapped by the pid plugin. */
  char children[8192];
  /* Lazy restart: the pager still filling this process's memory
   * (restart/lazy.c); 0 when it was restored eagerly. */
  uint64_t pager_pid;
};

#endif
