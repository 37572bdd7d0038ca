/* SPDX-License-Identifier: MIT */
/*
 * The dispatcher (see dispatch.h): frames in, ops out, replies back.
 *
 * Invariants:
 *  - every frame gets exactly one Response; bytes that do not decode get
 *    one with INVALID_ARGUMENT, a frame over the size limit or with too
 *    many calls one with RESOURCE_EXHAUSTED;
 *  - each call of a batch is decoded, validated and answered exactly as
 *    if it had come alone: one bad call fails only itself;
 *  - the method table is data: rpc_table[] is indexed like protoc-c's
 *    service descriptor, and a call's row (op->rpc) is all dispatch asks
 *    about its RPC, so adding an RPC is one proto line and one row;
 *  - a call whose deadline passed never reaches the database;
 *  - metrics and the conflict log are written here and only here, once
 *    per call, when its frame is packed.
 */
#include "core/dispatch.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "core/dispatch_testing.h"
#include "core/wire_check.h"
#include "handlers/handlers.h"
#include "handlers/rpc.h"
#include "handlers/validate.h"
#include "ops/audit.h"
#include "ops/auth.h"
#include "ops/hot.h"
#include "ops/metrics.h"

#define METHOD_PREFIX "/inventory.v1.InventoryService/"

static const ProtobufCServiceDescriptor *const service =
    &inventory__v1__inventory_service__descriptor;

/* One received message and the calls it carries. */
struct frame {
	Inventory__V1__Request *env;   /* owned: the decoded frame */
	bool                    batch; /* env->batch holds the calls */
	size_t                  nops;
	struct op              *ops;      /* nops calls; &one when single */
	ProtobufCMessage      **payloads; /* owned, one per call or NULL */
	atomic_size_t           pending;  /* calls not done, + 1 until
	                                     released */
	enum code         code;           /* not OK: the frame is refused */
	char              message[256];   /* why it is refused */
	uint64_t          received_ns;    /* arrival (monotonic) */
	dispatch_done_fn  done;           /* called when pending reaches 0 */
	void             *arg;            /* for done */
	struct op         one;            /* the call of a single frame */
	ProtobufCMessage *one_payload;    /* its payload */
	struct wire_check wire;           /* what the raw bytes showed */
	size_t            reply_cost;     /* bytes reserved for its replies */
	bool              trusted;        /* a call of it got past the token
	                                     check (or there is none) */
	bool probe;                       /* an empty request: a client's
	                                     liveness probe, answered OK */
};

/* Conflict and failure lines: at most 10 a second each, then a count. */
static struct log_limit conflict_log = LOG_LIMIT_INIT("conflict", 10);
static struct log_limit failure_log  = LOG_LIMIT_INIT("request", 10);

/* Set once before the executors start; read-only afterwards. */
static size_t max_request_bytes;
static size_t max_reply_bytes;  /* per frame; 0: no limit */
static size_t reply_memory_max; /* all frames at once; 0: no limit */

_Static_assert(sizeof(struct product) + 320 <= DISPATCH_PRODUCT_COST,
    "a product's struct and widest encoding must fit its reply cost");

/* Bytes reserved by the frames in flight for their replies. */
static atomic_size_t reply_reserved;

void
dispatch_set_max_request(size_t max_request)
{
	max_request_bytes = max_request;
}

void
dispatch_set_reply_limits(size_t per_frame, size_t all_frames)
{
	max_reply_bytes  = per_frame;
	reply_memory_max = all_frames;
}

size_t
dispatch_reply_reserved(void)
{
	return atomic_load_explicit(&reply_reserved, memory_order_relaxed);
}

/* The most memory a pending call's reply can take, from its arguments
 * alone: each product it may return costs its struct in the op and its
 * encoded form in the reply. */
static size_t
reply_cost(const struct op *op)
{
	size_t products = op->rpc->reply_products(op);

	return DISPATCH_REPLY_BASE + products * DISPATCH_PRODUCT_COST;
}

/* Reserve op's reply memory for its frame; false (op answered
 * RESOURCE_EXHAUSTED) when the frame's or the process's budget would be
 * exceeded.  Checked before any I/O, so a refused call costs nothing. */
static bool
reserve_reply(struct frame *f, struct op *op)
{
	size_t cost = reply_cost(op), before;

	if (max_reply_bytes != 0 && f->reply_cost + cost > max_reply_bytes) {
		snprintf(op->message, sizeof(op->message),
		    "the replies of this frame would exceed %zu bytes "
		    "(--max-reply): send this call in another frame",
		    max_reply_bytes);
		goto out_refuse;
	}
	before = atomic_fetch_add(&reply_reserved, cost);
	if (reply_memory_max != 0 && before + cost > reply_memory_max) {
		atomic_fetch_sub(&reply_reserved, cost);
		snprintf(op->message, sizeof(op->message),
		    "the server is at its reply memory budget of %zu bytes "
		    "(--reply-memory): retry later",
		    reply_memory_max);
		goto out_refuse;
	}
	f->reply_cost += cost;
	return true;

out_refuse:
	op->work = false;
	op->code = CODE_RESOURCE_EXHAUSTED;
	return false;
}

int
dispatch_check_table(void)
{
	if (rpc_count != service->n_methods ||
	    METRICS_METHODS != service->n_methods + 1) {
		log_err("dispatch: %zu rpc rows and %d metrics slots for %u "
		        "methods",
		    rpc_count, METRICS_METHODS, service->n_methods);
		return -1;
	}
	for (unsigned i = 0; i < service->n_methods; i++) {
		if (strcmp(rpc_table[i]->name, service->methods[i].name) !=
		    0) {
			log_err(
			    "dispatch: rpc row %u is %s, the proto says %s", i,
			    rpc_table[i]->name, service->methods[i].name);
			return -1;
		}
	}
	return rpc_check(); /* and every row is complete */
}

/* True if s is 1..max bytes of printable ASCII: safe to log and echo. */
static bool
printable(const char *s, size_t max)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++) {
		if (n >= max || s[n] < 0x21 || s[n] > 0x7e)
			return false;
	}
	return n > 0;
}

/* The method and payload of one decoded envelope.  OK, or a code with a
 * reason in msg; *method is the table index once the name is known. */
static enum code
decode_call(const Inventory__V1__Request *env, int *method,
    ProtobufCMessage **payload, char *msg, size_t msglen)
{
	const ProtobufCMethodDescriptor *m;
	const char                      *name     = env->method;
	const uint8_t                   *body     = (const uint8_t *)"";
	size_t                           body_len = 0;

	*method  = -1;
	*payload = NULL;
	if (env->request_id != NULL && !validate_request_id(env->request_id)) {
		snprintf(msg, msglen,
		    "request_id: must be 1 to %d printable ASCII characters, "
		    "none of them space, '=', '\"' or '\\', and not \"-\"",
		    REQUEST_ID_MAX);
		return CODE_INVALID_ARGUMENT;
	}
	if (name == NULL || name[0] == '\0') {
		snprintf(msg, msglen, "method: required");
		return CODE_INVALID_ARGUMENT;
	}
	if (strncmp(name, METHOD_PREFIX, sizeof(METHOD_PREFIX) - 1) != 0 ||
	    (m = protobuf_c_service_descriptor_get_method_by_name(
	         service, name + sizeof(METHOD_PREFIX) - 1)) == NULL ||
	    (size_t)(m - service->methods) >= rpc_count) {
		if (printable(name, 128))
			snprintf(msg, msglen, "unknown method '%s'", name);
		else
			snprintf(msg, msglen, "unknown method");
		return CODE_UNIMPLEMENTED;
	}
	*method = (int)(m - service->methods);
	if (env->has_payload && env->payload.data != NULL) {
		body     = env->payload.data;
		body_len = env->payload.len;
	}
	*payload = protobuf_c_message_unpack(m->input, NULL, body_len, body);
	if (*payload == NULL) {
		snprintf(msg, msglen, "malformed %s payload", m->input->name);
		return CODE_INVALID_ARGUMENT;
	}
	return CODE_OK;
}

void
dispatch_request_fini(struct dispatch_request *req)
{
	if (req->payload != NULL)
		protobuf_c_message_free_unpacked(req->payload, NULL);
	if (req->env != NULL)
		inventory__v1__request__free_unpacked(req->env, NULL);
	req->payload = NULL;
	req->env     = NULL;
	req->method  = -1;
}

/* Unpacked, such a string would end at the NUL: a token or id other
 * than the one sent. */
#define NUL_REFUSAL "method, request_id and token may not contain a NUL byte"

enum code
dispatch_decode(const uint8_t *buf, size_t len, struct dispatch_request *req,
    char *msg, size_t msglen)
{
	struct wire_check wire;
	enum code         code;
	bool              nul;

	req->env     = NULL;
	req->payload = NULL;
	req->method  = -1;
	code         = wire_check_request(buf, len, &wire, msg, msglen);
	nul          = wire.nul;
	wire_check_fini(&wire);
	if (code != CODE_OK)
		return code;
	if (nul) { /* as open_call refuses it */
		snprintf(msg, msglen, NUL_REFUSAL);
		return CODE_INVALID_ARGUMENT;
	}
	req->env = inventory__v1__request__unpack(NULL, len, buf);
	if (req->env == NULL) {
		snprintf(msg, msglen, "malformed request envelope");
		return CODE_INVALID_ARGUMENT;
	}
	return decode_call(req->env, &req->method, &req->payload, msg, msglen);
}

/* Turn one call's envelope into op: decoded, validated and, if it needs
 * the database, pending (returns true). */
static bool
open_call(struct frame *f, const Inventory__V1__Request *env, bool nul,
    struct op *op, ProtobufCMessage **payload)
{
	enum auth_role role = AUTH_ROLE_WRITER; /* without --auth-file */
	enum code      code;

	op->frame       = f;
	op->received_ns = f->received_ns;
	op->work        = false;
	/* Echoed in the reply whenever it is well-formed. */
	if (env->request_id != NULL && validate_request_id(env->request_id))
		op->request_id = env->request_id;
	if (env->n_batch > 0) {
		op->method = -1;
		code       = CODE_INVALID_ARGUMENT;
		snprintf(op->message, sizeof(op->message),
		    "batch: a batch entry may not itself be a batch");
		goto out_done;
	}
	if (nul) {
		/* Unpacked, the string would end at the NUL: a token or id
		 * other than the one sent. */
		op->method = -1;
		code       = CODE_INVALID_ARGUMENT;
		snprintf(op->message, sizeof(op->message), NUL_REFUSAL);
		goto out_done;
	}
	if (auth_enabled()) {
		/* An entry's own token, else its frame's.  Never logged. */
		role =
		    auth_check(env->token != NULL ? env->token : f->env->token,
		        op->caller);
		if (role == AUTH_ROLE_NONE) {
			op->method = -1;
			code       = CODE_UNAUTHENTICATED;
			snprintf(op->message, sizeof(op->message),
			    "missing or unknown token");
			goto out_done;
		}
	}
	f->trusted = true; /* a known token, or none is needed */
	code       = decode_call(
	          env, &op->method, payload, op->message, sizeof(op->message));
	if (code != CODE_OK)
		goto out_done;
	op->rpc = rpc_table[op->method];
	if (op->rpc->writes && role != AUTH_ROLE_WRITER) {
		code = CODE_PERMISSION_DENIED;
		snprintf(op->message, sizeof(op->message),
		    "caller %s is a reader: %s is a write", op->caller,
		    op->rpc->name);
		goto out_done;
	}
	if ((code = op->rpc->prepare(*payload, op)) != CODE_OK)
		goto out_done;
	if (env->has_timeout_ms) {
		op->deadline_ns =
		    f->received_ns + (uint64_t)env->timeout_ms * 1000000u;
		if (clock_now_ns() >= op->deadline_ns) {
			code = CODE_DEADLINE_EXCEEDED;
			snprintf(op->message, sizeof(op->message),
			    "deadline of %" PRIu32
			    " ms expired before the request was handled",
			    env->timeout_ms);
			goto out_done;
		}
	}
	if (!reserve_reply(f, op))
		return false;
	/* A row without run needs no database: the call is complete (OK)
	 * and its finish packs the reply. */
	op->work = op->rpc->run != NULL;
	op->code = CODE_OK;
	return op->work;

out_done:
	op->work = false;
	op->code = code;
	return false;
}

/* Refuse the whole frame. */
static void
refuse(struct frame *f, enum code code, const char *msg)
{
	f->code = code;
	snprintf(f->message, sizeof(f->message), "%s", msg);
}

struct frame *
dispatch_frame_open(const uint8_t *buf, size_t len, uint64_t received_ns,
    dispatch_done_fn done, void *arg, struct op **pending)
{
	struct frame *f;
	struct op   **tail = pending;
	char          msg[160];
	enum code     code;

	*pending = NULL;
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return NULL;
	f->received_ns = received_ns;
	f->done        = done;
	f->arg         = arg;
	f->code        = CODE_OK;
	atomic_init(&f->pending, 1);

	if (max_request_bytes != 0 && len > max_request_bytes) {
		snprintf(msg, sizeof(msg),
		    "request of %zu bytes exceeds the limit of %zu bytes", len,
		    max_request_bytes);
		refuse(f, CODE_RESOURCE_EXHAUSTED, msg);
		return f;
	}
	/* Before unpacking: protobuf-c recurses into every nested batch. */
	if ((code = wire_check_request(
	         buf, len, &f->wire, msg, sizeof(msg))) != CODE_OK) {
		refuse(f, code, msg);
		return f;
	}
	if ((f->env = inventory__v1__request__unpack(NULL, len, buf)) ==
	    NULL) {
		refuse(f, CODE_INVALID_ARGUMENT, "malformed request envelope");
		return f;
	}
	if (f->env->n_batch == 0 && f->env->method == NULL &&
	    f->env->request_id == NULL && !f->env->has_payload &&
	    !f->env->has_timeout_ms) {
		/* No call at all: a client checking that this server still
		 * answers (client/watch.c).  No database, no token: it
		 * learns nothing but that the process reads and replies. */
		char caller[CALLER_MAX + 1];

		f->probe = true;
		/* Its connection is a caller's as a call's would be: a
		 * known token, or none needed (the transport evicts
		 * untrusted connections first). */
		f->trusted =
		    !auth_enabled() ||
		    (f->env->token != NULL && !f->wire.nul &&
		        auth_check(f->env->token, caller) != AUTH_ROLE_NONE);
		return f;
	}
	if (f->env->n_batch == 0) {
		f->nops     = 1;
		f->ops      = &f->one;
		f->payloads = &f->one_payload;
		if (open_call(
		        f, f->env, f->wire.nul, &f->one, &f->one_payload)) {
			*tail = &f->one;
			atomic_store(&f->pending, 2);
		}
		return f;
	}
	if (f->env->n_batch > DISPATCH_BATCH_MAX) {
		snprintf(msg, sizeof(msg),
		    "batch of %zu calls exceeds the limit of %d",
		    f->env->n_batch, DISPATCH_BATCH_MAX);
		refuse(f, CODE_RESOURCE_EXHAUSTED, msg);
		return f;
	}
	if (f->env->method != NULL || f->env->request_id != NULL ||
	    f->env->has_payload || f->env->has_timeout_ms) {
		/* Answering the entries alone would drop the frame's own
		 * call without a word. */
		refuse(f, CODE_INVALID_ARGUMENT,
		    "a batch frame carries no call of its own: method, "
		    "request_id, timeout_ms and payload go in its entries");
		return f;
	}
	if (f->wire.nul) {
		/* The frame's token, which entries without their own use. */
		refuse(f, CODE_INVALID_ARGUMENT,
		    "token may not contain a NUL byte");
		return f;
	}
	f->batch = true;
	f->nops  = f->env->n_batch;
	f->ops   = calloc(f->nops, sizeof(*f->ops));
	/* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
	f->payloads = calloc(f->nops, sizeof(*f->payloads));
	if (f->ops == NULL || f->payloads == NULL) {
		free(f->ops);
		free(f->payloads);
		inventory__v1__request__free_unpacked(f->env, NULL);
		wire_check_fini(&f->wire);
		free(f);
		return NULL;
	}
	for (size_t i = 0; i < f->nops; i++) {
		bool nul = f->wire.entry_nul != NULL && i < f->wire.nentries &&
		           f->wire.entry_nul[i];

		if (open_call(f, f->env->batch[i], nul, &f->ops[i],
		        &f->payloads[i])) {
			*tail = &f->ops[i];
			tail  = &f->ops[i].next;
			atomic_fetch_add(&f->pending, 1);
		}
	}
	return f;
}

static void
frame_unref(struct frame *f)
{
	if (atomic_fetch_sub_explicit(&f->pending, 1, memory_order_acq_rel) ==
	        1 &&
	    f->done != NULL)
		f->done(f, f->arg);
}

void
dispatch_frame_release(struct frame *f)
{
	frame_unref(f);
}

void
dispatch_op_done(struct op *op)
{
	frame_unref(op->frame);
}

void
dispatch_frame_free(struct frame *f)
{
	if (f == NULL)
		return;
	for (size_t i = 0; i < f->nops; i++) {
		op_fini(&f->ops[i]);
		if (f->payloads[i] != NULL)
			protobuf_c_message_free_unpacked(f->payloads[i], NULL);
	}
	if (f->batch) {
		free(f->ops);
		free(f->payloads);
	}
	if (f->env != NULL)
		inventory__v1__request__free_unpacked(f->env, NULL);
	wire_check_fini(&f->wire);
	if (f->reply_cost > 0)
		atomic_fetch_sub(&reply_reserved, f->reply_cost);
	free(f);
}

bool
dispatch_frame_trusted(const struct frame *f)
{
	return f->trusted;
}

void
op_fini(struct op *op)
{
	free(op->ids);
	free(op->products);
	free(op->items);
	free(op->items_key);
	op->ids       = NULL;
	op->products  = NULL;
	op->items     = NULL;
	op->items_key = NULL;
}

/* The wire pieces of one call's Response; borrowed from op and payloads. */
struct wire_call {
	Inventory__V1__Response     resp;
	Inventory__V1__ErrorDetails details;
	Inventory__V1__Product      current;
	size_t                      off, len; /* payload in the buffer */
	struct wire_items          *items;    /* a failed reservation's */
};

/* ErrorDetails.items of a failed reservation, in one allocation. */
struct wire_items {
	Inventory__V1__ItemError **ptrs;
	Inventory__V1__ItemError  *errs;
	Inventory__V1__Product    *current;
	char (*msgs)[160];
};

static void
wire_items_free(struct wire_items *wi)
{
	if (wi == NULL)
		return;
	free(wi->ptrs);
	free(wi->errs);
	free(wi->current);
	free(wi->msgs);
	free(wi);
}

/* Name every failing item of a reservation in details (nothing when out
 * of memory: the message still names the first). */
static void
wire_items_fill(struct wire_call *w, const struct op *op)
{
	struct wire_items *wi;
	size_t             k = 0;

	for (size_t i = 0; i < op->nitems; i++)
		k += op->items[i].code != CODE_OK;
	if (k == 0 || (wi = calloc(1, sizeof(*wi))) == NULL)
		return;
	/* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
	wi->ptrs    = calloc(k, sizeof(*wi->ptrs));
	wi->errs    = calloc(k, sizeof(*wi->errs));
	wi->current = calloc(k, sizeof(*wi->current));
	wi->msgs    = calloc(k, sizeof(*wi->msgs));
	if (wi->ptrs == NULL || wi->errs == NULL || wi->current == NULL ||
	    wi->msgs == NULL) {
		wire_items_free(wi);
		return;
	}
	k = 0;
	for (size_t i = 0; i < op->nitems; i++) {
		const struct reserve_item *it = &op->items[i];
		Inventory__V1__ItemError  *e  = &wi->errs[k];

		if (it->code == CODE_OK)
			continue;
		inventory__v1__item_error__init(e);
		e->has_index = 1;
		e->index     = (uint32_t)i;
		e->id        = (char *)it->id;
		e->has_code  = 1;
		e->code      = (uint32_t)it->code;
		reserve_item_message(it, wi->msgs[k], sizeof(wi->msgs[k]));
		e->message = wi->msgs[k];
		if (it->product.version != 0) {
			handler_product_to_wire(&it->product, &wi->current[k]);
			e->current = &wi->current[k];
		}
		wi->ptrs[k] = e;
		k++;
	}
	w->details.n_items = k;
	w->details.items   = wi->ptrs;
	w->items           = wi;
}

/* ErrorDetails for the codes that carry the product as it is: ABORTED
 * always, AdjustStock's and ReserveStock's FAILED_PRECONDITION and
 * OUT_OF_RANGE, and a failed reservation's items. */
static void
wire_details_fill(struct wire_call *w, const struct op *op)
{
	bool current = op->code == CODE_ABORTED ||
	               ((op->code == CODE_FAILED_PRECONDITION ||
	                    op->code == CODE_OUT_OF_RANGE) &&
	                   op->product.version != 0);
	bool items = op->items != NULL; /* a call of several items */

	if (!current && !items)
		return;
	inventory__v1__error_details__init(&w->details);
	if (current || (items && op->product.version != 0)) {
		handler_product_to_wire(&op->product, &w->current);
		w->details.has_current_version = 1;
		w->details.current_version     = op->product.version;
		w->details.current             = &w->current;
	}
	if (items)
		wire_items_fill(w, op);
	if (w->details.current != NULL || w->details.n_items > 0)
		w->resp.details = &w->details;
}

static const char *
method_name(int method)
{
	return method >= 0 ? service->methods[method].name : "unknown";
}

/* The audit records of an OK call: one per product it changed now (a
 * repeat answered from the log changed nothing). */
static void
audit_applied(const struct op *op)
{
	const char *method = method_name(op->method);

	if (op->items != NULL) { /* each item's product, as it changed */
		for (size_t i = 0; op->products != NULL && i < op->nitems; i++)
			if (op->products[i].prev_stock >= 0)
				audit_record(op->caller, method,
				    &op->products[i], op->request_id);
		return;
	}
	if (op->rpc != NULL && op->rpc->writes && op->product.prev_stock >= 0)
		audit_record(op->caller, method, &op->product, op->request_id);
}

/* Fill w from a finished op; records its metrics and logs. */
static void
wire_call_fill(
    struct wire_call *w, struct op *op, const uint8_t *payloads, uint64_t now)
{
	inventory__v1__response__init(&w->resp);
	w->items         = NULL;
	w->resp.has_code = 1;
	w->resp.code     = (uint32_t)op->code;
	if (op->request_id != NULL)
		w->resp.request_id = (char *)op->request_id;
	if (op->code == CODE_OK) {
		w->resp.has_payload  = 1;
		w->resp.payload.data = (uint8_t *)payloads + w->off;
		w->resp.payload.len  = w->len;
	} else {
		w->resp.message = op->message[0] != '\0'
		                      ? op->message
		                      : (char *)code_name(op->code);
	}
	if (op->code != CODE_OK)
		wire_details_fill(w, op);
	if (op->code == CODE_ABORTED) {
		log_at_limited(&conflict_log, LOG_LEVEL_INFO,
		    "conflict method=%s request_id=%s product=%s "
		    "current_version=%" PRId64 ": %s",
		    method_name(op->method),
		    op->request_id ? op->request_id : "-", op->product.id,
		    op->product.version, op->message);
		hot_record_op(op, now);
	} else if (op->code != CODE_OK) {
		log_at_limited(&failure_log, LOG_LEVEL_DEBUG,
		    "request method=%s request_id=%s code=%s: %s",
		    method_name(op->method),
		    op->request_id ? op->request_id : "-", code_name(op->code),
		    w->resp.message);
	}
	if (op->code == CODE_OK)
		audit_applied(op);
	metrics_record(
	    op->method, (int)op->code, (now - op->received_ns) / 1000u);
}

size_t
dispatch_frame_pack(struct frame *f, ProtobufCBuffer *out)
{
	Inventory__V1__Response top = INVENTORY__V1__RESPONSE__INIT;
	uint8_t                 scratch[DISPATCH_REPLY_MAX];
	ProtobufCBufferSimple   payloads =
	    PROTOBUF_C_BUFFER_SIMPLE_INIT(scratch);
	struct wire_call          single, *calls = &single;
	Inventory__V1__Response **ptrs = NULL;
	uint64_t                  now  = clock_now_ns();
	size_t                    n;

	if (f->probe) {
		top.has_code = 1; /* OK, and nothing else */
		metrics_probe();
		return inventory__v1__response__pack_to_buffer(&top, out);
	}
	if (f->code != CODE_OK) {
		top.has_code = 1;
		top.code     = (uint32_t)f->code;
		top.message  = f->message;
		metrics_record(
		    -1, (int)f->code, (now - f->received_ns) / 1000u);
		log_debug("frame refused: %s", f->message);
		return inventory__v1__response__pack_to_buffer(&top, out);
	}
	if (f->batch && ((calls = calloc(f->nops, sizeof(*calls))) == NULL ||
	                    /* NOLINTNEXTLINE(bugprone-sizeof-expression) */
	                    (ptrs = calloc(f->nops, sizeof(*ptrs))) == NULL)) {
		free(calls);
		top.has_code = 1;
		top.code     = CODE_RESOURCE_EXHAUSTED;
		top.message  = "out of memory";
		return inventory__v1__response__pack_to_buffer(&top, out);
	}
	/* Pack every typed reply into one buffer first: it may move while it
	 * grows, so the responses point into it only afterwards. */
	for (size_t i = 0; i < f->nops; i++) {
		struct op *op = &f->ops[i];

		calls[i].off = payloads.len;
		if (op->rpc != NULL)
			op->rpc->finish(op, &payloads.base);
		calls[i].len = payloads.len - calls[i].off;
	}
	for (size_t i = 0; i < f->nops; i++)
		wire_call_fill(&calls[i], &f->ops[i], payloads.data, now);

	if (f->batch) {
		for (size_t i = 0; i < f->nops; i++)
			ptrs[i] = &calls[i].resp;
		top.has_code = 1; /* the frame was accepted: OK */
		top.n_batch  = f->nops;
		top.batch    = ptrs;
		n = inventory__v1__response__pack_to_buffer(&top, out);
	} else {
		n = inventory__v1__response__pack_to_buffer(&single.resp, out);
	}
	for (size_t i = 0; i < f->nops; i++)
		wire_items_free(calls[i].items);
	if (f->batch) {
		free(ptrs);
		free(calls);
	}
	PROTOBUF_C_BUFFER_SIMPLE_CLEAR(&payloads);
	return n;
}

size_t
dispatch_refusal_pack(enum code code, const char *message,
    uint64_t received_ns, ProtobufCBuffer *out)
{
	Inventory__V1__Response top = INVENTORY__V1__RESPONSE__INIT;

	top.has_code = 1;
	top.code     = (uint32_t)code;
	top.message  = (char *)message;
	metrics_record(-1, (int)code, (clock_now_ns() - received_ns) / 1000u);
	return inventory__v1__response__pack_to_buffer(&top, out);
}
