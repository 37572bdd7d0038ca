/* SPDX-License-Identifier: MIT */
/*
 * seed: the products of a run: --products K of them named --name-prefix,
 * or read from a file (--ids), their initial state read back, and the ids
 * written out (--write-ids).  So that a bench pointed at a real server
 * does not add K products on every run, it first reuses the products an
 * earlier run created, recognised by their name prefix through
 * ListProducts, sets their stock back to --initial-stock (a fresh run's
 * state, which buy, adjust and reserve runs depend on) and creates only
 * the missing ones.  It never writes to a product without the prefix.
 * bench_parallel() and bench_read_all() run a function over every product from
 * a few threads; verify.c reads the final state with them too.
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

/* A reused product whose stock is not --initial-stock: set it back, at
 * the version read (a conflict means another writer, most likely a run
 * with the same prefix: an error, as its writes would break the
 * invariant check). */
static int
reset_one(struct bench *b, struct bench_product *p)
{
	inventory_product *out = NULL;
	inventory_status   st  = { 0 };
	inventory_code     rc;

	inventory_call_opts o = { .timeout_ms = bench_setup_timeout(b) };

	if (p->init_stock == b->cfg.initial_stock)
		return 0;
	rc = inventory_update_stock(b->client, p->id, b->cfg.initial_stock,
	    p->init_version, &o, &out, &st);
	if (rc != INVENTORY_OK) {
		fprintf(stderr,
		    "inventory-bench: UpdateStock %s (reused, named %s*): "
		    "%s: %s%s\n",
		    p->id, b->cfg.name_prefix, inventory_code_name(rc),
		    st.message,
		    rc == INVENTORY_ABORTED ? " (another run with the same "
		                              "--name-prefix?)"
		                            : "");
		inventory_status_fini(&st);
		return -1;
	}
	p->init_version = out->version;
	p->init_stock   = out->stock;
	inventory_product_free(out);
	return 0;
}

/* bench_parallel's unit: a product found by find_reused() (its id is
 * set) is reset, any other is created. */
static int
seed_one(struct bench *b, struct bench_product *p, void *arg)
{
	struct seed_arg   *sa  = arg;
	inventory_product *out = NULL;
	inventory_status   st  = { 0 };
	inventory_code     rc;
	char               name[BENCH_NAME_PREFIX_MAX + 64];

	if (p->id[0] != '\0')
		return reset_one(b, p);
	snprintf(name, sizeof(name), "%s%016llx-%zu", b->cfg.name_prefix,
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

/* Fill b->products from the front with the server's products named
 * --name-prefix, in id order, up to b->nproducts of them; b->reused says
 * how many.  Pages through ListProducts until it has enough or the last
 * page.  0, or -1 after a message. */
static int
find_reused(struct bench *b)
{
	const char *prefix = b->cfg.name_prefix;
	size_t      plen   = strlen(prefix);
	char       *token  = NULL;
	int         rv     = 0;

	inventory_call_opts o = { .timeout_ms = bench_setup_timeout(b) };

	b->reused = 0;
	do {
		inventory_product *page = NULL;
		inventory_status   st   = { 0 };
		char              *next = NULL;
		size_t             n    = 0;
		inventory_code     rc;

		rc = inventory_list_products(b->client, INVENTORY_LIST_MAX,
		    token, &o, &page, &n, &next, &st);
		free(token);
		token = NULL;
		if (rc != INVENTORY_OK) {
			fprintf(stderr,
			    "inventory-bench: ListProducts: %s: %s\n",
			    inventory_code_name(rc), st.message);
			inventory_status_fini(&st);
			rv = -1;
			break;
		}
		for (size_t i = 0; i < n && b->reused < b->nproducts; i++) {
			struct bench_product *p = &b->products[b->reused];

			if (strncmp(page[i].name, prefix, plen) != 0)
				continue;
			memcpy(p->id, page[i].id, sizeof(p->id));
			p->id[INVENTORY_ID_LEN] = '\0';
			p->init_version         = page[i].version;
			p->init_stock           = page[i].stock;
			b->reused++;
		}
		inventory_product_free(page);
		/* "" on the last page: stop, as when there are enough. */
		if (next != NULL && *next != '\0' && b->reused < b->nproducts)
			token = next;
		else
			free(next);
	} while (token != NULL);
	return rv;
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
	if (find_reused(b) != 0)
		return -1;
	if (bench_parallel(b, seed_one, &sa) != 0)
		return -1;
	b->created = b->nproducts - b->reused;
	return 0;
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
