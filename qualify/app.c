/*
 * app: transition tables for applications and qualifications. See app.h.
 */
#include "qualify/app.h"

#include <string.h>

static const char *const app_names[APP_NSTATES] = {
    "draft", "submitted", "returned", "in_assessment", "info_requested",
    "qualified", "rejected", "withdrawn",
};

static const char *const app_event_names[APP_NEVENTS] = {
    "edit", "submit", "check_failed", "check_passed", "check_pending",
    "qualify", "reject", "request_info", "withdraw",
};

#define NONE (-1)

/* next[from][event]: the resulting state, or NONE. */
static const signed char app_table[APP_NSTATES][APP_NEVENTS] = {
    /*                    edit            submit         failed        passed         pending            qualify        reject        info                withdraw */
    [APP_DRAFT]         = {APP_DRAFT,     APP_SUBMITTED, NONE,         NONE,          NONE,              NONE,          NONE,         NONE,               APP_WITHDRAWN},
    [APP_SUBMITTED]     = {NONE,          NONE,          APP_RETURNED, APP_QUALIFIED, APP_IN_ASSESSMENT, NONE,          NONE,         NONE,               NONE},
    [APP_RETURNED]      = {APP_RETURNED,  APP_SUBMITTED, NONE,         NONE,          NONE,              NONE,          NONE,         NONE,               APP_WITHDRAWN},
    [APP_IN_ASSESSMENT] = {NONE,          NONE,          NONE,         NONE,          NONE,              APP_QUALIFIED, APP_REJECTED, APP_INFO_REQUESTED, NONE},
    [APP_INFO_REQUESTED]= {APP_INFO_REQUESTED, APP_SUBMITTED, NONE,    NONE,          NONE,              NONE,          NONE,         NONE,               APP_WITHDRAWN},
    [APP_QUALIFIED]     = {NONE,          NONE,          NONE,         NONE,          NONE,              NONE,          NONE,         NONE,               NONE},
    [APP_REJECTED]      = {NONE,          NONE,          NONE,         NONE,          NONE,              NONE,          NONE,         NONE,               NONE},
    [APP_WITHDRAWN]     = {NONE,          NONE,          NONE,         NONE,          NONE,              NONE,          NONE,         NONE,               NONE},
};

const char *app_state_name(enum app_state s)
{
    return (unsigned)s < APP_NSTATES ? app_names[s] : "unknown";
}

const char *app_event_name(enum app_event e)
{
    return (unsigned)e < APP_NEVENTS ? app_event_names[e] : "unknown";
}

bool app_state_parse(const char *name, enum app_state *out)
{
    for (int i = 0; i < APP_NSTATES; i++)
        if (strcmp(app_names[i], name) == 0) {
            *out = (enum app_state)i;
            return true;
        }
    return false;
}

bool app_next(enum app_state from, enum app_event ev, enum app_state *to)
{
    if ((unsigned)from >= APP_NSTATES || (unsigned)ev >= APP_NEVENTS)
        return false;
    int n = app_table[from][ev];
    if (n == NONE)
        return false;
    *to = (enum app_state)n;
    return true;
}

static const char *const qual_names[QUAL_NSTATES] = {"active", "suspended", "lapsed", "revoked"};
static const char *const qual_event_names[QUAL_NEVENTS] = {
    "suspend", "reinstate", "revoke", "lapse", "review_passed", "review_failed",
};

static const signed char qual_table[QUAL_NSTATES][QUAL_NEVENTS] = {
    /*                 suspend         reinstate    revoke        lapse        review_passed review_failed */
    [QUAL_ACTIVE]    = {QUAL_SUSPENDED, NONE,        QUAL_REVOKED, QUAL_LAPSED, QUAL_ACTIVE,  QUAL_SUSPENDED},
    [QUAL_SUSPENDED] = {NONE,           QUAL_ACTIVE, QUAL_REVOKED, NONE,        NONE,         NONE},
    [QUAL_LAPSED]    = {NONE,           NONE,        QUAL_REVOKED, NONE,        QUAL_ACTIVE,  QUAL_SUSPENDED},
    [QUAL_REVOKED]   = {NONE,           NONE,        NONE,         NONE,        NONE,         NONE},
};

const char *qual_state_name(enum qual_state s)
{
    return (unsigned)s < QUAL_NSTATES ? qual_names[s] : "unknown";
}

const char *qual_event_name(enum qual_event e)
{
    return (unsigned)e < QUAL_NEVENTS ? qual_event_names[e] : "unknown";
}

bool qual_state_parse(const char *name, enum qual_state *out)
{
    for (int i = 0; i < QUAL_NSTATES; i++)
        if (strcmp(qual_names[i], name) == 0) {
            *out = (enum qual_state)i;
            return true;
        }
    return false;
}

bool qual_next(enum qual_state from, enum qual_event ev, enum qual_state *to)
{
    if ((unsigned)from >= QUAL_NSTATES || (unsigned)ev >= QUAL_NEVENTS)
        return false;
    int n = qual_table[from][ev];
    if (n == NONE)
        return false;
    *to = (enum qual_state)n;
    return true;
}
