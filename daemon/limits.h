/*
 * limits: every default limit of the daemon in one place, with its reason. Each is the
 * default of a configuration key (cfg.h names the key); the bounds say what an operator may
 * set it to.
 */
#ifndef AQPD_LIMITS_H
#define AQPD_LIMITS_H

/* Bytes of request line plus headers. 16 KiB fits any sane client and a long bearer key. */
#define LIMIT_MAX_HEADER_BYTES 16384
/* Request body. The largest legitimate body is an application's answers or a criteria set. */
#define LIMIT_MAX_BODY_BYTES (1024 * 1024)
/* Open client connections. Each costs a TLS session (~50 KiB); 1024 keeps it under 64 MiB. */
#define LIMIT_MAX_CONNECTIONS 1024
/* Seconds a connection may sit idle, or take to send a request or read a reply. */
#define LIMIT_IDLE_TIMEOUT_S 60
/* Milliseconds a handler may take, database included, before the client gets a 503. */
#define LIMIT_REQUEST_TIMEOUT_MS 5000
/* POST /v1/publications reads the whole directory and derives the Open Referral feed from it
   in the database: about 4 s for the register's 5,400 sites on a small machine, so minutes for
   a national directory of tens of thousands. */
#define LIMIT_PUBLISH_TIMEOUT_MS 600000
/* Seconds in-flight requests get to finish after SIGTERM before the process exits anyway. */
#define LIMIT_SHUTDOWN_GRACE_S 10
/* Database connections. Two cores: a few connections saturate them. */
#define LIMIT_POOL_SIZE 4
/* Units of database work waiting for a connection before new ones get 503 at once. */
#define LIMIT_DB_QUEUE 4096
/* Reconnect backoff: first wait and ceiling, in milliseconds. */
#define LIMIT_DB_BACKOFF_MIN_MS 100
#define LIMIT_DB_BACKOFF_MAX_MS 5000
/* Seconds a database connection attempt may take before it is abandoned and retried. */
#define LIMIT_DB_CONNECT_TIMEOUT_S 5
/* Seconds a client is told to wait (Retry-After) when the database is unavailable. */
#define LIMIT_RETRY_AFTER_S 2
/* Public sign-ups per client address per hour: a busy office behind one address signs up a
 * few organisations a day; a script signing up thousands is stopped. */
#define LIMIT_SIGNUP_PER_HOUR 20
/* Seconds between sweeps that lapse overdue qualifications and suspend those the register now
 * shows suspended or Inadequate: a minute is prompt for a daily-scale process and costs one
 * indexed statement. */
#define LIMIT_SWEEP_INTERVAL_S 60
/* Seconds after which a vacancy figure counts as unknown in search: a provider is asked to
 * update weekly, so an older figure is more likely wrong than right. */
#define LIMIT_VACANCY_MAX_AGE_S 604800
/* Milliseconds a search answer may be served again from the answer cache. A change to the
 * index invalidates it at once whatever this is; this bounds how late an answer notices the
 * clock (vacancy figures ageing), and a second is the freshness the directory promises. */
#define LIMIT_SEARCH_CACHE_MS 1000
/* Seconds a known API key stays cached in the daemon; the cache saves every authenticated
 * request a database round trip. A change to api_key is NOTIFYed and clears the cache at once;
 * this bound holds if a notification is lost (a connection down at that moment). */
#define LIMIT_AUTH_CACHE_S 30
/* Items in one page of a list, by default and at most. */
#define LIMIT_PAGE_DEFAULT 50
#define LIMIT_PAGE_MAX 100
/* Path segments and captured parameters a route may have. */
#define LIMIT_ROUTE_PARAMS 4
/* Request URI length; longer URIs get 414. */
#define LIMIT_URI_BYTES 4096

#endif
