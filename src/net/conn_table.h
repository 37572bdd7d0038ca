/* SPDX-License-Identifier: MIT */
/*
 * The table of served connections: who holds a connection slot, how many
 * frames each holds, and which connections have not yet shown they belong
 * to a caller.  No nng, no locking: the transport owns one and guards it
 * with its mutex, and ends the connections this table names.
 *
 * Policy (the point of this module):
 *  - at most max_conns connections count at once, and at most per_peer of
 *    them from one address (a flood from one host cannot take every
 *    slot);
 *  - a connection is "trusted" once it sent a call that got past the
 *    token check (any call without --auth-file); until then it can lose
 *    its slot: when every slot is taken, a newcomer makes room by
 *    evicting the oldest untrusted connections (older than a short
 *    grace, so a caller that just connected has time for its first
 *    call), and an untrusted connection is ended after the idle timeout
 *    anyway.  So connections without a valid token never keep a caller
 *    with one out, and idle slot holders do not stay.
 *
 * Ids are nng pipe ids (never 0).  A slot stays while its connection is
 * counted or a context still holds one of its frames.
 */
#ifndef INVENTORY_CONN_TABLE_H
#define INVENTORY_CONN_TABLE_H

#include <stdbool.h>
#include <stdint.h>

/* A peer's address: family 0 for one that has none worth limiting
 * (ipc://), else 4 or 6 with the address bytes. */
struct conn_peer {
	uint8_t family;
	uint8_t addr[16];
};

/* One slot; fields private to conn_table.c. */
struct conn_slot {
	uint32_t         id;       /* pipe id; 0: free */
	int              frames;   /* frames of it held by contexts */
	bool             counted;  /* holds one of max_conns */
	bool             trusted;  /* sent a call past the token check */
	bool             evicting; /* named to be ended: not again */
	uint64_t         added_ns; /* when it was admitted (monotonic) */
	struct conn_peer peer;
	int              next; /* bucket chain or free list; -1 ends */
};

struct conn_table {
	int               max_conns;
	int               per_peer;
	int               counted; /* connections counted */
	struct conn_slot *slots;
	int               nslots;
	int              *buckets; /* heads of chains, mask + 1 */
	uint32_t          mask;
	int               free_slot; /* free list head */
};

enum conn_verdict {
	CONN_ADMITTED,  /* counted */
	CONN_FULL,      /* max_conns counted: refuse it (or evict first) */
	CONN_PEER_FULL, /* per_peer from its address: refuse it */
};

/* An empty table for max_conns connections, per_peer from one address,
 * and `holders` contexts that may keep frames of gone connections.
 * Returns 0, or -1 out of memory (nothing to free). */
int conn_table_init(
    struct conn_table *t, int max_conns, int per_peer, int holders);

void conn_table_fini(struct conn_table *t);

/* Connection id from peer arrived at now_ns. */
enum conn_verdict conn_table_add(struct conn_table *t, uint32_t id,
    const struct conn_peer *peer, uint64_t now_ns);

/* Connection id is gone: no longer counted (a no-op if it was not). */
void conn_table_remove(struct conn_table *t, uint32_t id);

/* Most connections one pick names. */
enum { CONN_PICK_MAX = 64 };

/* Up to cap (at most CONN_PICK_MAX) untrusted connections admitted
 * before not_after_ns, oldest first, into ids; marks them so they are not
 * named twice.  Returns how many.  The caller ends them and calls
 * conn_table_evicted() for each one it could end, conn_table_spared() for the
 * others. */
int conn_table_pick_untrusted(
    struct conn_table *t, uint64_t not_after_ns, uint32_t *ids, int cap);

/* id was ended: it stops counting now (its close comes later). */
void conn_table_evicted(struct conn_table *t, uint32_t id);

/* id could not be ended: it may be named again later. */
void conn_table_spared(struct conn_table *t, uint32_t id);

/* id sent a call that got past the token check. */
void conn_table_trust(struct conn_table *t, uint32_t id);

/* A context took a frame of id: the frames id now holds (0: not
 * counted, the table is full). */
int conn_table_frame_add(struct conn_table *t, uint32_t id);

/* That frame was answered. */
void conn_table_frame_done(struct conn_table *t, uint32_t id);

#endif
