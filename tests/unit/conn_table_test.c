/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for src/net/conn_table.c, the policy of who holds a connection
 * slot: the total and per-address limits, untrusted connections picked
 * oldest first (never trusted ones, never twice, never younger than the
 * bound), eviction freeing a slot at once, and frames of gone
 * connections keeping their slot until answered.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "net/conn_table.h"

static struct conn_peer
peer(uint8_t last)
{
	struct conn_peer p = { .family = 4 };

	p.addr[0] = 127;
	p.addr[3] = last;
	return p;
}

static void
test_limits(void **state)
{
	struct conn_table t;
	struct conn_peer  a = peer(2), b = peer(3), ipc = { 0 };

	(void)state;
	assert_int_equal(conn_table_init(&t, 4, 2, 8), 0);
	assert_int_equal(conn_table_add(&t, 1, &a, 10), CONN_ADMITTED);
	assert_int_equal(conn_table_add(&t, 2, &a, 20), CONN_ADMITTED);
	assert_int_equal(conn_table_add(&t, 3, &a, 30), CONN_PEER_FULL);
	assert_int_equal(conn_table_add(&t, 4, &b, 40), CONN_ADMITTED);
	/* No address (ipc://): no per-address limit. */
	assert_int_equal(conn_table_add(&t, 5, &ipc, 50), CONN_ADMITTED);
	assert_int_equal(conn_table_add(&t, 6, &ipc, 60), CONN_FULL);
	conn_table_remove(&t, 1);
	assert_int_equal(t.counted, 3);
	assert_int_equal(conn_table_add(&t, 7, &a, 70), CONN_ADMITTED);
	conn_table_fini(&t);
}

static void
test_pick(void **state)
{
	struct conn_table t;
	struct conn_peer  p = { 0 };
	uint32_t          ids[CONN_PICK_MAX];

	(void)state;
	assert_int_equal(conn_table_init(&t, 8, 8, 8), 0);
	/* Admitted out of id order; 3 is trusted. */
	assert_int_equal(conn_table_add(&t, 5, &p, 500), CONN_ADMITTED);
	assert_int_equal(conn_table_add(&t, 2, &p, 200), CONN_ADMITTED);
	assert_int_equal(conn_table_add(&t, 3, &p, 100), CONN_ADMITTED);
	assert_int_equal(conn_table_add(&t, 9, &p, 900), CONN_ADMITTED);
	conn_table_trust(&t, 3);
	/* Only those admitted by 600, oldest first, at most 1. */
	assert_int_equal(conn_table_pick_untrusted(&t, 600, ids, 1), 1);
	assert_int_equal(ids[0], 2);
	/* 2 is being ended: not named again. */
	assert_int_equal(conn_table_pick_untrusted(&t, 600, ids, 8), 1);
	assert_int_equal(ids[0], 5);
	/* 5 could not be ended: it may be named again. */
	conn_table_spared(&t, 5);
	conn_table_evicted(&t, 2);
	assert_int_equal(t.counted, 3);
	assert_int_equal(conn_table_pick_untrusted(&t, 1000, ids, 8), 2);
	assert_int_equal(ids[0], 5);
	assert_int_equal(ids[1], 9);
	/* The evicted connection's own close later changes nothing. */
	conn_table_remove(&t, 2);
	assert_int_equal(t.counted, 3);
	conn_table_fini(&t);
}

static void
test_frames(void **state)
{
	struct conn_table t;
	struct conn_peer  p = { 0 };

	(void)state;
	assert_int_equal(conn_table_init(&t, 1, 1, 2), 0);
	assert_int_equal(conn_table_add(&t, 1, &p, 1), CONN_ADMITTED);
	assert_int_equal(conn_table_frame_add(&t, 1), 1);
	assert_int_equal(conn_table_frame_add(&t, 1), 2);
	conn_table_remove(&t, 1);
	/* Gone but still holding frames: a new connection gets its slot
	 * count, the old one's frames are still tracked. */
	assert_int_equal(conn_table_add(&t, 2, &p, 2), CONN_ADMITTED);
	conn_table_frame_done(&t, 1);
	conn_table_frame_done(&t, 1);
	assert_int_equal(conn_table_frame_add(&t, 2), 1);
	conn_table_fini(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_pick),
		cmocka_unit_test(test_frames),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
