/*
 * app: the state machines of the national pipeline: applications and qualifications. Pure:
 * every transition the API makes is asked of these functions first, and the write then
 * requires the prior state in its WHERE clause, so a transition is legal here and atomic there.
 */
#ifndef AQPD_QUALIFY_APP_H
#define AQPD_QUALIFY_APP_H

#include <stdbool.h>

/* Application states (DESIGN.md §3). */
enum app_state {
    APP_DRAFT,          /* being written by the provider. Next: submitted, withdrawn */
    APP_SUBMITTED,      /* automatic checks running (transient, inside submit). Next: returned,
                           in_assessment, qualified */
    APP_RETURNED,       /* an automatic check failed; the provider fixes it. Next: submitted, withdrawn */
    APP_IN_ASSESSMENT,  /* waiting for an assessor's judgement. Next: info_requested, qualified, rejected */
    APP_INFO_REQUESTED, /* the assessor asked for more; the provider edits. Next: submitted, withdrawn */
    APP_QUALIFIED,      /* final: a qualification exists */
    APP_REJECTED,       /* final, with a reason */
    APP_WITHDRAWN,      /* final: the provider gave up */
    APP_NSTATES
};

/* What is asked of an application. */
enum app_event {
    APP_EV_EDIT,          /* change answers: allowed in draft, returned, info_requested */
    APP_EV_SUBMIT,        /* provider submits */
    APP_EV_CHECK_FAILED,  /* automatic checks: a mandatory automatic criterion failed */
    APP_EV_CHECK_PASSED,  /* automatic checks: all pass and no judgement criteria */
    APP_EV_CHECK_PENDING, /* automatic checks: all pass, judgement criteria remain */
    APP_EV_QUALIFY,       /* assessor qualifies */
    APP_EV_REJECT,        /* assessor rejects (needs a reason) */
    APP_EV_REQUEST_INFO,  /* assessor asks for more information */
    APP_EV_WITHDRAW,      /* provider withdraws */
    APP_NEVENTS
};

const char *app_state_name(enum app_state s);
bool app_state_parse(const char *name, enum app_state *out) __attribute__((warn_unused_result));
const char *app_event_name(enum app_event e);

/*
 * The state after `ev` in state `from`; false when the transition is illegal. APP_EV_EDIT
 * leaves the state unchanged when legal.
 */
bool app_next(enum app_state from, enum app_event ev, enum app_state *to)
    __attribute__((warn_unused_result));

/* Qualification states. */
enum qual_state {
    QUAL_ACTIVE,    /* listed in the directory. Next: suspended, lapsed, revoked */
    QUAL_SUSPENDED, /* temporarily not listed (board, or a register finding). Next: active, revoked */
    QUAL_LAPSED,    /* review or evidence overdue. Next: active (after a review), revoked */
    QUAL_REVOKED,   /* final */
    QUAL_NSTATES
};

enum qual_event {
    QUAL_EV_SUSPEND,
    QUAL_EV_REINSTATE,
    QUAL_EV_REVOKE,
    QUAL_EV_LAPSE,
    QUAL_EV_REVIEW_PASSED, /* annual re-assessment passed: review_due moves on a year */
    QUAL_EV_REVIEW_FAILED, /* annual re-assessment failed: suspends */
    QUAL_NEVENTS
};

const char *qual_state_name(enum qual_state s);
bool qual_state_parse(const char *name, enum qual_state *out) __attribute__((warn_unused_result));
const char *qual_event_name(enum qual_event e);
bool qual_next(enum qual_state from, enum qual_event ev, enum qual_state *to)
    __attribute__((warn_unused_result));

#endif
