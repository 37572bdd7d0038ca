/* SPDX-License-Identifier: MIT */
/*
 * libinventory: the C client of the inventory service.
 *
 * One handle (inventory_client) holds one nng REQ socket dialled to one or
 * several inventoryd URLs, each several times (inventory_client_opts
 * .connections); requests are spread over the connections and nng
 * reconnects by itself.  A handle may be shared by any number of threads
 * at once; only inventory_client_close() must not race with calls on the
 * same handle.  Calls that are in flight on one handle at the same moment
 * are coalesced: they travel in one batch frame and come back in one
 * reply, so the per-message cost is paid once per batch.  Nothing waits on
 * purpose for a batch to fill, each call keeps its own deadline, request
 * id and status, and coalescing can be switched off per handle.
 *
 * Errors are values: every call returns an inventory_code (gRPC's canonical
 * codes, the same numbers as on the wire).  A client-side timeout is
 * INVENTORY_DEADLINE_EXCEEDED, an unreachable server INVENTORY_UNAVAILABLE.
 * On failure, a caller-supplied inventory_status (may be NULL) gets the
 * message and, for an optimistic-concurrency conflict (INVENTORY_ABORTED),
 * the latest version and product.  The library never prints and never
 * exits.
 *
 * Ownership: a product returned through `out` is the caller's, freed with
 * inventory_product_free().  A status owns its `current` product: release
 * it with inventory_status_fini().  No public type exposes nng or
 * protobuf-c.
 *
 * Every call also has an asynchronous form (inventory_get_product_async()
 * and so on, at the end of this file) that returns at once and runs a
 * callback with the outcome; the synchronous calls are that path plus a
 * wait.  A handle opened with INVENTORY_COMPLETE_LOOP queues the
 * callbacks for an event loop (inventory_client_fd(),
 * inventory_client_process(), and the adapters in
 * <inventory/adapters/>); "Asynchronous calls" below states which thread
 * runs what, and what a callback may do.
 */
#ifndef INVENTORY_CLIENT_H
#define INVENTORY_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(INVENTORY_SHARED_BUILD)
#define INVENTORY_API __attribute__((visibility("default")))
#else
#define INVENTORY_API
#endif

/* This header's version: 0.2.0 added the asynchronous API, the
 * completion modes and the options' size (see inventory_client_open_opts),
 * and merged the two retry helpers; it is not binary compatible with 0.1
 * (the shared library's SONAME changed with it).  0.3.0 appended the
 * server probes' options (binary compatible: options are read by size). */
#define INVENTORY_CLIENT_VERSION_MAJOR 0
#define INVENTORY_CLIENT_VERSION_MINOR 3
#define INVENTORY_CLIENT_VERSION_PATCH 0
#define INVENTORY_CLIENT_VERSION                    \
	((INVENTORY_CLIENT_VERSION_MAJOR << 16) |   \
	    (INVENTORY_CLIENT_VERSION_MINOR << 8) | \
	    INVENTORY_CLIENT_VERSION_PATCH)

/* The version of the library actually loaded, as INVENTORY_CLIENT_VERSION: a
 * program may compare it with the header it was built against. */
INVENTORY_API unsigned inventory_version(void);

/* Opaque client handle; see the top of this file for thread-safety. */
typedef struct inventory_client inventory_client;

/* Status codes: gRPC's canonical codes with gRPC's numbers. */
typedef enum {
	INVENTORY_OK                = 0,
	INVENTORY_CANCELLED         = 1,
	INVENTORY_UNKNOWN           = 2,
	INVENTORY_INVALID_ARGUMENT  = 3,
	INVENTORY_DEADLINE_EXCEEDED = 4,
	INVENTORY_NOT_FOUND         = 5,
	INVENTORY_ALREADY_EXISTS = 6, /* request id reused for another call */
	INVENTORY_PERMISSION_DENIED   = 7,
	INVENTORY_RESOURCE_EXHAUSTED  = 8,
	INVENTORY_FAILED_PRECONDITION = 9,
	INVENTORY_ABORTED         = 10, /* OCC conflict: see status->current */
	INVENTORY_OUT_OF_RANGE    = 11,
	INVENTORY_UNIMPLEMENTED   = 12,
	INVENTORY_INTERNAL        = 13,
	INVENTORY_UNAVAILABLE     = 14,
	INVENTORY_DATA_LOSS       = 15,
	INVENTORY_UNAUTHENTICATED = 16,
} inventory_code;

/* Limits of the contract, checked by the server and by this library. */
enum {
	INVENTORY_ID_LEN         = 36,    /* canonical UUID text */
	INVENTORY_NAME_MAX       = 200,   /* bytes of UTF-8 */
	INVENTORY_PRICE_MAX      = 20,    /* characters of a decimal price */
	INVENTORY_REQUEST_ID_MAX = 64,    /* bytes */
	INVENTORY_STOCK_MAX = 2147483647, /* a stock, a quantity, |delta| */
};

/* A product as the server stored it. */
typedef struct inventory_product {
	char    id[INVENTORY_ID_LEN + 1];       /* UUID, lower case */
	char    name[INVENTORY_NAME_MAX + 1];   /* NUL-terminated UTF-8 */
	int64_t stock;                          /* never negative */
	char    price[INVENTORY_PRICE_MAX + 1]; /* exact decimal, "19.90" */
	int64_t version;                        /* 1, then +1 per update */
	int64_t created_at_us;                  /* µs since the Unix epoch */
	int64_t updated_at_us;                  /* µs since the Unix epoch */
} inventory_product;

/* Why a call failed.  Zero-initialise before first use, then pass to any
 * number of calls; each call resets it.  Release with
 * inventory_status_fini() (it owns `current`). */
typedef struct inventory_status {
	inventory_code code;            /* same as the call's return value */
	char           message[256];    /* human-readable, NUL-terminated */
	int64_t        current_version; /* ABORTED (and FAILED_PRECONDITION or
	                                 * OUT_OF_RANGE of AdjustStock): the
	                                 * latest version, else 0 */
	inventory_product *current; /* the latest product, as current_version;
	                             * else NULL */
} inventory_status;

/* Per-call options; pass NULL for the defaults. */
typedef struct inventory_call_opts {
	int timeout_ms;         /* 0: the handle's default (5000 ms).
	                         * Counted from the call's start, time
	                         * queued in the client included: the
	                         * server gets what is left when the call
	                         * leaves */
	const char *request_id; /* NULL: a fresh random id per call.  Give the
	                         * same id to repeat a write safely: the server
	                         * returns the first outcome. */
} inventory_call_opts;

/* How a handle talks to the servers; zero-initialise it and set only what
 * you need: every 0 means the default shown.  Read once by
 * inventory_client_open_opts() and not kept, so it may live on the
 * caller's stack. */
typedef struct inventory_client_opts {
	int connections; /* connections dialled to each URL, which nng
	                  * spreads requests over; 0: 2 (at most 64) */
	int no_coalesce; /* non-zero: every call travels alone in its own
	                  * frame (the behaviour before batch frames);
	                  * 0: concurrent calls share frames */
	int max_batch;   /* calls in one frame at most; 0: 64 (at most
	                  * 1000, the contract's limit).  A frame also
	                  * stays under 32 KiB unless one call alone is
	                  * bigger (it then travels alone). */
	int max_frames;  /* frames in flight at once; calls arriving while
	                  * all are in flight queue and leave together in the
	                  * next free one.  0: two per connection with
	                  * coalescing, unbounded without */
	/* The handle's retry budget (gRPC-style retry throttling), shared
	 * by every inventory_update_with_retry() on it: a token bucket
	 * that starts full; every call answered UNAVAILABLE or
	 * DEADLINE_EXCEEDED takes 1 token (calls that travelled coalesced
	 * in one frame share it: one lost frame is one event), every OK
	 * returns
	 * retry_token_milli / 1000 of one.  Such failures are retried only
	 * while more than retry_max_tokens / 2 tokens are left, so an
	 * outage costs each caller its first attempt, not max_attempts.
	 * Conflicts (ABORTED) are never throttled. */
	int retry_max_tokens;  /* bucket size; 0: 10 (at most 1000) */
	int retry_token_milli; /* thousandths of a token per OK; 0: 100 */
	int no_retry_throttle; /* non-zero: never throttle retries */
	/* Appended in 0.1: the struct grew, so a program built
	 * against an older header must be rebuilt (it is 0.x: no ABI
	 * promise yet).  Every string is read during open and not kept,
	 * so it may be freed or wiped afterwards. */
	const char *token; /* the caller's bearer token, sent once in every
	                    * frame (Request.token; in a batch frame on the
	                    * frame, for all its calls) to a server run with
	                    * --auth-file: 1..4096 printable ASCII bytes
	                    * without spaces (INVALID_ARGUMENT otherwise);
	                    * NULL or "": none.  Never logged by the library.
	                    * A server that does not know it answers every
	                    * call UNAUTHENTICATED; a reader's write is
	                    * PERMISSION_DENIED */
	/* TLS, for tls+tcp:// URLs only (other URLs of the list ignore
	 * these).  The server's certificate must be signed by tls_ca_file
	 * and name tls_server_name; a handshake that fails (another CA, an
	 * expired certificate, a server that does not speak TLS) is
	 * retried in the background like a refused connection, so calls
	 * fail with UNAVAILABLE when their timeout passes. */
	const char *tls_ca_file;     /* PEM CA certificate(s); required for
	                              * a tls+tcp:// URL (INVALID_ARGUMENT
	                              * without it or when it cannot be
	                              * read or parsed) */
	const char *tls_cert_file;   /* PEM client certificate, for a server
	                              * run with --tls-client-ca; NULL: none.
	                              * Give it with tls_key_file */
	const char *tls_key_file;    /* its PEM private key (unencrypted) */
	const char *tls_server_name; /* the name the server's certificate
	                              * must carry; NULL: each URL's host
	                              * (mbedtls 2.28 matches it against the
	                              * DNS names and CN, so a certificate
	                              * for 127.0.0.1 lists DNS:127.0.0.1) */
	/* Appended in 0.2: where asynchronous calls' callbacks run. */
	int completion; /* an inventory_completion; 0: THREAD */
	/* Appended in 0.3: a silent server (cut off without a reset, a
	 * frozen host) answers nothing while its connections still look
	 * up, and every frame handed to them would wait for its deadline.
	 * With two URLs or more, each is probed on a connection of its own
	 * (an empty request inventoryd answers at once, without the
	 * database); a URL that misses probe_misses probes in a row is
	 * down: the handle's connections to it are closed and their frames
	 * resent to the others, until it answers again.  The last URL up is
	 * never taken down, nor one whose connections delivered a reply
	 * within the interval (a busy or draining server).  A handle with
	 * one URL never probes. */
	int probe_interval_ms; /* a probe this often, each waiting as long
	                        * for its answer; 0: 200; negative: no
	                        * probes */
	int probe_misses;      /* down after this many misses in a row;
	                        * 0: 2 (a silent server is down 200-400
	                        * ms later at 200 ms) */
} inventory_client_opts;

/* Where the callbacks of asynchronous calls (and of every call when the
 * handle is shared with an event loop) run; see "Asynchronous calls". */
typedef enum {
	/* On the library's own threads (nng's callback threads), as soon as
	 * the reply, the deadline or a cancellation decides the call.  A
	 * callback must not block (no synchronous call, no sleeping, no
	 * inventory_client_close()); it may start calls and cancel them. */
	INVENTORY_COMPLETE_THREAD = 0,
	/* Queued: inventory_client_fd() becomes readable and the caller's
	 * event loop runs them with inventory_client_process(), in its own
	 * thread, one at a time (libpq's and c-ares' way).  The adapters
	 * <inventory/adapters/libuv.h> and <inventory/adapters/libevent.h>
	 * do that for those loops. */
	INVENTORY_COMPLETE_LOOP = 1,
} inventory_completion;

/* Open a handle dialled to urls, a comma-separated list of nng URLs
 * (tcp://host:port, ipc:///path, tls+tcp://host:port with
 * inventory_client_opts' TLS fields, ...).  Dialling starts with the
 * first call and is asynchronous: an unreachable server makes calls fail
 * with UNAVAILABLE or DEADLINE_EXCEEDED, not this function.  Returns
 * INVENTORY_OK and a handle in *out, or INVALID_ARGUMENT for a malformed URL
 * list.  Thread-safe. */
INVENTORY_API inventory_code inventory_client_open(
    inventory_client **out, const char *urls);

/* inventory_client_open() with options; opts NULL is the defaults.  A
 * negative field, a malformed token, and a tls+tcp:// URL without a
 * readable CA file (or with a certificate but no key, or files that do
 * not parse) are INVALID_ARGUMENT.  Thread-safe.
 *
 * It is a macro that passes the size of inventory_client_opts as the
 * program's header declares it: the library reads only that many bytes
 * and takes every field appended since as 0, so a program built against
 * an older header is never misread. */
#define inventory_client_open_opts(out, urls, opts) \
	inventory_client_open_opts_size(            \
	    (out), (urls), (opts), sizeof(inventory_client_opts))

/* What inventory_client_open_opts() calls; opts_size is the size of the
 * caller's inventory_client_opts (INVALID_ARGUMENT when smaller than the
 * 0.1 layout). */
INVENTORY_API inventory_code inventory_client_open_opts_size(
    inventory_client **out, const char *urls,
    const inventory_client_opts *opts, size_t opts_size);

/* Close the handle and free it.  NULL is a no-op.  No synchronous call
 * may be running on the handle, and it must not be called from a
 * callback.  Asynchronous calls still pending are cancelled: their
 * callbacks run (code CANCELLED) in this thread before it returns, and so
 * do completions still queued in INVENTORY_COMPLETE_LOOP mode; after it
 * returns no callback of the handle runs again. */
INVENTORY_API void inventory_client_close(inventory_client *c);

/* Set the default per-call timeout in milliseconds (> 0). */
INVENTORY_API void inventory_client_set_timeout(
    inventory_client *c, int timeout_ms);

/* Name of a code ("ABORTED"); "UNKNOWN" for numbers outside the enum.
 * Static storage, thread-safe. */
INVENTORY_API const char *inventory_code_name(inventory_code code);

/* Whether a write answered `code` may or may not have been applied: no
 * answer came (UNAVAILABLE, DEADLINE_EXCEEDED, CANCELLED) or the answer
 * does not say (INTERNAL, UNKNOWN, DATA_LOSS, or a code this library does
 * not know).  Resend the same call with the same request id to learn its
 * outcome: a repeat applies at most once.  0 for OK and every code that
 * says the write was not applied.  Thread-safe. */
INVENTORY_API int inventory_code_outcome_unknown(inventory_code code);

/* Free a product, or an array of products, returned by this library.
 * NULL is a no-op. */
INVENTORY_API void inventory_product_free(inventory_product *p);

/* Free what a status owns and zero it.  NULL is a no-op. */
INVENTORY_API void inventory_status_fini(inventory_status *status);

/* GetProduct.  On OK, *out is a new product owned by the caller.  On any
 * other code *out is untouched and *status (if not NULL) says why. */
INVENTORY_API inventory_code inventory_get_product(inventory_client *c,
    const char *id, const inventory_call_opts *opts, inventory_product **out,
    inventory_status *status);

/* Most ids one inventory_batch_get_products() call may carry. */
enum { INVENTORY_BATCH_GET_MAX = 1000 };

/* BatchGetProducts: read n products (1..INVENTORY_BATCH_GET_MAX ids,
 * duplicates allowed) in one call.  All or nothing: on OK *out is a new
 * malloc'd array of n products in the order of ids, owned by the caller
 * and freed with inventory_product_free(); if any id is unknown the call
 * is INVENTORY_NOT_FOUND and status->message names the first missing id
 * in request order.  ids and the strings stay the caller's. */
INVENTORY_API inventory_code inventory_batch_get_products(inventory_client *c,
    const char *const *ids, size_t n, const inventory_call_opts *opts,
    inventory_product **out, inventory_status *status);

/* CreateProduct: name (1..200 bytes), stock >= 0, price a decimal string
 * with at most two fraction digits.  On OK *out has version 1. */
INVENTORY_API inventory_code inventory_create_product(inventory_client *c,
    const char *name, int64_t stock, const char *price,
    const inventory_call_opts *opts, inventory_product **out,
    inventory_status *status);

/* UpdateStock: set the stock if the product is still at expected_version.
 * On OK *out has version expected_version + 1.  On a conflict returns
 * INVENTORY_ABORTED and status->current_version / status->current hold
 * the latest committed product (version > expected_version). */
INVENTORY_API inventory_code inventory_update_stock(inventory_client *c,
    const char *id, int64_t stock, int64_t expected_version,
    const inventory_call_opts *opts, inventory_product **out,
    inventory_status *status);

/* The change inventory_update_with_retry() applies: given the current
 * product, set *new_stock and return INVENTORY_OK to write it, or return
 * any other code to stop (the retry call then returns that code, e.g.
 * FAILED_PRECONDITION when a purchase finds no stock).  May be called
 * several times, once per attempt; must not block. */
typedef inventory_code (*inventory_update_fn)(
    const inventory_product *current, int64_t *new_stock, void *arg);

/* Retry policy; pass NULL for the defaults shown.  Zero-initialise it:
 * fields may be appended. */
typedef struct inventory_retry_opts {
	int max_attempts;       /* writes tried in all; 0: 10.  Also caps
	                         * the reads tried when the first read
	                         * fails with UNAVAILABLE/DEADLINE_EXCEEDED */
	int initial_backoff_ms; /* first sleep after a conflict; 0: 2 */
	int max_backoff_ms;     /* cap on one sleep; 0: 200 */
	int timeout_ms;         /* per call; 0: the handle's default */
	int deadline_ms;        /* overall: the read, every write and every
	                         * back-off end within this many ms of the
	                         * call (each call's timeout is cut to what
	                         * is left); 0: no overall deadline */
	const char *request_id; /* NULL: the first write gets a fresh id;
	                         * else its id (1..64 bytes, e.g. recorded
	                         * beforehand).  A write after a conflict is
	                         * another write, with a fresh id. */
} inventory_retry_opts;

/* What inventory_update_with_retry() did; the caller's, may be NULL. */
typedef struct inventory_retry_info {
	int attempts;        /* writes sent (resends included) */
	int reads;           /* GetProduct calls sent */
	int outcome_unknown; /* non-zero: the returned code is the last
	                      * write's UNAVAILABLE or DEADLINE_EXCEEDED: it
	                      * may or may not have been applied (below) */
	int throttled;       /* non-zero: the handle's retry budget stopped
	                      * a retry (see inventory_client_opts) */
	char request_id[INVENTORY_REQUEST_ID_MAX + 1]; /* the last write's
	                                                * id; "" if none */
	int64_t new_stock;        /* the stock the last write set */
	int64_t expected_version; /* the version it was based on */
} inventory_retry_info;

/* Read-modify-write with optimistic concurrency: read the product, apply
 * fn to it, write the new stock with the read version; on a conflict apply
 * fn again to the product the conflict returned and retry after an
 * exponential backoff with full jitter, up to max_attempts writes.  Each
 * write carries its own request id; a write whose outcome is unknown
 * (UNAVAILABLE or DEADLINE_EXCEEDED) is resent after the back-off with the
 * same id, so it is applied at most once.  A read that fails that way is
 * retried too.  Retries stop at max_attempts, at opts->deadline_ms, or
 * (for UNAVAILABLE/DEADLINE_EXCEEDED, not conflicts) when the handle's
 * retry budget is spent; status->message then says which.  With a
 * deadline, a back-off never takes more than half of the time left, so a
 * contended caller still gets its attempts instead of sleeping past its
 * deadline.  Returns OK with *out the written product; ABORTED if every
 * attempt conflicted (status->current is the latest seen); fn's code if
 * fn stopped; UNAVAILABLE or DEADLINE_EXCEEDED if the retries ran out on
 * unknown outcomes; or the first other error.  Thread-safe like every
 * call; runs inventory_update_with_retry_async() and waits for it.
 *
 * info (may be NULL) reports the last write sent, so a caller can finish
 * a write of unknown outcome after the helper gave up.  When
 * info->outcome_unknown is set, resend exactly that write with the same
 * id:
 *
 *   inventory_call_opts o = { .request_id = info.request_id };
 *   code = inventory_update_stock(c, id, info.new_stock,
 *       info.expected_version, &o, &p, &status);
 *
 * The server answers a repeated request id with the first outcome: OK
 * means the write is applied (by the first send or by this one, once);
 * ABORTED means it was not and now never will be (the product moved on;
 * start over); UNAVAILABLE/DEADLINE_EXCEEDED means still unknown: resend
 * later, within the server's --request-ttl (a day by default). */
INVENTORY_API inventory_code inventory_update_with_retry(inventory_client *c,
    const char *id, inventory_update_fn fn, void *arg,
    const inventory_retry_opts *opts, inventory_product **out,
    inventory_status *status, inventory_retry_info *info);

/* ---- atomic adjustments, reservations, listing -------------------- */

/* AdjustStock: add delta (non-zero, |delta| <= 2147483647) to the stock in
 * one statement on the server: no read, and no conflict under contention.
 * expected_version 0: any version; >= 1: only if the product is still at
 * that version (ABORTED otherwise, as inventory_update_stock()).  On OK
 * *out is the product after the change.  An adjustment that would take
 * the stock below 0 is INVENTORY_FAILED_PRECONDITION and one that would
 * pass 2147483647 is INVENTORY_OUT_OF_RANGE; nothing changes then, and
 * status->current holds the product as it is.  Idempotent by request id:
 * resend with the same opts->request_id after an unknown outcome. */
INVENTORY_API inventory_code inventory_adjust_stock(inventory_client *c,
    const char *id, int64_t delta, int64_t expected_version,
    const inventory_call_opts *opts, inventory_product **out,
    inventory_status *status);

/* Most items one reservation may carry. */
enum { INVENTORY_RESERVE_MAX = 100 };

/* One item of a reservation: quantity > 0 takes that many units (then
 * expected_version and stock must be 0); quantity 0 sets the stock to
 * `stock` (0..2147483647) if the product is still at expected_version
 * (>= 1). */
typedef struct inventory_reserve_item {
	const char *id;               /* the caller's */
	int64_t     quantity;         /* take: 1 .. 2147483647; 0: set */
	int64_t     expected_version; /* set: the version stock is based on */
	int64_t     stock;            /* set: the new stock */
} inventory_reserve_item;

/* Why one item of a failed reservation failed. */
typedef struct inventory_item_error {
	size_t            index;        /* into the call's items */
	inventory_code    code;         /* ABORTED, FAILED_PRECONDITION, ... */
	char              message[256]; /* human-readable */
	inventory_product current;      /* as it is; version 0: not found
	                                 * (then only current.id is set) */
} inventory_item_error;

/* ReserveStock: apply n items (1..INVENTORY_RESERVE_MAX, on distinct
 * products) all or nothing, in one transaction.  On OK *out is a new
 * malloc'd array of n products after the change, in item order (free with
 * inventory_product_free()).  On a failure nothing was applied; the code
 * is the first failing item's, and when errors is not NULL *errors gets a
 * new malloc'd array of *nerrors entries, one per failing item (free()
 * it), else NULL and 0.  Every call carries a request id (opts->request_id
 * or a fresh one): a call whose outcome is unknown (UNAVAILABLE or
 * DEADLINE_EXCEEDED) can be resent with the same id and applies at most
 * once; the repeat answers with the first outcome. */
INVENTORY_API inventory_code inventory_reserve(inventory_client *c,
    const inventory_reserve_item *items, size_t n,
    const inventory_call_opts *opts, inventory_product **out,
    inventory_status *status, inventory_item_error **errors, size_t *nerrors);

/* Called by inventory_reserve_with_retry() after a conflict: items (the
 * helper's copy, which fn may change) and the conflicting items' errors
 * with their current products.  Set each conflicting item's
 * expected_version and stock from errors[i].current and return
 * INVENTORY_OK to try again, or another code to stop with it. */
typedef inventory_code (*inventory_reserve_fn)(inventory_reserve_item *items,
    size_t n, const inventory_item_error *errors, size_t nerrors, void *arg);

/* inventory_reserve() that finishes what can be finished: a send whose
 * outcome is unknown is resent with the same request id (within the retry
 * budget and opts->deadline_ms), and after ABORTED fn (NULL: stop with
 * ABORTED) re-bases the items and a new reservation, with a fresh request
 * id, is tried after a jittered back-off, up to opts->max_attempts.
 * FAILED_PRECONDITION, NOT_FOUND and the other codes stop at once.  info
 * (may be NULL) reports the last send as inventory_update_with_retry()
 * does (new_stock and expected_version are 0). */
INVENTORY_API inventory_code inventory_reserve_with_retry(inventory_client *c,
    const inventory_reserve_item *items, size_t n, inventory_reserve_fn fn,
    void *arg, const inventory_retry_opts *opts, inventory_product **out,
    inventory_status *status, inventory_retry_info *info);

/* Most products one page may hold, and the page size for 0. */
enum { INVENTORY_LIST_MAX = 1000, INVENTORY_LIST_DEFAULT = 50 };

/* ListProducts: one page of products in id order (Google AIP-158).
 * page_size 0: 50; larger than 1000: 1000.  page_token NULL or "": the
 * first page; else a next_page_token from an earlier call.  On OK *out is
 * a new malloc'd array of *n products (NULL when 0) and *next_page_token
 * a new malloc'd string, "" on the last page; free both. */
INVENTORY_API inventory_code inventory_list_products(inventory_client *c,
    int page_size, const char *page_token, const inventory_call_opts *opts,
    inventory_product **out, size_t *n, char **next_page_token,
    inventory_status *status);

/* ---- asynchronous calls ------------------------------------------- */

/*
 * Every RPC, and the read-modify-write helper, has an _async form that
 * checks its arguments, queues the call and returns at once; the call
 * then travels exactly like a synchronous one (coalesced into batch
 * frames, spread over the connections, fed to the retry budget), and
 * its callback runs exactly once with the outcome.  The synchronous calls
 * above are this path plus a wait.
 *
 * Starting: an _async function returns INVENTORY_OK and (if idp is not
 * NULL) the call's id in *idp, or an error (INVALID_ARGUMENT,
 * RESOURCE_EXHAUSTED, CANCELLED on a handle being closed) and then the
 * callback is never called (libuv's rule).  Arguments (ids, names, items,
 * opts and the strings they point to) are copied before it returns.
 *
 * Deadline: opts->timeout_ms (or the handle's default) counts from the
 * start, including the time the call waits in the client for a free
 * frame; what is left when the frame leaves is what the server gets.  A
 * call still unsent at its deadline ends UNAVAILABLE, one sent and not
 * answered DEADLINE_EXCEEDED.
 *
 * Cancelling: inventory_cancel() ends a pending call with CANCELLED.  A
 * write cancelled after it was sent may or may not be applied
 * (inventory_code_outcome_unknown(CANCELLED) is 1): resend it with the
 * same request id to learn which.
 *
 * Callbacks and threads: with INVENTORY_COMPLETE_THREAD (the default) a
 * callback runs on one of the library's threads, or in the thread that
 * called inventory_cancel() for a call it cancelled, or in the thread
 * that called inventory_client_close() (or, only when memory for a frame
 * runs out, in a thread starting a call); with INVENTORY_COMPLETE_LOOP
 * always in the thread that calls inventory_client_process() (or
 * inventory_client_close()).  Callbacks of one handle may run
 * concurrently in THREAD mode, never in LOOP mode.  A callback may start
 * new asynchronous calls and cancel calls, on this handle or another; it
 * must not close the handle; in THREAD mode it must not block (no
 * synchronous call).  Synchronous calls work in both modes and from any
 * thread (their waits never go through the loop's queue), so in LOOP
 * mode the loop thread may make one, but it blocks the loop.
 */

/* A pending asynchronous call, for inventory_cancel(); never 0.  Ids are
 * not reused while the handle is open, so a stale id is harmless. */
typedef uint64_t inventory_call_id;

/* The outcome handed to a callback.  It and everything it points to is
 * the library's and is freed when the callback returns, except what the
 * callback takes: to keep product, products, next_page_token, errors or
 * status.current, copy the pointer and set the field to NULL. */
typedef struct inventory_result {
	inventory_code   code;        /* as a synchronous call returns it */
	inventory_status status;      /* code != OK: why, as the synchronous
	                               * calls' status (current on a conflict) */
	inventory_product *product;   /* OK of GetProduct, CreateProduct,
	                               * UpdateStock, AdjustStock and the
	                               * read-modify-write helper */
	inventory_product *products;  /* OK of BatchGetProducts (in the order
	                               * of the ids), ReserveStock (item
	                               * order), ListProducts (the page) */
	size_t nproducts;             /* entries in products */
	char  *next_page_token;       /* OK of ListProducts: "" on the last
	                               * page */
	inventory_item_error *errors; /* a failed ReserveStock: one per
	                               * failing item */
	size_t               nerrors; /* entries in errors */
	inventory_retry_info info;    /* the read-modify-write helper: what
	                               * it did; zero for the other calls */
} inventory_result;

/* A completion callback: r is the outcome (see inventory_result), arg the
 * value given when the call started. */
typedef void (*inventory_callback)(inventory_result *r, void *arg);

/* The asynchronous RPCs: the arguments, checks and outcomes of the
 * synchronous call of the same name, delivered to cb(r, arg). */
INVENTORY_API inventory_code inventory_get_product_async(inventory_client *c,
    const char *id, const inventory_call_opts *opts, inventory_callback cb,
    void *arg, inventory_call_id *idp);
INVENTORY_API inventory_code inventory_batch_get_products_async(
    inventory_client *c, const char *const *ids, size_t n,
    const inventory_call_opts *opts, inventory_callback cb, void *arg,
    inventory_call_id *idp);
INVENTORY_API inventory_code inventory_create_product_async(
    inventory_client *c, const char *name, int64_t stock, const char *price,
    const inventory_call_opts *opts, inventory_callback cb, void *arg,
    inventory_call_id *idp);
INVENTORY_API inventory_code inventory_update_stock_async(inventory_client *c,
    const char *id, int64_t stock, int64_t expected_version,
    const inventory_call_opts *opts, inventory_callback cb, void *arg,
    inventory_call_id *idp);
INVENTORY_API inventory_code inventory_adjust_stock_async(inventory_client *c,
    const char *id, int64_t delta, int64_t expected_version,
    const inventory_call_opts *opts, inventory_callback cb, void *arg,
    inventory_call_id *idp);
INVENTORY_API inventory_code inventory_reserve_async(inventory_client *c,
    const inventory_reserve_item *items, size_t n,
    const inventory_call_opts *opts, inventory_callback cb, void *arg,
    inventory_call_id *idp);
INVENTORY_API inventory_code inventory_list_products_async(inventory_client *c,
    int page_size, const char *page_token, const inventory_call_opts *opts,
    inventory_callback cb, void *arg, inventory_call_id *idp);

/* inventory_update_with_retry() as a state machine: the same reads,
 * writes, back-offs (timers, not sleeps), budget, deadline and outcomes;
 * r->product is the written product on OK and r->info says what it did.
 * fn runs where callbacks run (see above) and must not block.
 * Cancelling it cancels the call or back-off in progress and ends it
 * with CANCELLED (info says whether a write's outcome is unknown). */
INVENTORY_API inventory_code inventory_update_with_retry_async(
    inventory_client *c, const char *id, inventory_update_fn fn, void *fnarg,
    const inventory_retry_opts *opts, inventory_callback cb, void *arg,
    inventory_call_id *idp);

/* Cancel a pending call: its callback runs with CANCELLED (in THREAD
 * mode in this thread, before this returns; in LOOP mode from the
 * queue).  Returns OK, or NOT_FOUND when the call is no longer pending
 * (its outcome is already decided; its callback runs or ran with it).
 * Thread-safe; may be called from a callback. */
INVENTORY_API inventory_code inventory_cancel(
    inventory_client *c, inventory_call_id id);

/* INVENTORY_COMPLETE_LOOP mode: a file descriptor (an eventfd) that is
 * readable while completions are queued.  Watch it for reading and call
 * inventory_client_process() when it is; never read, write or close it.
 * -1 for a handle in THREAD mode. */
INVENTORY_API int inventory_client_fd(inventory_client *c);

/* INVENTORY_COMPLETE_LOOP mode: run the completions queued so far, in
 * this thread, and return how many ran (0 in THREAD mode).  Completions
 * that callbacks cause meanwhile make the descriptor readable again.
 * Call it from one thread at a time (the loop's). */
INVENTORY_API int inventory_client_process(inventory_client *c);

/* Calls of the handle not yet completed (started, callback not yet run;
 * queued completions included; a synchronous call in progress, and the
 * step in progress of each read-modify-write helper, count too).  For
 * drains and tests. */
INVENTORY_API size_t inventory_client_pending(inventory_client *c);

#ifdef __cplusplus
}
#endif

#endif /* INVENTORY_CLIENT_H */
