/*
 * criteria: national criteria sets as data (DESIGN.md §4) and their evaluation. Owns the
 * document format, its validation when a set is loaded or published, and the per-criterion
 * results of an application: automatic checks evaluated by rule.c, judgement criteria scored
 * by an assessor against a stated pass mark. Pure: the caller passes the facts, the registers
 * and today's date.
 *
 * ---- Document ----
 * {
 *   "version": 1,                         positive integer
 *   "title": "…", "published": "2026-12-01" (optional), "contract_terms_version": "2026-1"
 *   "criteria": [ {
 *       "id": "LEG-1",                    [A-Z]{2,5}-[0-9]{1,3}, unique
 *       "title": "…", "description": "…" (optional),
 *       "category": legal | financial | registration | workforce | contract | quality | service
 *       "service_types": ["*"] or a list of service type codes
 *       "organisation_kinds": ["provider", "consortium"] (optional; default both)
 *       "questions": ["answers.path", …] (optional: the answers it reads, for forms and docs)
 *       and exactly one of
 *       "checks": [ {"rule": <JsonLogic>, "reason": "what to fix"}, … ]   automatic, all must pass
 *       "judgement": {"max_score": 5, "pass_mark": 3, "guidance": "…"}  scored by an assessor
 *   }, … ]
 * }
 * Unknown members are errors (a misspelt "judgment" must not silently make a criterion
 * automatic). Every rule is checked with rule_validate when the set is loaded.
 *
 * ---- Facts a rule sees (the data of rule_eval) ----
 * {"answers": {…the application's answers…},
 *  "organisation": {"kind": "provider", "sector": "private", "members": [{"role": …}, …]},
 *  "service_type": {"code": "childrens-home", "regulator": "ofsted" | null,
 *                   "ofsted_provision_types": ["Children's home", …]}}
 * and the registers (rule_ctx.registers), e.g. {"ofsted": {"<URN>": {…register row…}}}.
 * A criterion applies to an application when its service_types contain "*" or the code, and
 * its organisation_kinds contain the organisation's kind.
 */
#ifndef AQPD_QUALIFY_CRITERIA_H
#define AQPD_QUALIFY_CRITERIA_H

#include <stdbool.h>
#include <stddef.h>

#include "qualify/app.h"
#include "qualify/jv.h"

struct crit_set;

/* Validates and loads a criteria document (borrowed; copied). NULL with a message naming the
 * criterion and member on error. */
struct crit_set *crit_load(const jv *doc, char *err, size_t errlen) WUR;
void crit_free(struct crit_set *set);
int crit_version(const struct crit_set *set);
size_t crit_count(const struct crit_set *set);

enum crit_outcome {
    CRIT_PASS,
    CRIT_FAIL,
    CRIT_PENDING, /* a judgement criterion not yet scored */
};
const char *crit_outcome_name(enum crit_outcome o);

struct crit_result {
    const char *id;    /* borrowed from the set */
    const char *title; /* borrowed from the set */
    bool judgement;
    enum crit_outcome outcome;
    char *reason;      /* owned; NULL on a pass */
    long long score;   /* judgement only, when scored; -1 otherwise */
};

struct crit_report {
    struct crit_result *items; /* in the set's order, only criteria that apply */
    size_t n;
    size_t failed, pending;
};

/*
 * Runs every automatic criterion that applies (judgement criteria come out pending) against
 * `facts` and `registers` (borrowed) on date y-m-d. False only on a rule error (err says which
 * criterion); failing checks are results, not errors.
 */
bool crit_evaluate(const struct crit_set *set, const char *service_type, const char *org_kind,
                   const jv *facts, const jv *registers, int y, int m, int d,
                   struct crit_report *out, char *err, size_t errlen) WUR;

/*
 * Scores the judgement criteria that apply from `scores` ({"QUA-1": 4, …}): each must be
 * scored with an integer 0..max_score; pass at or above the pass mark. Automatic criteria are
 * not in this report. False with a message on a missing, unknown or out-of-range score.
 */
bool crit_judge(const struct crit_set *set, const char *service_type, const char *org_kind,
                const jv *scores, struct crit_report *out, char *err, size_t errlen) WUR;

void crit_report_free(struct crit_report *r);

/* What submitting leads to: APP_EV_CHECK_FAILED, _PENDING or _PASSED. */
enum app_event crit_submit_event(const struct crit_report *r);

/* The report as a JSON array of {"criterion","title","outcome","reason"?,"score"?}; caller frees. */
char *crit_report_json(const struct crit_report *r);

#endif
