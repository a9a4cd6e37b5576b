/*
 * xalloc: qualify/'s own allocation helpers. Out of memory aborts the process: one policy, no
 * half-handled NULLs. qualify/ keeps these instead of using daemon/util.h so that it depends on
 * nothing outside itself (it is linked into unit tests and fuzzers on its own).
 *
 * Include this only from the .c files of qualify/. daemon/util.h declares functions with the same names and
 * the same contract; a translation unit that needs both should use daemon/util.h alone.
 */
#ifndef AQPD_QUALIFY_XALLOC_H
#define AQPD_QUALIFY_XALLOC_H

#ifndef AQPD_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline void xalloc_oom(size_t n)
{
    fprintf(stderr, "{\"level\":\"fatal\",\"msg\":\"out of memory\",\"bytes\":%zu}\n", n);
    abort();
}

/* Never returns NULL; a request for 0 bytes returns a unique pointer. */
static inline void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        xalloc_oom(n);
    return p;
}

/* Zeroed array of count elements; aborts on overflow of count * size as on exhaustion. */
static inline void *xcalloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        xalloc_oom(count * size);
    return p;
}

static inline void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        xalloc_oom(n);
    return q;
}

/* Copy of the first n bytes of s, NUL-terminated. */
static inline char *xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static inline char *xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

#endif /* AQPD_UTIL_H */

/* Grows an array of elem-sized items to hold at least need items; aborts on overflow. */
static inline void *xgrow(void *p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return p;
    size_t n = *cap ? *cap : 4;
    while (n < need) {
        if (n > ((size_t)-1) / 2)
            xalloc_oom((size_t)-1);
        n *= 2;
    }
    if (n > ((size_t)-1) / elem)
        xalloc_oom((size_t)-1);
    *cap = n;
    return xrealloc(p, n * elem);
}

#endif
