/* SPDX-License-Identifier: MIT */
/*
 * seed: the products of a run: created (--products) or read from a file
 * (--ids), their initial state read back, and the ids written out
 * (--write-ids).  bench_parallel() and bench_read_all() run a function
 * over every product from a few threads; verify.c reads the final state
 * with them too.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

/* Run fn on every product from `workers` threads, one shared cursor. */
struct par {
	struct bench *b;
	int (*fn)(struct bench *, struct bench_product *, void *);
	void         *arg;
	atomic_size_t next;
	atomic_int    failed;
};

static void *
par_main(void *arg)
{
	struct par *pa = arg;
	size_t      i;

	while ((i = atomic_fetch_add(&pa->next, 1)) < pa->b->nproducts) {
		if (atomic_load(&pa->failed) != 0) {
			break;
		}
		if (pa->fn(pa->b, &pa->b->products[i], pa->arg) != 0) {
			atomic_store(&pa->failed, 1);
		}
	}
	return NULL;
}

int
bench_parallel(struct bench *b,
    int (*fn)(struct bench *, struct bench_product *, void *), void *arg)
{
	struct par pa = { .b = b, .fn = fn, .arg = arg };
	pthread_t  th[16];
	int        n = b->cfg.clients < 16 ? b->cfg.clients : 16;
	int        i, started = 0;

	if (n < 4) {
		n = 4;
	}
	atomic_init(&pa.next, 0);
	atomic_init(&pa.failed, 0);
	for (i = 0; i < n; i++) {
		if (pthread_create(&th[i], NULL, par_main, &pa) != 0) {
			break;
		}
		started++;
	}
	if (started == 0) {
		par_main(&pa);
	}
	for (i = 0; i < started; i++) {
		pthread_join(th[i], NULL);
	}
	return atomic_load(&pa.failed) ? -1 : 0;
}

/* bench_read_all: chunk i is products [i * CHUNK, (i + 1) * CHUNK). */
struct chunk_read {
	void (*got)(struct bench *, struct bench_product *,
	    const inventory_product *, void *);
	int (*one)(struct bench *, struct bench_product *, void *);
	void *arg;
};

static int
read_chunk(struct bench *b, size_t first, size_t n, struct chunk_read *cr)
{
	const char        *ids[BENCH_READ_CHUNK] = { NULL };
	inventory_product *out                   = NULL;
	inventory_status   st                    = { 0 };
	inventory_code     rc;
	int                rv = 0;

	inventory_call_opts o = { .timeout_ms = bench_setup_timeout(b) };

	for (size_t i = 0; i < n; i++)
		ids[i] = b->products[first + i].id;
	rc = inventory_batch_get_products(b->client, ids, n, &o, &out, &st);
	inventory_status_fini(&st);
	if (rc == INVENTORY_OK) {
		for (size_t i = 0; i < n; i++)
			cr->got(b, &b->products[first + i], &out[i], cr->arg);
		inventory_product_free(out);
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		rv |= cr->one(b, &b->products[first + i], cr->arg);
	return rv;
}

/* bench_parallel's unit is a product: the first product of each chunk
 * reads the whole chunk, the others do nothing. */
static int
read_chunk_at(struct bench *b, struct bench_product *p, void *arg)
{
	size_t i = (size_t)(p - b->products);

	if (i % BENCH_READ_CHUNK != 0)
		return 0;
	return read_chunk(b, i,
	    b->nproducts - i < BENCH_READ_CHUNK ? b->nproducts - i
	                                        : BENCH_READ_CHUNK,
	    arg);
}

int
bench_read_all(struct bench *b,
    void (*got)(struct bench *, struct bench_product *,
        const inventory_product *, void *),
    int (*one)(struct bench *, struct bench_product *, void *), void *arg)
{
	struct chunk_read cr = { .got = got, .one = one, .arg = arg };

	return bench_parallel(b, read_chunk_at, &cr);
}

struct seed_arg {
	uint64_t tag;
};

static int
seed_one(struct bench *b, struct bench_product *p, void *arg)
{
	struct seed_arg   *sa  = arg;
	inventory_product *out = NULL;
	inventory_status   st  = { 0 };
	inventory_code     rc;
	char               name[64];

	snprintf(name, sizeof(name), "bench-%016llx-%zu",
	    (unsigned long long)sa->tag, (size_t)(p - b->products));
	inventory_call_opts o = { .timeout_ms = bench_setup_timeout(b) };

	rc = inventory_create_product(
	    b->client, name, b->cfg.initial_stock, "1.00", &o, &out, &st);
	if (rc != INVENTORY_OK) {
		fprintf(stderr, "inventory-bench: CreateProduct: %s: %s\n",
		    inventory_code_name(rc), st.message);
		inventory_status_fini(&st);
		return -1;
	}
	memcpy(p->id, out->id, sizeof(p->id));
	p->init_version = out->version;
	p->init_stock   = out->stock;
	inventory_product_free(out);
	return 0;
}

static int
read_initial(struct bench *b, struct bench_product *p, void *arg)
{
	inventory_product *out = NULL;
	inventory_status   st  = { 0 };
	inventory_code     rc;

	inventory_call_opts o = { .timeout_ms = bench_setup_timeout(b) };

	(void)arg;
	rc = inventory_get_product(b->client, p->id, &o, &out, &st);
	if (rc != INVENTORY_OK) {
		fprintf(stderr, "inventory-bench: GetProduct %s: %s: %s\n",
		    p->id, inventory_code_name(rc), st.message);
		inventory_status_fini(&st);
		return -1;
	}
	p->init_version = out->version;
	p->init_stock   = out->stock;
	inventory_product_free(out);
	return 0;
}

static void
got_initial(struct bench *b, struct bench_product *p,
    const inventory_product *got, void *arg)
{
	(void)b;
	(void)arg;
	p->init_version = got->version;
	p->init_stock   = got->stock;
}

static int
load_ids(struct bench *b, const char *path)
{
	FILE  *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	char   line[256];
	size_t cap = 0, n = 0;

	if (f == NULL) {
		fprintf(stderr, "inventory-bench: %s: %s\n", path,
		    strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char  *s = line;
		size_t len;

		while (*s == ' ' || *s == '\t') {
			s++;
		}
		len = strcspn(s, " \t\r\n");
		if (len == 0 || *s == '#') {
			continue;
		}
		if (len != INVENTORY_ID_LEN) {
			fprintf(stderr,
			    "inventory-bench: %s: not a UUID: "
			    "%.*s\n",
			    path, (int)len, s);
			goto out_fail;
		}
		if (n == cap) {
			size_t                nc = cap ? cap * 2 : 1024;
			struct bench_product *np =
			    aligned_alloc(64, nc * sizeof(*np));
			if (np == NULL) {
				goto out_fail;
			}
			memset(np, 0, nc * sizeof(*np));
			if (b->products != NULL) {
				memcpy(np, b->products, n * sizeof(*np));
				free(b->products);
			}
			b->products = np;
			cap         = nc;
		}
		memcpy(b->products[n].id, s, INVENTORY_ID_LEN);
		b->products[n].id[INVENTORY_ID_LEN] = '\0';
		n++;
	}
	if (f != stdin) {
		fclose(f);
	}
	if (n == 0) {
		fprintf(stderr, "inventory-bench: %s: no ids\n", path);
		return -1;
	}
	b->nproducts = n;
	return 0;
out_fail:
	if (f != stdin) {
		fclose(f);
	}
	return -1;
}

int
bench_setup_products(struct bench *b)
{
	if (b->cfg.ids_file != NULL) {
		if (load_ids(b, b->cfg.ids_file) != 0) {
			return -1;
		}
		return bench_read_all(b, got_initial, read_initial, NULL);
	}
	struct seed_arg sa = {
		.tag = bench_splitmix64(b->cfg.seed ^ (uint64_t)time(NULL)),
	};
	b->nproducts = (size_t)b->cfg.products;
	b->products  = aligned_alloc(64, b->nproducts * sizeof(*b->products));
	if (b->products == NULL) {
		fprintf(stderr, "inventory-bench: out of memory\n");
		return -1;
	}
	memset(b->products, 0, b->nproducts * sizeof(*b->products));
	return bench_parallel(b, seed_one, &sa);
}

int
bench_write_ids(const struct bench *b, const char *path)
{
	FILE  *f = fopen(path, "w");
	size_t i;

	if (f == NULL) {
		fprintf(stderr, "inventory-bench: %s: %s\n", path,
		    strerror(errno));
		return -1;
	}
	for (i = 0; i < b->nproducts; i++) {
		fprintf(f, "%s\n", b->products[i].id);
	}
	if (fclose(f) != 0) {
		fprintf(stderr, "inventory-bench: %s: %s\n", path,
		    strerror(errno));
		return -1;
	}
	return 0;
}
