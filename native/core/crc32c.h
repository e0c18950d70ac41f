#ifndef STASIS_CRC32C_H
#define STASIS_CRC32C_H
#include <stddef.h>
#include <stdint.h>
/* CRC-32C (Castagnoli). crc32c(0, "123456789", 9) == 0xe3069283.
 * Pass the previous result to continue a running checksum. */
uint32_t crc32c(uint32_t crc, const void *buf, size_t len);
/* The same as crc32c over `len` zero bytes, without reading them (the
 * holes of a sparse file): O(log len). */
uint32_t crc32c_zeros(uint32_t crc, uint64_t len);
#endif
