/*
 * The dispatcher: one request's bytes in, one reply's bytes out.
 *
 * Invariants:
 *  - every request whose envelope decodes gets a Response; bytes that do
 *    not decode get a Response with INVALID_ARGUMENT too (the REP socket
 *    must answer or the client would hang);
 *  - the method table is data: protoc-c's service descriptor names the
 *    methods and their input types, and handler_table maps each name to
 *    its handler, so adding an RPC is one proto line and one row;
 *  - a request whose deadline passed before it was handled never touches
 *    the database;
 *  - metrics and the conflict log are written here and only here.
 */
#include "dispatch.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "handlers/handlers.h"
#include "log.h"
#include "metrics.h"
#include "store/store.h"
#include "validate.h"

#define METHOD_PREFIX "/inventory.v1.InventoryService/"

static const ProtobufCServiceDescriptor *const service =
    &inventory__v1__inventory_service__descriptor;

/* Handlers by method name.  Names are the proto's; the input type comes
 * from the service descriptor. */
static const struct {
	const char *name;
	handler_fn  fn;
} handler_table[] = {
	{ "GetProduct", handler_get_product },
	{ "UpdateStock", handler_update_stock },
	{ "CreateProduct", handler_create_product },
};

/* Set once before the workers start; read-only afterwards. */
static size_t max_request_bytes;

void
dispatch_set_max_request(size_t max_request)
{
	max_request_bytes = max_request;
}

uint64_t
dispatch_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static handler_fn
handler_for(const char *name)
{
	for (size_t i = 0;
	     i < sizeof(handler_table) / sizeof(handler_table[0]); i++) {
		if (strcmp(handler_table[i].name, name) == 0) {
			return handler_table[i].fn;
		}
	}
	return NULL;
}

/* True if s is 1..max bytes of printable ASCII: safe to log and echo. */
static bool
printable(const char *s, size_t max)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++) {
		if (n >= max || s[n] < 0x21 || s[n] > 0x7e) {
			return false;
		}
	}
	return n > 0;
}

void
dispatch_request_fini(struct dispatch_request *req)
{
	if (req->payload != NULL) {
		protobuf_c_message_free_unpacked(req->payload, NULL);
	}
	if (req->env != NULL) {
		inventory__v1__request__free_unpacked(req->env, NULL);
	}
	req->payload = NULL;
	req->env     = NULL;
	req->method  = -1;
}

enum code
dispatch_decode(const uint8_t *buf, size_t len, struct dispatch_request *req,
    char *msg, size_t msglen)
{
	const ProtobufCMethodDescriptor *m;
	const char                      *name;
	const uint8_t                   *body     = NULL;
	size_t                           body_len = 0;

	req->env     = NULL;
	req->payload = NULL;
	req->method  = -1;

	req->env = inventory__v1__request__unpack(NULL, len, buf);
	if (req->env == NULL) {
		snprintf(msg, msglen, "malformed request envelope");
		return CODE_INVALID_ARGUMENT;
	}
	if (req->env->request_id != NULL &&
	    !validate_request_id(req->env->request_id)) {
		snprintf(msg, msglen,
		    "request_id: must be 1 to %d printable ASCII characters",
		    REQUEST_ID_MAX);
		return CODE_INVALID_ARGUMENT;
	}
	if (req->env->method == NULL || req->env->method[0] == '\0') {
		snprintf(msg, msglen, "method: required");
		return CODE_INVALID_ARGUMENT;
	}
	name = req->env->method;
	if (strncmp(name, METHOD_PREFIX, sizeof(METHOD_PREFIX) - 1) != 0 ||
	    (m = protobuf_c_service_descriptor_get_method_by_name(
	         service, name + sizeof(METHOD_PREFIX) - 1)) == NULL ||
	    handler_for(m->name) == NULL) {
		if (printable(name, 128)) {
			snprintf(msg, msglen, "unknown method '%s'", name);
		} else {
			snprintf(msg, msglen, "unknown method");
		}
		return CODE_UNIMPLEMENTED;
	}
	req->method = (int)(m - service->methods);

	if (req->env->has_payload) {
		body     = req->env->payload.data;
		body_len = req->env->payload.len;
	}
	req->payload = protobuf_c_message_unpack(m->input, NULL, body_len,
	    body != NULL ? body : (const uint8_t *)"");
	if (req->payload == NULL) {
		snprintf(msg, msglen, "malformed %s payload", m->input->name);
		return CODE_INVALID_ARGUMENT;
	}
	return CODE_OK;
}

/* Pack the reply envelope; INTERNAL if it would not fit (it always should:
 * replies are bounded by the contract's field limits). */
static size_t
pack_reply(Inventory__V1__Response *resp, uint8_t *reply, size_t cap)
{
	if (inventory__v1__response__get_packed_size(resp) > cap) {
		log_err("reply of %zu bytes exceeds %zu",
		    inventory__v1__response__get_packed_size(resp), cap);
		resp->code        = CODE_INTERNAL;
		resp->message     = "reply too large";
		resp->has_payload = 0;
		resp->details     = NULL;
		resp->request_id  = NULL;
	}
	return inventory__v1__response__pack(resp, reply);
}

size_t
dispatch_handle(struct store *st, const uint8_t *buf, size_t len,
    uint64_t received_ns, uint8_t *reply, size_t cap)
{
	struct dispatch_request     req;
	struct call                 call;
	Inventory__V1__Response     resp = INVENTORY__V1__RESPONSE__INIT;
	Inventory__V1__ErrorDetails details =
	    INVENTORY__V1__ERROR_DETAILS__INIT;
	Inventory__V1__Product current = INVENTORY__V1__PRODUCT__INIT;
	uint8_t                scratch[DISPATCH_REPLY_MAX];
	ProtobufCBufferSimple  out = PROTOBUF_C_BUFFER_SIMPLE_INIT(scratch);
	enum code              code;
	const char            *method_name = "unknown";
	size_t                 n;

	memset(&call, 0, sizeof(call));
	if (max_request_bytes != 0 && len > max_request_bytes) {
		req.env     = NULL;
		req.payload = NULL;
		req.method  = -1;
		code        = CODE_RESOURCE_EXHAUSTED;
		snprintf(call.message, sizeof(call.message),
		    "request of %zu bytes exceeds the limit of %zu bytes", len,
		    max_request_bytes);
		goto reply;
	}
	code = dispatch_decode(
	    buf, len, &req, call.message, sizeof(call.message));
	if (req.method >= 0) {
		method_name = service->methods[req.method].name;
	}
	if (code != CODE_OK) {
		goto reply;
	}
	call.store      = st;
	call.request_id = req.env->request_id;

	if (req.env->has_timeout_ms &&
	    dispatch_now_ns() >=
	        received_ns + (uint64_t)req.env->timeout_ms * 1000000u) {
		code = CODE_DEADLINE_EXCEEDED;
		snprintf(call.message, sizeof(call.message),
		    "deadline of %" PRIu32 " ms expired before the request "
		    "was handled",
		    req.env->timeout_ms);
		goto reply;
	}
	if (st == NULL || !store_ready(st)) {
		code = CODE_UNAVAILABLE;
		snprintf(call.message, sizeof(call.message),
		    "database unavailable");
		goto reply;
	}
	/* The budget also bounds the database work (store_set_deadline). */
	store_set_deadline(
	    st, req.env->has_timeout_ms
	            ? received_ns + (uint64_t)req.env->timeout_ms * 1000000u
	            : 0);
	code = handler_for(method_name)(&call, req.payload, &out.base);

reply:
	resp.has_code = 1;
	resp.code     = (uint32_t)code;
	if (req.env != NULL && req.env->request_id != NULL &&
	    validate_request_id(req.env->request_id)) {
		resp.request_id = req.env->request_id;
	}
	if (code == CODE_OK) {
		resp.has_payload  = 1;
		resp.payload.data = out.data;
		resp.payload.len  = out.len;
	} else {
		resp.message = call.message[0] != '\0'
		                   ? call.message
		                   : (char *)code_name(code);
	}
	if (code == CODE_ABORTED) {
		handler_product_to_wire(&call.current, &current);
		details.has_current_version = 1;
		details.current_version     = call.current.version;
		details.current             = &current;
		resp.details                = &details;
		log_info("conflict method=%s request_id=%s product=%s "
		         "current_version=%" PRId64 ": %s",
		    method_name, resp.request_id ? resp.request_id : "-",
		    call.current.id, call.current.version, call.message);
	} else if (code != CODE_OK) {
		log_debug("request method=%s request_id=%s code=%s: %s",
		    method_name, resp.request_id ? resp.request_id : "-",
		    code_name(code), resp.message);
	}
	n = pack_reply(&resp, reply, cap);
	metrics_record(
	    req.method, (int)code, (dispatch_now_ns() - received_ns) / 1000u);
	PROTOBUF_C_BUFFER_SIMPLE_CLEAR(&out);
	dispatch_request_fini(&req);
	return n;
}
