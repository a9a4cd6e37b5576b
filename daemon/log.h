/*
 * log: structured logs, one JSON object per line on stderr (journald-friendly). Each line has
 * "time", "level" and "msg", plus any fields the caller adds. Not thread-safe by design: the
 * daemon logs from its single event-loop thread.
 */
#ifndef AQPD_LOG_H
#define AQPD_LOG_H

#include <stdarg.h>
#include <stdbool.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_set_level(enum log_level level);

/*
 * With an event base, info and debug lines are batched and written when 16 KiB accumulate or
 * 50 ms after the first one (one write per batch instead of one per request); warnings and
 * errors flush at once. NULL flushes and returns to writing every line as it comes.
 */
struct event_base;
void log_attach(struct event_base *base);
void log_flush(void);
bool log_enabled(enum log_level level);
/* Parses "debug", "info", "warn" or "error". */
bool log_parse_level(const char *s, enum log_level *out);

/*
 * Writes one line. `fields` is a NULL-terminated list of key, value string pairs added after
 * "msg"; values are JSON-escaped. Keys whose name ends in '#' are written as raw JSON numbers
 * (the '#' is dropped), e.g. "status#", "200".
 */
void log_kv(enum log_level level, const char *msg, ...) __attribute__((sentinel));

/* printf-style message with no extra fields. */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
