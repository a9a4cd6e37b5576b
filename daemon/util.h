/*
 * util: process-wide helpers with no better home: allocation that aborts on out-of-memory
 * (one policy, no half-handled NULLs), monotonic and wall clocks, and small string helpers.
 */
#ifndef AQPD_UTIL_H
#define AQPD_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WUR __attribute__((warn_unused_result))

/* Allocation: never returns NULL; aborts the process with a message on exhaustion. */
void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
/* Zeroed memory at a multiple of `align` (a power of two, at least sizeof(void *)), for
   `size` rounded up to a multiple of it; free with free(). */
void *xcalloc_aligned(size_t align, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

/* Monotonic clock in nanoseconds, for durations and deadlines. */
uint64_t util_now_ns(void);

/* Writes the current UTC time as RFC 3339 with milliseconds ("2026-11-23T10:31:10.123Z"). */
void util_rfc3339_now(char *buf, size_t len);

/* Parses a non-negative decimal integer within [min, max]; false on any junk or overflow. */
bool util_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out) WUR;

#endif
