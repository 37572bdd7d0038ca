/* SPDX-License-Identifier: MIT */
/*
 * Batch frames at the wire level (see batch_wire.h).
 */
#include "batch_wire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/protocol/reqrep0/req.h>

static void *
xmalloc(size_t n)
{
	void *p = malloc(n != 0 ? n : 1);

	if (p == NULL) {
		fprintf(stderr, "batch_wire: out of memory\n");
		abort();
	}
	return p;
}

static char *
xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;

	return memcpy(xmalloc(n), s, n);
}

Inventory__V1__Request *
bw_call(const char *method, const char *rid, long timeout_ms,
    const ProtobufCMessage *payload)
{
	Inventory__V1__Request *r = xmalloc(sizeof(*r));

	inventory__v1__request__init(r);
	if (method != NULL && method[0] != '/') {
		size_t n = strlen(BW_PREFIX) + strlen(method) + 1;

		r->method = xmalloc(n);
		snprintf(r->method, n, "%s%s", BW_PREFIX, method);
	} else if (method != NULL) {
		r->method = xstrdup(method);
	}
	if (rid != NULL)
		r->request_id = xstrdup(rid);
	if (timeout_ms != BW_NO_TIMEOUT) {
		r->has_timeout_ms = 1;
		r->timeout_ms     = (uint32_t)timeout_ms;
	}
	if (payload != NULL) {
		size_t n = protobuf_c_message_get_packed_size(payload);

		r->has_payload  = 1;
		r->payload.data = xmalloc(n);
		r->payload.len =
		    protobuf_c_message_pack(payload, r->payload.data);
	}
	return r;
}

Inventory__V1__Request *
bw_get(const char *rid, const char *id, long timeout_ms)
{
	Inventory__V1__GetProductRequest g =
	    INVENTORY__V1__GET_PRODUCT_REQUEST__INIT;

	g.id = (char *)id;
	return bw_call("GetProduct", rid, timeout_ms, &g.base);
}

Inventory__V1__Request *
bw_update(const char *rid, const char *id, int64_t stock,
    int64_t expected_version, long timeout_ms)
{
	Inventory__V1__UpdateStockRequest u =
	    INVENTORY__V1__UPDATE_STOCK_REQUEST__INIT;

	u.id                   = (char *)id;
	u.has_stock            = 1;
	u.stock                = stock;
	u.has_expected_version = 1;
	u.expected_version     = expected_version;
	return bw_call("UpdateStock", rid, timeout_ms, &u.base);
}

Inventory__V1__Request *
bw_create(const char *rid, const char *name, int64_t stock, const char *price,
    long timeout_ms)
{
	Inventory__V1__CreateProductRequest c =
	    INVENTORY__V1__CREATE_PRODUCT_REQUEST__INIT;

	c.name      = (char *)name;
	c.has_stock = 1;
	c.stock     = stock;
	c.price     = (char *)price;
	return bw_call("CreateProduct", rid, timeout_ms, &c.base);
}

void
bw_call_free(Inventory__V1__Request *call)
{
	if (call == NULL)
		return;
	free(call->method);
	free(call->request_id);
	free(call->payload.data);
	for (size_t i = 0; i < call->n_batch; i++)
		bw_call_free(call->batch[i]);
	free(call->batch);
	free(call);
}

void
bw_frame_add(struct bw_frame *f, Inventory__V1__Request *call)
{
	if (f->n == f->cap) {
		Inventory__V1__Request **c;

		f->cap = f->cap != 0 ? f->cap * 2 : 16;
		c      = realloc(f->calls, f->cap * sizeof(*c));
		if (c == NULL)
			abort();
		f->calls = c;
	}
	f->calls[f->n++] = call;
}

uint8_t *
bw_frame_pack(const struct bw_frame *f, size_t *len)
{
	Inventory__V1__Request top = INVENTORY__V1__REQUEST__INIT;
	uint8_t               *buf;

	top.n_batch = f->n;
	top.batch   = f->calls;
	*len        = inventory__v1__request__get_packed_size(&top);
	buf         = xmalloc(*len);
	inventory__v1__request__pack(&top, buf);
	return buf;
}

uint8_t *
bw_single_pack(const Inventory__V1__Request *call, size_t *len)
{
	uint8_t *buf;

	*len = inventory__v1__request__get_packed_size(call);
	buf  = xmalloc(*len);
	inventory__v1__request__pack(call, buf);
	return buf;
}

void
bw_frame_fini(struct bw_frame *f)
{
	for (size_t i = 0; i < f->n; i++)
		bw_call_free(f->calls[i]);
	free(f->calls);
	f->calls = NULL;
	f->n = f->cap = 0;
}

int
bw_open(const char *url, int recv_timeout_ms, nng_socket *s)
{
	int rv;

	if ((rv = nng_req0_open(s)) != 0)
		return rv;
	if ((rv = nng_socket_set_ms(*s, NNG_OPT_RECVTIMEO, recv_timeout_ms)) !=
	        0 ||
	    (rv = nng_socket_set_ms(*s, NNG_OPT_SENDTIMEO, 10000)) != 0 ||
	    (rv = nng_socket_set_size(*s, NNG_OPT_RECVMAXSZ, 8u << 20)) != 0 ||
	    (rv = nng_dial(*s, url, NULL, 0)) != 0) {
		nng_close(*s);
		return rv;
	}
	return 0;
}

int
bw_exchange(nng_socket s, const uint8_t *buf, size_t len,
    Inventory__V1__Response **out)
{
	nng_msg *msg;
	int      rv;

	*out = NULL;
	if ((rv = nng_msg_alloc(&msg, 0)) != 0)
		return rv;
	/* A zero-length message is legal (buf may be NULL then). */
	if ((len > 0 && (rv = nng_msg_append(msg, buf, len)) != 0) ||
	    (rv = nng_sendmsg(s, msg, 0)) != 0) {
		nng_msg_free(msg);
		return rv;
	}
	if ((rv = nng_recvmsg(s, &msg, 0)) != 0)
		return rv;
	*out = inventory__v1__response__unpack(
	    NULL, nng_msg_len(msg), nng_msg_body(msg));
	nng_msg_free(msg);
	return *out != NULL ? 0 : NNG_EPROTO;
}

int
bw_send_frame(
    nng_socket s, const struct bw_frame *f, Inventory__V1__Response **out)
{
	size_t   len;
	uint8_t *buf = bw_frame_pack(f, &len);
	int      rv  = bw_exchange(s, buf, len, out);

	free(buf);
	return rv;
}

void
bw_product_copy(const Inventory__V1__Product *w, struct bw_product *p)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->id, sizeof(p->id), "%s", w->id != NULL ? w->id : "");
	snprintf(
	    p->name, sizeof(p->name), "%s", w->name != NULL ? w->name : "");
	snprintf(p->price, sizeof(p->price), "%s",
	    w->price != NULL ? w->price : "");
	p->stock   = w->has_stock ? w->stock : -1;
	p->version = w->has_version ? w->version : -1;
}

int
bw_reply_product(const Inventory__V1__Response *r, struct bw_product *p)
{
	Inventory__V1__GetProductResponse *g;
	int                                rv = -1;

	if (!r->has_payload)
		return -1;
	g = inventory__v1__get_product_response__unpack(
	    NULL, r->payload.len, r->payload.data);
	if (g != NULL && g->product != NULL) {
		bw_product_copy(g->product, p);
		rv = 0;
	}
	if (g != NULL)
		inventory__v1__get_product_response__free_unpacked(g, NULL);
	return rv;
}

int
bw_create_product(nng_socket s, const char *name, int64_t stock,
    const char *price, struct bw_product *out)
{
	Inventory__V1__Request *call =
	    bw_create(NULL, name, stock, price, 10000);
	Inventory__V1__Response *resp;
	size_t                   len;
	uint8_t                 *buf = bw_single_pack(call, &len);
	int                      rv  = bw_exchange(s, buf, len, &resp);

	free(buf);
	bw_call_free(call);
	if (rv != 0)
		return 1000 + rv;
	rv = (int)resp->code;
	if (rv == 0 && bw_reply_product(resp, out) != 0)
		rv = 1000 + NNG_EPROTO;
	inventory__v1__response__free_unpacked(resp, NULL);
	return rv;
}

const char *
bw_code_name(uint32_t code)
{
	const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(
	    &inventory__v1__code__descriptor, (int)code);

	return v != NULL ? v->name : "?";
}
