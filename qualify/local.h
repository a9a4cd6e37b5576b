/*
 * local: a council's locally specific requirements (DESIGN.md §1 point 3): the questions an
 * offer asks, and the checking of a provider's answers. Nothing national is asked again: the
 * national qualification is reused, and only these questions are answered per council.
 *
 * ---- Questions (an offer's "local_requirements") ----
 * [ {"id": "LR-1",                  [A-Za-z0-9_-]{1,40}, unique in the list
 *    "text": "…",                   1..2000 bytes
 *    "type": boolean | text | number | date | choice,
 *    "required": true | false,      (optional, default false)
 *    "choices": ["…", …],           choice only: 1..50 distinct non-empty strings
 *    "pass": <answer>               optional; boolean: true|false, choice: one of choices.
 *  }, … ]                           at most 50 questions
 * A question with "pass" is checked automatically: the answer passes or fails. Others are for
 * the council to read (outcome "pending" until it decides).
 *
 * ---- Answers ----
 * An object {"LR-1": <answer>, …}: boolean -> true/false, text -> string (1..5000 bytes),
 * number -> JSON number, date -> "YYYY-MM-DD", choice -> one of the choices.
 * Answering a question that does not exist, or with the wrong type, is an error (the request
 * is refused and nothing is stored); a missing required answer is an error too.
 */
#ifndef AQPD_QUALIFY_LOCAL_H
#define AQPD_QUALIFY_LOCAL_H

#include <stdbool.h>
#include <stddef.h>

#include "qualify/criteria.h"
#include "qualify/jv.h"

/* Validates a question list; false with a message naming the question and member. */
bool local_validate(const jv *questions, char *err, size_t errlen) WUR;

/*
 * Checks `answers` against `questions` (which passed local_validate). On success fills `out`
 * with one result per question (pass / fail with a reason / pending), in question order, and
 * returns true; free with crit_report_free. False with a message, and *why (if not NULL) set,
 * on an unknown question or a wrongly typed answer (LOCAL_INVALID) or a missing required one
 * (LOCAL_MISSING).
 */
enum local_error {
    LOCAL_OK,
    LOCAL_INVALID, /* an unknown question or a wrongly typed answer: the request is malformed */
    LOCAL_MISSING, /* a required answer is missing: well-formed, but not acceptable */
};
bool local_check(const jv *questions, const jv *answers, struct crit_report *out,
                 enum local_error *why, char *err, size_t errlen) WUR;

#endif
