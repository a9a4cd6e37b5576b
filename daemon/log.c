/*
 * log: JSON-lines logging to stderr. See log.h.
 */
#include "daemon/log.h"
#include "daemon/util.h"

#include <stdio.h>
#include <string.h>
#include <event2/buffer.h>
#include <event2/event.h>

static enum log_level min_level = LOG_INFO;
static struct evbuffer *pending;   /* batched lines, while attached */
static struct event *flush_timer;  /* armed while `pending` has lines */

#define LOG_BATCH_BYTES 16384
#define LOG_BATCH_MS 50

void log_flush(void)
{
    if (!pending)
        return;
    while (evbuffer_get_length(pending) > 0 && evbuffer_write(pending, 2) > 0)
        ;
    evbuffer_drain(pending, evbuffer_get_length(pending)); /* stderr gone: drop, don't grow */
}

static void on_flush_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
    log_flush();
}

void log_attach(struct event_base *base)
{
    log_flush();
    if (flush_timer) {
        event_free(flush_timer);
        flush_timer = NULL;
    }
    if (pending) {
        evbuffer_free(pending);
        pending = NULL;
    }
    if (base) {
        pending = evbuffer_new();
        flush_timer = evtimer_new(base, on_flush_timer, NULL);
    }
}
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_set_level(enum log_level level) { min_level = level; }
bool log_enabled(enum log_level level) { return level >= min_level; }

bool log_parse_level(const char *s, enum log_level *out)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return true;
        }
    return false;
}

static void put_escaped(struct evbuffer *b, const char *s)
{
    evbuffer_add(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            evbuffer_add_printf(b, "\\%c", *p);
        else if (*p < 0x20)
            evbuffer_add_printf(b, "\\u%04x", *p);
        else
            evbuffer_add(b, p, 1);
    }
    evbuffer_add(b, "\"", 1);
}

static void put_number(struct evbuffer *b, const char *s)
{
    /* Only digits, sign, '.', 'e' may pass through raw; anything else is quoted. */
    if (*s && strspn(s, "0123456789+-.eE") == strlen(s))
        evbuffer_add(b, s, strlen(s));
    else
        put_escaped(b, s);
}

static void emit(enum log_level level, const char *msg, va_list ap)
{
    char now[40];
    util_rfc3339_now(now, sizeof now);
    struct evbuffer *b = evbuffer_new();
    evbuffer_add_printf(b, "{\"time\":\"%s\",\"level\":\"%s\",\"msg\":", now, level_names[level]);
    put_escaped(b, msg);
    const char *key;
    while ((key = va_arg(ap, const char *)) != NULL) {
        const char *val = va_arg(ap, const char *);
        size_t kl = strlen(key);
        bool raw = kl > 0 && key[kl - 1] == '#';
        evbuffer_add(b, ",\"", 2);
        evbuffer_add(b, key, raw ? kl - 1 : kl);
        evbuffer_add(b, "\":", 2);
        if (!val)
            evbuffer_add(b, "null", 4);
        else if (raw)
            put_number(b, val);
        else
            put_escaped(b, val);
    }
    evbuffer_add(b, "}\n", 2);
    if (pending) {
        bool was_empty = evbuffer_get_length(pending) == 0;
        evbuffer_add_buffer(pending, b);
        if (level >= LOG_WARN || evbuffer_get_length(pending) >= LOG_BATCH_BYTES) {
            log_flush();
        } else if (was_empty) {
            struct timeval tv = {0, LOG_BATCH_MS * 1000};
            event_add(flush_timer, &tv);
        }
    } else {
        while (evbuffer_get_length(b) > 0 && evbuffer_write(b, 2) > 0)
            ;
    }
    evbuffer_free(b);
}

void log_kv(enum log_level level, const char *msg, ...)
{
    if (level < min_level)
        return;
    va_list ap;
    va_start(ap, msg);
    emit(level, msg, ap);
    va_end(ap);
}

static void emit_plain(enum log_level level, const char *msg, ...)
{
    va_list ap;
    va_start(ap, msg);
    emit(level, msg, ap);
    va_end(ap);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (level < min_level)
        return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    emit_plain(level, buf, (const char *)NULL);
}
