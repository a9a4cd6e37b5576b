/*
 * jv: JSON values for qualify/ and for whoever hands it data. Owns the value tree (null, bool,
 * 64-bit integer and double kept distinct, optionally with the text each was written as,
 * NUL-free UTF-8 string with length, array, object in key order), the bounded parser that
 * builds it (yajl_parse callbacks, every input limit enforced while parsing, never
 * yajl_tree_parse), and a compact serialiser.
 *
 * Invariants every jv holds, whether parsed or built:
 *  - strings and object keys are valid UTF-8 with no NUL byte, so they are also C strings;
 *  - an object has no duplicate keys; member order is insertion order;
 *  - numbers are finite; an integer is always JV_INT, never a double.
 * A tree is not shared: a value is owned by exactly one parent (or by the caller when it is a
 * root). Parsed trees are never modified; the builders below are for constructing new ones.
 * Every walk (free, copy, compare, dump) is iterative, so no nesting depth can overflow the
 * C stack. Nothing here does I/O. Out of memory aborts (qualify/xalloc.h).
 *
 * Not thread-safe for writes; concurrent readers of one finished tree are fine. Numbers are
 * read with strtod and written with snprintf, so the process must keep the C numeric locale
 * (the default: nothing in aqpd calls setlocale).
 */
#ifndef AQPD_QUALIFY_JV_H
#define AQPD_QUALIFY_JV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifndef WUR
#define WUR __attribute__((warn_unused_result))
#endif

typedef struct jv jv;

enum jv_type {
    JV_NULL,
    JV_BOOL,
    JV_INT,    /* int64_t; JSON numbers without fraction or exponent */
    JV_NUMBER, /* finite double; JSON numbers with '.', 'e' or 'E' (so 1.0 stays a double) */
    JV_STRING,
    JV_ARRAY,
    JV_OBJECT,
};

/*
 * Parser limits. The defaults suit an API request body and a criteria set; an operator can
 * change them through the daemon's configuration. A field left 0 takes its default.
 */
#define JV_DEFAULT_MAX_BYTES (1u << 20)   /* 1 MiB: far above any real application's answers */
#define JV_DEFAULT_MAX_DEPTH 64           /* nesting of arrays and objects; forms nest < 10 */
#define JV_DEFAULT_MAX_STRING (64u << 10) /* one string, key or number text, in bytes */
#define JV_DEFAULT_MAX_MEMBERS 10000      /* elements of one array or members of one object */
#define JV_DEFAULT_MAX_NODES 200000       /* values in the whole document (memory amplification) */

struct jv_limits {
    size_t max_bytes;
    size_t max_depth;
    size_t max_string;
    size_t max_members;
    size_t max_nodes;
};

/* Why a parse failed: a message for a human and a byte offset in the input. For encoding
 * errors (NUL, UTF-8, escapes) the offset is where the bad sequence starts; for grammar and
 * limit errors it is just past the token that was rejected. */
struct jv_error {
    size_t offset;
    char msg[160];
};

/*
 * Parses exactly one JSON value from buf[0..len). limits may be NULL (all defaults).
 * Rejects: more than max_bytes, a NUL byte (raw or as \u0000), invalid UTF-8 (overlong forms,
 * surrogates, > U+10FFFF, unpaired \uD800-\uDFFF escapes), nesting deeper than max_depth, a
 * string/key/number text longer than max_string, an array or object with more than
 * max_members entries, more than max_nodes values, a duplicate key in one object, an integer
 * outside int64_t, a number that overflows a double, comments, and anything after the value
 * but whitespace. On success *out owns the new tree (free with jv_free); on failure *out is
 * NULL and err (if not NULL) says why and where.
 */
bool jv_parse(const char *buf, size_t len, const struct jv_limits *limits, jv **out,
              struct jv_error *err) WUR;

/* Options of jv_parse_opts (bits). */
enum jv_parse_flag {
    /* Every number keeps the text it was written as (jv_number_text), for a caller that must
     * re-emit numbers exactly as they came ("53.818500" stays that, not 53.8185). Costs one
     * allocation per number. */
    JV_KEEP_NUMBER_TEXT = 1u << 0,
};

/* jv_parse with options: flags is 0 (exactly jv_parse) or enum jv_parse_flag bits. */
bool jv_parse_opts(const char *buf, size_t len, const struct jv_limits *limits, unsigned flags,
                   jv **out, struct jv_error *err) WUR;

/* Frees v and everything under it. NULL is a no-op. v must be a root (owned by no parent). */
void jv_free(jv *v);

/* Deep copy; the caller owns the result. */
jv *jv_copy(const jv *v);

/* Number of values in the tree under v (v included), counting no further than limit: a
 * caller can price a copy before making it. */
size_t jv_count(const jv *v, size_t limit);

/* Values with static storage, never freed, for "borrowed" results. */
const jv *jv_static_null(void);
const jv *jv_static_bool(bool b);

/* ---- type and scalar access (v may be NULL: it is then of no type and all these are false) */

enum jv_type jv_typeof(const jv *v); /* JV_NULL for NULL */
bool jv_is_null(const jv *v);
bool jv_is_bool(const jv *v);
bool jv_is_int(const jv *v);
bool jv_is_double(const jv *v);
bool jv_is_number(const jv *v); /* JV_INT or JV_NUMBER */
bool jv_is_string(const jv *v);
bool jv_is_array(const jv *v);
bool jv_is_object(const jv *v);

bool jv_bool(const jv *v);           /* false unless a JV_BOOL true */
int64_t jv_int(const jv *v);         /* 0 unless JV_INT */
double jv_double(const jv *v);       /* JV_INT converted, JV_NUMBER as is, else 0 */
/* Borrowed pointer to the NUL-terminated bytes of a string (length in *len if not NULL), or
 * NULL if v is not a string. */
const char *jv_str(const jv *v, size_t *len);

/* Borrowed text of a number as written in the JSON it was parsed from with
 * JV_KEEP_NUMBER_TEXT (NUL-terminated, e.g. "53.818500", "-0", "1E5"); NULL for a number
 * parsed without it or built by jv_new_*, and for anything but a number. jv_copy keeps it;
 * jv_equal and jv_dump ignore it. */
const char *jv_number_text(const jv *v);

/* Elements of an array, members of an object, bytes of a string; 0 for anything else. */
size_t jv_len(const jv *v);

/* Borrowed element i of an array; NULL if v is not an array or i is out of range. */
const jv *jv_index(const jv *v, size_t i);

/* Borrowed member value by key; NULL if v is not an object or has no such key. Objects with
 * many members keep a hash index, so this is O(1) on large reference registers. */
const jv *jv_get(const jv *v, const char *key);
const jv *jv_getn(const jv *v, const char *key, size_t klen);

/* Member i of an object in order: returns the borrowed value and sets *key and *klen (each may be
 * NULL); NULL if v is not an object or i is out of range. */
const jv *jv_member(const jv *v, size_t i, const char **key, size_t *klen);

/*
 * Dotted path lookup as JsonLogic "var" does it: "a.b.0.c". Each component is looked up as a
 * key in an object, or as a decimal index (no sign, no leading zeros) in an array. An empty
 * path returns root. A key containing '.' cannot be reached. Returns the borrowed value or
 * NULL when any step is missing (a JSON null that is present is returned, not NULL).
 */
const jv *jv_path(const jv *root, const char *path, size_t len);

/*
 * Deep equality with numeric comparison across JV_INT and JV_NUMBER (1 == 1.0, exactly, with
 * no rounding of large integers). Objects compare as key sets, ignoring member order. NULL
 * equals only NULL.
 */
bool jv_equal(const jv *a, const jv *b);

/*
 * Compares two numbers (JV_INT or JV_NUMBER) exactly: -1, 0 or 1 in *cmp. False if either is
 * not a number.
 */
bool jv_num_cmp(const jv *a, const jv *b, int *cmp) WUR;

/* ---- building (each new value is owned by the caller until added to a container) */

jv *jv_new_null(void);
jv *jv_new_bool(bool b);
jv *jv_new_int(int64_t i);
/* A non-finite d (NaN, infinity) has no JSON form and becomes null. */
jv *jv_new_double(double d);
/* Copies s[0..len). NULL (nothing allocated) if s contains NUL or is not valid UTF-8. */
jv *jv_new_string(const char *s, size_t len) WUR;
jv *jv_new_array(void);
jv *jv_new_object(void);

/* Appends item to arr, which takes ownership. Aborts if arr is not an array, is already part of
 * another container (trees are built bottom-up), or item is arr or already owned: those are
 * programming errors that would corrupt or cycle the tree. */
void jv_array_push(jv *arr, jv *item);

/* Adds key -> val to obj, which takes ownership of val on success. Fails (obj and val
 * unchanged, val still the caller's) when the key is already present, contains NUL or is not
 * valid UTF-8. Aborts on the same programming errors as jv_array_push. */
bool jv_object_add(jv *obj, const char *key, size_t klen, jv *val) WUR;

/* ---- output */

/*
 * Compact JSON text of v, NUL-terminated, caller frees; length in *len if not NULL.
 * Members in stored order, strings escaped minimally ("\\", "\"", control characters), UTF-8
 * passed through, integers in decimal, doubles in the shortest form that reads back to the
 * same double and always with a '.' or exponent so they read back as doubles.
 * jv_parse(jv_dump(v)) is equal to v, types included.
 */
char *jv_dump(const jv *v, size_t *len);

/* True if s[0..len) is valid UTF-8 (no overlong forms, surrogates or code points past
 * U+10FFFF). NUL bytes are valid UTF-8; check for them separately. */
bool jv_utf8_valid(const char *s, size_t len);

/*
 * Seeds the keyed hash used by object indexes (SipHash-1-3), so an attacker cannot precompute
 * colliding keys. Call once at start-up, before any jv exists and before threads start; the
 * daemon passes 16 random bytes. Without it a fixed built-in key is used.
 */
void jv_set_hash_seed(const unsigned char seed[16]);

#endif
