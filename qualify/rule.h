/*
 * rule: evaluates automatic criteria rules (DESIGN.md §4). A rule is JSON in a documented
 * subset of JsonLogic (jsonlogic.com) plus the domain operators the qualification needs. It is
 * evaluated against the answers, the reference registers and "today", all passed in by the
 * caller: nothing here reads a clock, a file or the database. Owns the operator semantics
 * below, the identifier format matchers, and the evaluation limits.
 *
 * ---- Shape (as JsonLogic) ----
 * An object with exactly one key is an operation {"op": args}; args is an array of arguments,
 * or a single non-array argument ({"var": "x"} is {"var": ["x"]}). An array is evaluated
 * element by element. Anything else (scalars, objects with zero or several keys) is a literal.
 *
 * ---- Truthiness (as JsonLogic) ----
 * Falsy: null, false, 0, 0.0, "" and []. Everything else is truthy, including "0", "false" and
 * {} (an empty object). A missing value reads as null.
 *
 * ---- Operators ----
 * var [path] | [path, default]   path "a.b.0" (see jv_path) or an integer index into the data;
 *     "", null or no argument give the whole data. A missing value gives default, or null. A
 *     value that is present but null is returned as null (the default is not used).
 * missing [k...] | [[k...]]      the keys (strings or integers) whose value is missing, null
 *     or "", as an array in argument order.
 * == != (=== !== as aliases)     strict, deep equality: values of different JSON types are
 *     never equal, except that integers and doubles compare by value (1 == 1.0). Arrays and
 *     objects compare by content (objects ignore member order).
 * < <= [a, b] | [a, b, c]        the 3-argument form is "between": a < b < c, a <= b <= c.
 * > >= [a, b]                    Numbers compare by value (integers exactly, never rounded
 *     through double); strings compare bytewise (so ISO dates order correctly). Any other pair
 *     of types, including null, is not ordered and the comparison is false.
 * ! !! [a]                       boolean negation / boolean cast by truthiness.
 * and or [a, ...]                at least one argument; short-circuit; return the deciding
 *     value itself, as JsonLogic does (first falsy / first truthy, else the last).
 * if ?: [c1, v1, c2, v2, ..., else]   else-if chains; no else gives null; [] gives null.
 * in [needle, haystack]          haystack string: needle is a substring (needle must be a
 *     string); haystack array: some element == needle (strict equality as above); else false.
 * matches [value, format]        true if value is a string in the named format (see
 *     rule_matches); a non-string value is false. format must be a known format name.
 * days_until [date]              whole days from today to date (negative if past). date is
 *     "YYYY-MM-DD", optionally followed by "T" and a time that is ignored (Ofsted writes
 *     "2024-11-05T00:00:00"). Anything else, including impossible dates, gives null.
 * register_lookup [register, key] | [register, key, field]
 *     the entry stored under key (a string; an integer is looked up by its decimal form) in
 *     the named register of ctx->registers, or its field (a jv_path) when field is given, or
 *     null when the key or field is absent or the key is neither string nor integer. A
 *     register name that ctx->registers lacks is an error, not a failed check, because it is a
 *     deployment mistake rather than a provider's.
 *
 * ---- Deliberate differences from json-logic-js ----
 *  - No type coercion: "1" == 1 is false, "10" < 9 is false, null < 1 is false, [1] == 1 is
 *    false. A provider's answer of the wrong type fails a check; it is never reinterpreted.
 *  - == compares arrays and objects by content, not identity.
 *  - var does not index into strings.
 *  - Not implemented: arithmetic, string and array operators (cat, substr, map, filter, ...),
 *    missing_some, log. Using them is an "unknown operator" error.
 *
 * ---- Errors ----
 * A malformed rule (unknown operator, wrong number of arguments, a format or register name that
 * is not a string, an unknown format, an unsupplied register) is an error with a message that
 * names the problem and the place in the rule as a JSON Pointer ("at /and/1"). Data of the
 * wrong type is never an error, only a value that fails. Evaluation is bounded in nesting
 * (RULE_MAX_DEPTH) and work (max_steps); exceeding either is an error, never a crash.
 */
#ifndef AQPD_QUALIFY_RULE_H
#define AQPD_QUALIFY_RULE_H

#include <stdbool.h>
#include <stddef.h>

#include "qualify/jv.h"

/* Operators and array literals nested in one rule; real criteria nest fewer than 10. */
#define RULE_MAX_DEPTH 64
/* Operations (and values copied) in one evaluation unless ctx->max_steps says otherwise; a
 * criteria rule takes tens, this stops a hostile or broken rule in about a millisecond. */
#define RULE_DEFAULT_MAX_STEPS 100000
/* A buffer this large holds any error message in full. */
#define RULE_ERRLEN 256

struct rule_ctx {
    const jv *data;      /* the answers; borrowed; NULL reads as null */
    const jv *registers; /* object: register name -> object: key -> entry; borrowed; may be NULL */
    int year, month, day; /* the evaluation's "today" (days_until); must be a real date */
    size_t max_steps;     /* 0 = RULE_DEFAULT_MAX_STEPS */
};

/*
 * Evaluates rule against ctx. On success *out is a new value the caller owns (jv_free).
 * On failure returns false, *out is NULL and err (errlen bytes, may be NULL/0) says why.
 * rule and everything in ctx are only read, so one criteria set and one register can be
 * shared by concurrent evaluations.
 */
bool rule_eval(const jv *rule, const struct rule_ctx *ctx, jv **out, char *err,
               size_t errlen) WUR;

enum rule_outcome {
    RULE_ERROR = -1, /* the rule is malformed or exceeded a limit; err says why */
    RULE_FAIL = 0,   /* the rule evaluated to a falsy value */
    RULE_PASS = 1,   /* the rule evaluated to a truthy value */
};

/* Evaluates rule and reduces the result to pass or fail by truthiness. */
enum rule_outcome rule_check(const jv *rule, const struct rule_ctx *ctx, char *err,
                             size_t errlen) WUR;

/*
 * Checks a rule without data, as when a criteria set is published: every operator known,
 * every argument count right, and every literal format name, register name, var path and
 * missing key of the right type. Walks branches that evaluation might skip. A rule that
 * passes can still fail at evaluation on things only data decides (a computed format name, a
 * register the caller did not supply, the step limit).
 */
bool rule_validate(const jv *rule, char *err, size_t errlen) WUR;

/* JsonLogic truthiness, as above. NULL is falsy. */
bool rule_truthy(const jv *v);

/*
 * Matches s[0..len) against a named identifier format. 1 = matches, 0 = does not, -1 = no
 * such format. Letters are upper case only except in postcodes. Formats:
 *   "GB-COH"   Companies House company number, 8 characters: 8 digits ("01234567"), or a
 *              registration prefix and 6 digits. Prefixes: AC CE CS ES FC GE GN GS IP LP NA NC
 *              NF NI NL NP NR NZ OC R0 RC SA SC SE SF SL SO SP SR SZ ZC ("R0" is R, zero).
 *   "GB-CHC"   Charity Commission (England and Wales) registered charity number: 6 to 8
 *              digits, the first not 0 ("1123456", "202918"). Linked-charity suffixes ("-1")
 *              are not accepted.
 *   "SWE"      Social Work England registration number: "SW" and 1 to 7 digits ("SW123456").
 *   "URN"      Ofsted social care unique reference number, as in Ofsted's published provider
 *              data: 7 digits, the first not 0 ("2590934"), or "SC" and 6 digits ("SC489416").
 *   "postcode" UK postcode: outward code A9, A99, AA9, AA99, A9A or AA9A, then inward code 9AA,
 *              with the Royal Mail letter restrictions per position (first letter not Q, V, X;
 *              second not I, J, Z; a third-position letter from ABCDEFGHJKPSTUW, fourth from
 *              ABEHMNPRVWXY; inward letters not C, I, K, M, O, V), plus "GIR 0AA". Letters in
 *              either case; at most one space, and only between the two codes.
 */
int rule_matches(const char *format, const char *s, size_t len) WUR;

#endif
