/* SPDX-License-Identifier: MIT */
/*
 * checker_test: the history checker on hand-made histories.  Each anomaly
 * the checker exists to catch (a lost update, a double success, a bad
 * conflict, a stale read, a phantom value, a wrong final state) has a
 * history that must FAIL; valid histories, including both fates of an
 * indeterminate write, must PASS.  Also the text form round trip,
 * merging files and a torn last line.  AdjustStock and ReserveStock
 * (the counter model): valid histories with refusals and indeterminate
 * calls PASS; a half-applied reservation, a split outcome, a lost delta,
 * two writes at one version, an unjustified refusal, a negative stock, a
 * stale read and a refused write applied FAIL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "history.h"

#define ID  "00000000-0000-4000-8000-000000000001"
#define ID2 "00000000-0000-4000-8000-000000000002"
#define INF HIST_NO_TIME

static struct history h;

static int
setup(void **state)
{
	(void)state;
	history_init(&h);
	assert_int_equal(history_add_product(&h, ID, 1, 0), 0);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	history_fini(&h);
	return 0;
}

static void
upd(int client, int64_t exp, int64_t stock, int64_t t0, int64_t t1, int code,
    int64_t rv, int64_t rs)
{
	struct hist_op op = { client, HIST_UPDATE, 0, exp, stock, t0, t1, code,
		rv, rs, 0 };
	assert_true(history_add_op(&h, &op) >= 0);
}

static void
rd(int client, int64_t t0, int64_t t1, int code, int64_t rv, int64_t rs)
{
	struct hist_op op = { client, HIST_READ, 0, 0, 0, t0, t1, code, rv, rs,
		0 };
	assert_true(history_add_op(&h, &op) >= 0);
}

static void
fin(int64_t v, int64_t s)
{
	assert_int_equal(history_add_final(&h, 0, "rpc", v, s), 0);
}

/* Check, print the report, return the verdict (0 PASS). */
static int
check(const char *what)
{
	struct check_opts   o = { 1 };
	struct check_report r;
	int                 rv = history_check(&h, &o, &r);

	history_report_print(stdout, what, &r);
	if (rv == 0)
		assert_int_equal(r.violations, 0);
	else
		assert_true(r.violations > 0 && r.first[0] != '\0');
	return rv;
}

/* --- histories that must PASS ------------------------------------------ */

static void
test_valid_concurrent(void **state)
{
	(void)state;
	/* c1 and c2 race from version 1: c1 wins, c2 conflicts (sees 2). */
	upd(1, 1, 10, 0, 10, HIST_OK, 2, 10);
	upd(2, 1, 20, 1, 12, HIST_ABORTED, 2, 10);
	/* c2 retries on 2 and wins; a concurrent read sees either. */
	upd(2, 2, 21, 13, 20, HIST_OK, 3, 21);
	rd(3, 14, 22, HIST_OK, 2, 10);
	rd(3, 23, 25, HIST_OK, 3, 21);
	/* c1 was slow: its stale conflict still shows 3. */
	upd(1, 2, 11, 15, 30, HIST_ABORTED, 3, 21);
	fin(3, 21);
	assert_int_equal(check("valid concurrent"), 0);
}

static void
test_indeterminate_applied(void **state)
{
	(void)state;
	upd(1, 1, 10, 0, 10, HIST_OK, 2, 10);
	upd(2, 2, 20, 11, 50, 4 /* DEADLINE_EXCEEDED */, 0, -1);
	upd(3, 2, 30, 12, INF, HIST_PENDING, 0, -1);
	fin(3, 30); /* the pending one applied */
	assert_int_equal(check("indeterminate applied"), 0);
}

static void
test_indeterminate_not_applied(void **state)
{
	(void)state;
	upd(1, 1, 10, 0, 10, HIST_OK, 2, 10);
	upd(2, 2, 20, 11, 50, 14 /* UNAVAILABLE */, 0, -1);
	fin(2, 10);
	assert_int_equal(check("indeterminate not applied"), 0);
}

static void
test_read_of_indeterminate(void **state)
{
	(void)state;
	upd(1, 1, 10, 0, 100, 13 /* INTERNAL */, 0, -1);
	rd(2, 5, 20, HIST_OK, 2, 10);
	upd(3, 2, 30, 25, 40, HIST_OK, 3, 30);
	fin(3, 30);
	assert_int_equal(check("read of an indeterminate write"), 0);
}

/* --- histories that must FAIL ------------------------------------------ */

static void
test_lost_update(void **state)
{
	(void)state;
	/* Two acknowledged writes, but the database only has the first. */
	upd(1, 1, 10, 0, 10, HIST_OK, 2, 10);
	upd(2, 2, 20, 20, 30, HIST_OK, 3, 20);
	fin(2, 10);
	assert_int_equal(check("lost update"), -1);
}

static void
test_duplicate_success(void **state)
{
	(void)state;
	/* Both clients read version 1 and both were told they won. */
	rd(1, 0, 5, HIST_OK, 1, 0);
	rd(2, 0, 5, HIST_OK, 1, 0);
	upd(1, 1, 10, 6, 10, HIST_OK, 2, 10);
	upd(2, 1, 20, 6, 11, HIST_OK, 2, 20);
	fin(2, 20);
	assert_int_equal(check("duplicate success"), -1);
}

static void
test_conflict_not_greater(void **state)
{
	(void)state;
	upd(1, 1, 10, 0, 10, HIST_ABORTED, 1, 0);
	fin(1, 0);
	assert_int_equal(check("conflict reports version == expected"), -1);
}

static void
test_conflict_too_high(void **state)
{
	(void)state;
	/* Only one update could apply, yet the conflict claims version 3. */
	upd(1, 1, 10, 0, 10, HIST_OK, 2, 10);
	upd(2, 1, 20, 5, 15, HIST_ABORTED, 3, 10);
	fin(2, 10);
	assert_int_equal(check("conflict reports an impossible version"), -1);
}

static void
test_conflict_beyond_invoked(void **state)
{
	(void)state;
	/* Version 3 is reachable, but its writer started after the reply. */
	upd(1, 1, 10, 0, INF, HIST_PENDING, 0, -1);
	upd(2, 2, 20, 20, INF, HIST_PENDING, 0, -1);
	upd(3, 1, 30, 5, 15, HIST_ABORTED, 3, 20);
	fin(3, 20);
	assert_int_equal(check("conflict beyond the updates invoked"), -1);
}

static void
test_stale_read(void **state)
{
	(void)state;
	upd(1, 1, 10, 0, 10, HIST_OK, 2, 10);
	rd(2, 20, 30, HIST_OK, 1, 0); /* began after the ack, saw the old */
	fin(2, 10);
	assert_int_equal(check("stale read"), -1);
}

static void
test_phantom_read(void **state)
{
	(void)state;
	upd(1, 1, 10, 0, 10, HIST_OK, 2, 10);
	rd(2, 20, 30, HIST_OK, 3, 77); /* nobody wrote version 3 */
	fin(2, 10);
	assert_int_equal(check("read of a version no write produced"), -1);
}

static void
test_read_before_write(void **state)
{
	(void)state;
	rd(2, 0, 5, HIST_OK, 2, 10); /* sees a write not yet invoked */
	upd(1, 1, 10, 10, 20, HIST_OK, 2, 10);
	fin(2, 10);
	assert_int_equal(check("read from the future"), -1);
}

static void
test_stale_write(void **state)
{
	(void)state;
	/* An unknown-outcome write was seen applied, then a write based on
	 * the old version succeeded anyway: two values for version 2. */
	upd(1, 1, 10, 0, INF, HIST_PENDING, 0, -1);
	rd(2, 5, 10, HIST_OK, 2, 10);
	upd(3, 1, 20, 20, 30, HIST_OK, 2, 20);
	fin(2, 20);
	assert_int_equal(check("stale write succeeded"), -1);
}

static void
test_final_stock_mismatch(void **state)
{
	(void)state;
	upd(1, 1, 10, 0, 10, HIST_OK, 2, 10);
	fin(2, 99);
	assert_int_equal(check("final stock mismatch"), -1);
}

static void
test_final_version_too_high(void **state)
{
	(void)state;
	upd(1, 1, 10, 0, 10, HIST_OK, 2, 10);
	upd(2, 2, 20, 20, INF, HIST_PENDING, 0, -1);
	fin(4, 20); /* at most 3 is possible */
	assert_int_equal(check("final version beyond the model"), -1);
}

static void
test_final_indeterminate_wrong_stock(void **state)
{
	(void)state;
	upd(1, 1, 10, 0, 10, HIST_OK, 2, 10);
	upd(2, 2, 20, 20, INF, HIST_PENDING, 0, -1);
	fin(3, 21);
	assert_int_equal(check("final stock no write wrote"), -1);
}

static void
test_final_sources_disagree(void **state)
{
	(void)state;
	upd(1, 1, 10, 0, 10, HIST_OK, 2, 10);
	fin(2, 10);
	assert_int_equal(history_add_final(&h, 0, "sql", 1, 0), 0);
	assert_int_equal(check("rpc and sql disagree"), -1);
}

static void
test_ok_wrong_version(void **state)
{
	(void)state;
	upd(1, 1, 10, 0, 10, HIST_OK, 3, 10);
	fin(2, 10);
	assert_int_equal(check("OK returns expected+2"), -1);
}

static void
test_ok_wrong_stock(void **state)
{
	(void)state;
	upd(1, 1, 10, 0, 10, HIST_OK, 2, 11);
	fin(2, 10);
	assert_int_equal(check("OK returns another stock"), -1);
}

static void
test_missing_final(void **state)
{
	(void)state;
	upd(1, 1, 10, 0, 10, HIST_OK, 2, 10);
	assert_int_equal(check("no final state"), -1);
}

/* --- the text form ----------------------------------------------------- */

static void
write_str(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_true(fputs(s, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

static void
test_files_merge(void **state)
{
	char           p1[] = "/tmp/history-test-XXXXXX";
	char           p2[] = "/tmp/history-test-XXXXXX";
	char           err[256], buf[256];
	struct history m;
	struct hist_op op  = { 7, HIST_UPDATE, 0, 1, 10, 100, 200, HIST_OK, 2,
		 10, 0 };
	int            fd1 = mkstemp(p1), fd2 = mkstemp(p2);
	FILE          *f;

	(void)state;
	assert_true(fd1 >= 0 && fd2 >= 0);
	close(fd1);
	close(fd2);
	f = fopen(p1, "w");
	assert_non_null(f);
	history_fmt_product(buf, sizeof(buf), &h.products[0]);
	fputs(buf, f);
	history_fmt_invoke(buf, sizeof(buf), 0, &op, ID);
	fputs(buf, f);
	history_fmt_complete(buf, sizeof(buf), 0, &op);
	fputs(buf, f);
	assert_int_equal(fclose(f), 0);
	/* A killed client: an invoke with no completion, a torn line. */
	write_str(p2, "P " ID " 1 0\n"
	              "I 0 1000 U " ID " 2 1000000001 150\n"
	              "I 1 1000 R " ID " 0 0 1");

	history_init(&m);
	assert_int_equal(history_read_file(&m, p1, err, sizeof(err)), 0);
	assert_int_equal(history_read_file(&m, p2, err, sizeof(err)), 0);
	assert_int_equal(m.nproducts, 1);
	assert_int_equal(m.nops, 2);
	assert_int_equal(m.ops[0].code, HIST_OK);
	assert_int_equal(m.ops[0].t_complete, 200);
	assert_int_equal(m.ops[1].code, HIST_PENDING);
	assert_int_equal(m.ops[1].client, 1000);
	assert_int_equal(history_add_final(&m, 0, "rpc", 3, 1000000001), 0);
	{
		struct check_opts   o = { 1 };
		struct check_report r;
		assert_int_equal(history_check(&m, &o, &r), 0);
		assert_int_equal(r.clients, 2);
		assert_int_equal(r.indet_applied, 1);
	}
	history_fini(&m);

	/* Garbage and unknown products are errors, not crashes. */
	write_str(p2, "I 0 1 U " ID2 " 1 1 1\n");
	history_init(&m);
	assert_int_equal(history_read_file(&m, p2, err, sizeof(err)), -1);
	history_fini(&m);
	write_str(p2, "C 5 0 1 1 1\n");
	history_init(&m);
	assert_int_equal(history_read_file(&m, p2, err, sizeof(err)), -1);
	history_fini(&m);
	unlink(p1);
	unlink(p2);
}

/* --- adjustments and reservations: the counter model --------
 * Product 0 (ID) starts at version 1, stock 0 (setup); counter tests add
 * ID2 at version 1, stock 10. */

static void
adj(int client, int64_t delta, int64_t t0, int64_t t1, int code, int64_t rv,
    int64_t rs)
{
	struct hist_op op = { client, HIST_ADJUST, 0, 0, delta, t0, t1, code,
		rv, rs, 0 };
	assert_true(history_add_op(&h, &op) >= 0);
}

/* One item of reservation `group` on product p, taking qty. */
static void
rsv(int client, int64_t group, int p, int64_t qty, int64_t t0, int64_t t1,
    int code, int64_t rv, int64_t rs)
{
	struct hist_op op = { client, HIST_RESERVE, p, 0, qty, t0, t1, code,
		rv, rs, group };
	assert_true(history_add_op(&h, &op) >= 0);
}

static void
fin2(int64_t v, int64_t s)
{
	assert_int_equal(history_add_final(&h, 1, "rpc", v, s), 0);
}

static void
add_second(void)
{
	assert_int_equal(history_add_product(&h, ID2, 1, 10), 1);
}

static void
test_counter_valid(void **state)
{
	(void)state;
	add_second();
	/* Concurrent adjustments queue: versions in commit order. */
	adj(1, 5, 0, 10, HIST_OK, 2, 5);
	adj(2, -2, 1, 12, HIST_OK, 3, 3);
	adj(3, -4, 2, 14, HIST_FAILED_PRECONDITION, 3, 3);
	rd(4, 13, 15, HIST_OK, 3, 3);
	/* A reservation on both products, then one refused: product 1 is
	 * short; nothing applied. */
	rsv(1, 7, 0, 3, 20, 30, HIST_OK, 4, 0);
	rsv(1, 7, 1, 4, 20, 30, HIST_OK, 2, 6);
	rsv(2, 8, 1, 9, 31, 40, HIST_FAILED_PRECONDITION, 2, 6);
	rsv(2, 8, 0, 1, 31, 40, HIST_FAILED_PRECONDITION, 0, -1);
	{
		struct hist_op op = { 3, HIST_READ, 1, 0, 0, 41, 42, HIST_OK,
			2, 6, 0 };
		assert_true(history_add_op(&h, &op) >= 0);
	}
	fin(4, 0);
	fin2(2, 6);
	assert_int_equal(check("counter: valid"), 0);
}

static void
test_counter_indeterminate(void **state)
{
	(void)state;
	add_second();
	adj(1, 5, 0, 10, HIST_OK, 2, 5);
	/* An adjustment and a reservation whose outcome is unknown: the
	 * final state shows the reservation applied on both products and
	 * the adjustment not. */
	adj(2, 7, 11, 50, 14 /* UNAVAILABLE */, 0, -1);
	rsv(3, 9, 0, 2, 12, INF, HIST_PENDING, 0, -1);
	rsv(3, 9, 1, 1, 12, INF, HIST_PENDING, 0, -1);
	fin(3, 3);
	fin2(2, 9);
	assert_int_equal(check("counter: indeterminate"), 0);
}

/* A read of a commit the database later discarded (a failover's rewind):
 * an adjustment answered UNAVAILABLE committed locally, a read saw it,
 * and the final state does not have it.  The read is a stray read, and
 * the write after it looks stale against the version it showed: both
 * are counted on the stray read's product, which is what the HA tests'
 * signature reads (deploy/ha/common.sh, ha_read_of_rewound_commit). */
static void
test_counter_stray_read(void **state)
{
	struct check_opts   o = { 1 };
	struct check_report r;

	(void)state;
	adj(1, 5, 0, 10, HIST_OK, 2, 5);
	adj(2, 7, 11, 50, 14 /* UNAVAILABLE */, 0, -1);
	rd(3, 20, 25, HIST_OK, 3, 12); /* the local commit, later gone */
	adj(4, -1, 30, 40, HIST_OK, 3, 4);
	fin(3, 4);
	assert_int_equal(history_check(&h, &o, &r), -1);
	history_report_print(stdout, "counter: stray read", &r);
	assert_int_equal(r.stray_reads, 1);
	assert_true(r.violations >= 2);
	assert_int_equal(r.stray_product_violations, r.violations);
}

/* A reservation refused, yet the final state shows one product taken. */
static void
test_counter_half_applied(void **state)
{
	(void)state;
	add_second();
	adj(1, 5, 0, 10, HIST_OK, 2, 5);
	rsv(2, 11, 0, 2, 20, 30, HIST_FAILED_PRECONDITION, 0, -1);
	rsv(2, 11, 1, 20, 20, 30, HIST_FAILED_PRECONDITION, 1, 10);
	fin(3, 3); /* product 0 lost 2 units */
	fin2(1, 10);
	assert_int_equal(check("counter: half-applied reservation"), -1);
}

/* The items of one reservation answered differently. */
static void
test_counter_split_outcome(void **state)
{
	(void)state;
	add_second();
	rsv(2, 12, 0, 0 + 1, 20, 30, HIST_FAILED_PRECONDITION, 1, 0);
	rsv(2, 12, 1, 1, 20, 30, HIST_OK, 2, 9);
	fin(1, 0);
	fin2(2, 9);
	assert_int_equal(check("counter: split outcome"), -1);
}

/* An acknowledged delta the final state does not show. */
static void
test_counter_lost_delta(void **state)
{
	(void)state;
	adj(1, 5, 0, 10, HIST_OK, 2, 5);
	adj(2, 3, 11, 20, HIST_OK, 3, 8);
	fin(2, 5);
	assert_int_equal(check("counter: lost delta (version)"), -1);
}

/* The version moved but the delta is missing from the stock. */
static void
test_counter_lost_delta_stock(void **state)
{
	(void)state;
	adj(1, 5, 0, 10, HIST_OK, 2, 5);
	adj(2, 3, 11, 20, HIST_OK, 3, 5);
	fin(3, 5);
	assert_int_equal(check("counter: lost delta (stock)"), -1);
}

/* Two adjustments acknowledged at the same version. */
static void
test_counter_double_version(void **state)
{
	(void)state;
	adj(1, 5, 0, 10, HIST_OK, 2, 5);
	adj(2, 4, 0, 10, HIST_OK, 2, 4);
	fin(2, 5);
	assert_int_equal(check("counter: two at one version"), -1);
}

/* Refused for too little stock while the stock was enough. */
static void
test_counter_refused_with_enough(void **state)
{
	(void)state;
	adj(1, 5, 0, 10, HIST_OK, 2, 5);
	adj(2, -3, 11, 20, HIST_FAILED_PRECONDITION, 2, 5);
	fin(2, 5);
	assert_int_equal(check("counter: refused with enough"), -1);
}

/* A stock below zero, observed. */
static void
test_counter_negative(void **state)
{
	(void)state;
	adj(1, 1, 0, 10, HIST_OK, 2, 1);
	adj(2, -2, 11, 20, HIST_OK, 3, -1);
	fin(3, -1);
	assert_int_equal(check("counter: negative stock"), -1);
}

/* A read older than a completed adjustment (stale). */
static void
test_counter_stale_read(void **state)
{
	(void)state;
	adj(1, 1, 0, 10, HIST_OK, 2, 1);
	rd(2, 11, 12, HIST_OK, 1, 0);
	fin(2, 1);
	assert_int_equal(check("counter: stale read"), -1);
}

/* A refused adjustment applied anyway (the final state has one version
 * too many). */
static void
test_counter_refused_applied(void **state)
{
	(void)state;
	adj(1, 4, 0, 10, HIST_OK, 2, 4);
	adj(2, -5, 11, 20, HIST_FAILED_PRECONDITION, 2, 4);
	fin(3, 0);
	assert_int_equal(check("counter: refused applied"), -1);
}

/* Across an indeterminate adjustment the final stock must be reachable. */
static void
test_counter_indeterminate_wrong_stock(void **state)
{
	(void)state;
	adj(1, 4, 0, 10, HIST_OK, 2, 4);
	adj(2, 3, 11, 20, 4 /* DEADLINE_EXCEEDED */, 0, -1);
	fin(3, 6); /* 4 + 3 = 7, not 6 */
	assert_int_equal(check("counter: indeterminate wrong stock"), -1);
}

static void
test_counter_text_round_trip(void **state)
{
	char           path[] = "/tmp/checker_test.XXXXXX", buf[256], err[256];
	struct history m;
	struct hist_op op = { 7, HIST_RESERVE, 0, 0, 3, 100, 200, HIST_OK, 2,
		7, 123456789012LL };
	int            fd = mkstemp(path);
	FILE          *f;

	(void)state;
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	history_fmt_product(buf, sizeof(buf), &h.products[0]);
	fputs(buf, f);
	history_fmt_invoke(buf, sizeof(buf), 0, &op, ID);
	fputs(buf, f);
	history_fmt_complete(buf, sizeof(buf), 0, &op);
	fputs(buf, f);
	op.type  = HIST_ADJUST;
	op.stock = -4;
	op.group = 0;
	history_fmt_invoke(buf, sizeof(buf), 1, &op, ID);
	fputs(buf, f);
	assert_int_equal(fclose(f), 0);
	history_init(&m);
	assert_int_equal(history_read_file(&m, path, err, sizeof(err)), 0);
	assert_int_equal(m.nops, 2);
	assert_int_equal(m.ops[0].type, HIST_RESERVE);
	assert_int_equal(m.ops[0].group, 123456789012LL);
	assert_int_equal(m.ops[0].expected, 0);
	assert_int_equal(m.ops[0].stock, 3);
	assert_int_equal(m.ops[0].ret_stock, 7);
	assert_int_equal(m.ops[1].type, HIST_ADJUST);
	assert_int_equal(m.ops[1].stock, -4);
	assert_int_equal(m.ops[1].code, HIST_PENDING);
	history_fini(&m);
	unlink(path);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_valid_concurrent),
		T(test_indeterminate_applied),
		T(test_indeterminate_not_applied),
		T(test_read_of_indeterminate),
		T(test_lost_update),
		T(test_duplicate_success),
		T(test_conflict_not_greater),
		T(test_conflict_too_high),
		T(test_conflict_beyond_invoked),
		T(test_stale_read),
		T(test_phantom_read),
		T(test_read_before_write),
		T(test_stale_write),
		T(test_final_stock_mismatch),
		T(test_final_version_too_high),
		T(test_final_indeterminate_wrong_stock),
		T(test_final_sources_disagree),
		T(test_ok_wrong_version),
		T(test_ok_wrong_stock),
		T(test_missing_final),
		T(test_files_merge),
		T(test_counter_valid),
		T(test_counter_indeterminate),
		T(test_counter_stray_read),
		T(test_counter_half_applied),
		T(test_counter_split_outcome),
		T(test_counter_lost_delta),
		T(test_counter_lost_delta_stock),
		T(test_counter_double_version),
		T(test_counter_refused_with_enough),
		T(test_counter_negative),
		T(test_counter_stale_read),
		T(test_counter_refused_applied),
		T(test_counter_indeterminate_wrong_stock),
		T(test_counter_text_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
