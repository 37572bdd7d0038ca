/* SPDX-License-Identifier: MIT */
/*
 * What a database error means (see store_internal.h): the SQLSTATE table,
 * the one place that maps libpq failures to enum code and to what the
 * connection needs before the next statement, and the decision to run a
 * failed statement once more.
 *
 * Invariant: a statement the server failed (it sent a SQLSTATE) did not
 * commit, so a retryable one may run once more, on a mended connection,
 * if the deadline allows; a connection lost without the server's word
 * leaves the outcome unknown and is never retried.
 */
#include <string.h>

#include <libpq-fe.h>

#include "base/log.h"
#include "store/store.h"
#include "store/store_internal.h"

/*
 * SQLSTATE -> code and action, the one place that decides what a database
 * error means.  An entry of two characters is a whole class.  The first
 * match wins; a state not listed is INTERNAL (a bug or a schema the code
 * does not know).  The code is what the caller gets when no retry is made
 * or the one retry failed too.
 */
static const struct sqlstate_rule {
	const char       *state;  /* SQLSTATE or class */
	enum code         code;   /* answer if not (or no longer) retried */
	enum store_action action; /* what the connection needs */
} sqlstate_rules[] = {
	/* The caller's values, refused by a constraint or a cast. */
	{ "22P02", CODE_INVALID_ARGUMENT, ACT_NONE }, /* invalid text */
	{ "22003", CODE_INVALID_ARGUMENT, ACT_NONE }, /* out of range */
	{ "22021", CODE_INVALID_ARGUMENT, ACT_NONE }, /* bad encoding */
	{ "23514", CODE_INVALID_ARGUMENT, ACT_NONE }, /* check violation */
	/* Our deadline's cancel, or statement_timeout. */
	{ "57014", CODE_DEADLINE_EXCEEDED, ACT_NONE },
	/* Lost the race with another transaction: rolled back. */
	{ "40001", CODE_UNAVAILABLE, ACT_RETRY }, /* serialization */
	{ "40P01", CODE_UNAVAILABLE, ACT_RETRY }, /* deadlock victim */
	/* Our prepared statements are gone (DEALLOCATE, a pooler) or their
	 * plans no longer fit the schema ("cached plan must not change
	 * result type" after a migration). */
	{ "26000", CODE_UNAVAILABLE, ACT_REPREPARE },
	{ "0A000", CODE_UNAVAILABLE, ACT_REPREPARE },
	/* A read-only session: a standby after a failover, or
	 * default_transaction_read_only.  A new connection lets a multi-host
	 * conninfo with target_session_attrs=read-write find the primary. */
	{ "25006", CODE_UNAVAILABLE, ACT_RECONNECT },
	/* The server ended or refuses the session. */
	{ "57P01", CODE_UNAVAILABLE, ACT_RECONNECT }, /* admin shutdown */
	{ "57P02", CODE_UNAVAILABLE, ACT_RECONNECT }, /* crash shutdown */
	{ "57P03", CODE_UNAVAILABLE, ACT_RECONNECT }, /* cannot connect now */
	{ "57P05", CODE_UNAVAILABLE,
	    ACT_RECONNECT }, /* idle session timeout */
	{ "25P03", CODE_UNAVAILABLE, ACT_RECONNECT }, /* idle in transaction
	                                                  timeout */
	{ "08", CODE_UNAVAILABLE, ACT_RECONNECT }, /* connection exception */
	/* Out of connections, memory or disk: retrying now only adds load. */
	{ "53", CODE_UNAVAILABLE, ACT_NONE },
};

static const struct sqlstate_rule *
sqlstate_rule(const char *state)
{
	size_t i;

	for (i = 0; i < sizeof(sqlstate_rules) / sizeof(*sqlstate_rules);
	     i++) {
		const char *r = sqlstate_rules[i].state;

		if (strncmp(state, r, strlen(r)) == 0)
			return &sqlstate_rules[i];
	}
	return NULL;
}

enum code
store_code_sqlstate(const char *state)
{
	const struct sqlstate_rule *rule;

	if (state == NULL || (rule = sqlstate_rule(state)) == NULL)
		return CODE_INTERNAL;
	return rule->code;
}

/*
 * The code for a failed statement and what its connection needs.  Only an
 * error the server sent (it has a SQLSTATE) proves the statement did not
 * commit, and only then is an action other than ACT_NONE returned.  A
 * session the server ended with an error (FATAL: 57P01, say, when the
 * backend was terminated) needs a reconnect whatever the SQLSTATE; a
 * connection lost without the server's word (no SQLSTATE) leaves the
 * outcome unknown: UNAVAILABLE, never retried.
 */
enum code
store_classify(
    const struct store *st, const PGresult *res, enum store_action *act)
{
	const char *state =
	    res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	bool lost = st->conn == NULL || PQstatus(st->conn) == CONNECTION_BAD;
	const struct sqlstate_rule *rule;

	*act = ACT_NONE;
	if (state == NULL)
		return lost || st->commit_unconfirmed ? CODE_UNAVAILABLE
		                                      : CODE_INTERNAL;
	if (lost) {
		*act = ACT_RECONNECT;
		return CODE_UNAVAILABLE;
	}
	if ((rule = sqlstate_rule(state)) == NULL)
		return CODE_INTERNAL;
	*act = rule->action;
	return rule->code;
}

/* Leave the connection fit for the next statement after `act`. */
void
store_mend(struct store *st, enum store_action act)
{
	switch (act) {
	case ACT_REPREPARE:
		st->prepared = false; /* store_prepare() deallocates first */
		break;
	case ACT_RECONNECT:
		store_disconnect(st);
		break;
	case ACT_NONE:
	case ACT_RETRY:
		break;
	}
}

enum code
store_fail(struct store *st, const char *what, const PGresult *res)
{
	enum store_action act;
	enum code         code;

	if (!(res == NULL && st->commit_unconfirmed)) /* else logged */
		store_pq_log(what, st->conn, res);
	code = store_classify(st, res, &act);
	store_mend(st, act);
	if (st->conn != NULL && PQstatus(st->conn) == CONNECTION_BAD)
		st->prepared = false; /* store_ready() reconnects */
	return code;
}

/* Whether a retry of a call bounded by deadline_ns may start now: the
 * action asks for one, the deadline has not passed, and the connection
 * is (or could now be made) usable. */
bool
store_may_retry(struct store *st, enum store_action act, uint64_t deadline_ns)
{
	if (act == ACT_NONE)
		return false;
	store_mend(st, act);
	if (deadline_ns != 0 && clock_now_ns() >= deadline_ns)
		return false;
	if (!store_usable(st))
		return false;
	st->retries++;
	return true;
}

/* The retry failed as well and asks for a new connection again: the
 * server accepts sessions that cannot do the work (read-only, shutting
 * down), so wait (jittered) before the next one. */
void
store_retry_failed(struct store *st, enum store_action act)
{
	if (act == ACT_RECONNECT)
		store_backoff(st);
}

bool
store_request_id_used(const PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *cons  = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);

	return state != NULL && strcmp(state, "23505") == 0 && cons != NULL &&
	       strcmp(cons, "request_log_pkey") == 0;
}
