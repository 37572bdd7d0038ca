/* SPDX-License-Identifier: MIT */
/*
 * The table of served connections (see conn_table.h): a fixed array of
 * slots hashed by pipe id, with a free list; nothing allocated after
 * init.  Counting per address scans the slots, which happens once per new
 * connection and is cheap next to its handshake.
 */
#include "net/conn_table.h"

#include <stdlib.h>
#include <string.h>

static int *
bucket_of(struct conn_table *t, uint32_t id)
{
	return &t->buckets[(id ^ (id >> 16)) & t->mask];
}

static int
slot_find(struct conn_table *t, uint32_t id)
{
	int i = *bucket_of(t, id);

	while (i >= 0 && t->slots[i].id != id)
		i = t->slots[i].next;
	return i;
}

/* The slot of id, created if needed; -1 if the table is full. */
static int
slot_get(struct conn_table *t, uint32_t id)
{
	int *head, i;

	if ((i = slot_find(t, id)) >= 0 || (i = t->free_slot) < 0)
		return i;
	head         = bucket_of(t, id);
	t->free_slot = t->slots[i].next;
	t->slots[i]  = (struct conn_slot) { .id = id, .next = *head };
	*head        = i;
	return i;
}

/* Free slot i once its connection is uncounted and no context holds its
 * frames. */
static void
slot_maybe_free(struct conn_table *t, int i)
{
	int *p;

	if (t->slots[i].counted || t->slots[i].frames > 0)
		return;
	for (p = bucket_of(t, t->slots[i].id); *p != i; p = &t->slots[*p].next)
		;
	*p               = t->slots[i].next;
	t->slots[i].id   = 0;
	t->slots[i].next = t->free_slot;
	t->free_slot     = i;
}

static void
uncount(struct conn_table *t, int i)
{
	if (!t->slots[i].counted)
		return;
	t->slots[i].counted = false;
	t->counted--;
	slot_maybe_free(t, i);
}

int
conn_table_init(struct conn_table *t, int max_conns, int per_peer, int holders)
{
	uint32_t nb = 16;

	memset(t, 0, sizeof(*t));
	t->max_conns = max_conns;
	t->per_peer  = per_peer;
	/* Counted connections, gone ones whose frames contexts still hold,
	 * and evicted ones not yet closed (at most one round of picks). */
	t->nslots = 2 * max_conns + holders + 16;
	while (nb < 2u * (uint32_t)t->nslots)
		nb <<= 1;
	t->mask = nb - 1;
	if ((t->slots = calloc((size_t)t->nslots, sizeof(*t->slots))) ==
	        NULL ||
	    (t->buckets = malloc(nb * sizeof(*t->buckets))) == NULL) {
		conn_table_fini(t);
		return -1;
	}
	for (uint32_t i = 0; i < nb; i++)
		t->buckets[i] = -1;
	for (int i = 0; i < t->nslots; i++)
		t->slots[i].next = i + 1 < t->nslots ? i + 1 : -1;
	t->free_slot = 0;
	return 0;
}

void
conn_table_fini(struct conn_table *t)
{
	free(t->slots);
	free(t->buckets);
	t->slots   = NULL;
	t->buckets = NULL;
}

static int
peer_count(const struct conn_table *t, const struct conn_peer *peer)
{
	int n = 0;

	for (int i = 0; i < t->nslots; i++) {
		const struct conn_slot *s = &t->slots[i];

		n += s->id != 0 && s->counted &&
		     s->peer.family == peer->family &&
		     memcmp(s->peer.addr, peer->addr, sizeof(peer->addr)) == 0;
	}
	return n;
}

enum conn_verdict
conn_table_add(struct conn_table *t, uint32_t id, const struct conn_peer *peer,
    uint64_t now_ns)
{
	int i;

	if (t->counted >= t->max_conns)
		return CONN_FULL;
	if (peer->family != 0 && peer_count(t, peer) >= t->per_peer)
		return CONN_PEER_FULL;
	if ((i = slot_get(t, id)) < 0)
		return CONN_FULL; /* NEVER: nslots covers every holder */
	t->slots[i].counted  = true;
	t->slots[i].trusted  = false;
	t->slots[i].evicting = false;
	t->slots[i].added_ns = now_ns;
	t->slots[i].peer     = *peer;
	t->counted++;
	return CONN_ADMITTED;
}

void
conn_table_remove(struct conn_table *t, uint32_t id)
{
	int i;

	if ((i = slot_find(t, id)) >= 0)
		uncount(t, i);
}

int
conn_table_pick_untrusted(
    struct conn_table *t, uint64_t not_after_ns, uint32_t *ids, int cap)
{
	uint64_t when[CONN_PICK_MAX];
	int      n = 0;

	if (cap <= 0)
		return 0;
	if (cap > CONN_PICK_MAX)
		cap = CONN_PICK_MAX;
	/* The cap oldest, kept sorted by insertion. */
	for (int i = 0; i < t->nslots; i++) {
		const struct conn_slot *s = &t->slots[i];
		int                     k;

		if (s->id == 0 || !s->counted || s->trusted || s->evicting ||
		    s->added_ns > not_after_ns)
			continue;
		if (n == cap && s->added_ns >= when[n - 1])
			continue;
		k = n < cap ? n++ : n - 1;
		while (k > 0 && when[k - 1] > s->added_ns) {
			ids[k]  = ids[k - 1];
			when[k] = when[k - 1];
			k--;
		}
		ids[k]  = s->id;
		when[k] = s->added_ns;
	}
	for (int j = 0; j < n; j++)
		t->slots[slot_find(t, ids[j])].evicting = true;
	return n;
}

void
conn_table_evicted(struct conn_table *t, uint32_t id)
{
	int i;

	if ((i = slot_find(t, id)) >= 0)
		uncount(t, i);
}

void
conn_table_spared(struct conn_table *t, uint32_t id)
{
	int i;

	if ((i = slot_find(t, id)) >= 0)
		t->slots[i].evicting = false;
}

void
conn_table_trust(struct conn_table *t, uint32_t id)
{
	int i;

	if ((i = slot_find(t, id)) >= 0)
		t->slots[i].trusted = true;
}

int
conn_table_frame_add(struct conn_table *t, uint32_t id)
{
	int i;

	if ((i = slot_get(t, id)) < 0)
		return 0;
	return ++t->slots[i].frames;
}

void
conn_table_frame_done(struct conn_table *t, uint32_t id)
{
	int i;

	if ((i = slot_find(t, id)) >= 0) {
		t->slots[i].frames--;
		slot_maybe_free(t, i);
	}
}
