/*
 * problem: RFC 9457 problem details. Every error the API sends is built here, so every error
 * has the same shape: {"type","title","status","detail","code"[,"instance"]} with media type
 * application/problem+json. `code` is the stable machine-readable name clients switch on; `type`
 * is "urn:aqpd:problem:<code>". The catalogue of codes is docs/problems.md.
 */
#ifndef AQPD_PROBLEM_H
#define AQPD_PROBLEM_H

struct evbuffer;

#define PROBLEM_CONTENT_TYPE "application/problem+json"

/* The standard reason phrase for a status ("Not Found"), or "Error" for unknown codes. */
const char *problem_title(int status);

/*
 * Appends the problem document to `out`. `code` must be a non-empty [a-z0-9_] token; `detail`
 * is free text for a person (may be NULL: the title is used); `instance` may be NULL.
 */
void problem_write(struct evbuffer *out, int status, const char *code, const char *detail,
                   const char *instance);

#endif
