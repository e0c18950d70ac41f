/* CRC-32C with the SSE4.2 instruction when the CPU has it (checkpoint and
 * restart speed), a table otherwise. */
#include "crc32c.h"
#include <nmmintrin.h>
#include <string.h>

#define POLY 0x82f63b78u /* reflected: bit 31 is x^0 */
#define STRIDE 8192      /* bytes per stream in the three-stream loop */

static uint32_t table[256];
static int have_sse42;
/* x^(8*STRIDE) and x^(16*STRIDE) mod POLY: multiplying a crc register by
 * them advances it over STRIDE or 2*STRIDE zero bytes. */
static uint32_t shift1, shift2;

static uint32_t times_x(uint32_t a) { return (a & 1) ? (a >> 1) ^ POLY : a >> 1; }

/* a * b mod POLY. */
static uint32_t mulmod(uint32_t a, uint32_t b) {
  uint32_t product = 0;
  for (uint32_t bit = 1u << 31; bit; bit >>= 1, b = times_x(b))
    if (a & bit) product ^= b;
  return product;
}

/* x^(8n) mod POLY, by squaring. */
static uint32_t x_pow_8n(uint64_t n) {
  uint32_t result = 1u << 31, square = 1u << 31;
  for (int k = 0; k < 8; k++) square = times_x(square);
  for (; n; n >>= 1, square = mulmod(square, square))
    if (n & 1) result = mulmod(result, square);
  return result;
}

__attribute__((constructor)) static void init(void) {
  __builtin_cpu_init();
  have_sse42 = __builtin_cpu_supports("sse4.2");
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = times_x(c);
    table[i] = c;
  }
  shift1 = x_pow_8n(STRIDE);
  shift2 = x_pow_8n(2 * STRIDE);
}

static uint64_t load64(const unsigned char *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}

/* The instruction has a latency of three cycles but issues one per cycle:
 * three independent streams over consecutive blocks keep it busy, and the
 * three results are joined by shifting the first two past what follows. */
__attribute__((target("sse4.2")))
static uint32_t crc_hw(uint32_t crc, const unsigned char *p, size_t len) {
  uint64_t c = crc;
  while (len && ((uintptr_t)p & 7)) { c = _mm_crc32_u8((uint32_t)c, *p++); len--; }
  for (; len >= 3 * STRIDE; p += 3 * STRIDE, len -= 3 * STRIDE) {
    uint64_t c1 = 0, c2 = 0;
    for (size_t i = 0; i < STRIDE; i += 8) {
      c = _mm_crc32_u64(c, load64(p + i));
      c1 = _mm_crc32_u64(c1, load64(p + STRIDE + i));
      c2 = _mm_crc32_u64(c2, load64(p + 2 * STRIDE + i));
    }
    c = mulmod((uint32_t)c, shift2) ^ mulmod((uint32_t)c1, shift1) ^ c2;
  }
  for (; len >= 8; p += 8, len -= 8) c = _mm_crc32_u64(c, load64(p));
  while (len--) c = _mm_crc32_u8((uint32_t)c, *p++);
  return (uint32_t)c;
}

uint32_t crc32c(uint32_t crc, const void *buf, size_t len) {
  const unsigned char *p = buf;
  crc = ~crc;
  if (have_sse42) crc = crc_hw(crc, p, len);
  else while (len--) crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
  return ~crc;
}

uint32_t crc32c_zeros(uint32_t crc, uint64_t len) {
  return len ? ~mulmod(~crc, x_pow_8n(len)) : crc;
}
