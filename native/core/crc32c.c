/* CRC-32C with the SSE4.2 instruction when the CPU has it (checkpoint
 * speed), a table otherwise. */
#include "crc32c.h"
#include <nmmintrin.h>
#include <string.h>

static uint32_t table[256];
static int have_sse42 = -1;

static void init_table(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
    table[i] = c;
  }
}

__attribute__((target("sse4.2")))
static uint32_t crc_hw(uint32_t crc, const unsigned char *p, size_t len) {
  uint64_t c = crc;
  while (len && ((uintptr_t)p & 7)) { c = _mm_crc32_u8((uint32_t)c, *p++); len--; }
  while (len >= 8) {
    uint64_t v;
    memcpy(&v, p, 8);
    c = _mm_crc32_u64(c, v);
    p += 8; len -= 8;
  }
  while (len--) c = _mm_crc32_u8((uint32_t)c, *p++);
  return (uint32_t)c;
}

uint32_t crc32c(uint32_t crc, const void *buf, size_t len) {
  const unsigned char *p = buf;
  if (have_sse42 < 0) {
    __builtin_cpu_init();
    have_sse42 = __builtin_cpu_supports("sse4.2");
    if (!have_sse42) init_table();
  }
  crc = ~crc;
  if (have_sse42) crc = crc_hw(crc, p, len);
  else while (len--) crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
  return ~crc;
}
