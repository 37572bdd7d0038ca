/*
 * Support for the raw-socket tests (hostile.h).
 */
#include "hostile.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <nng/protocol/reqrep0/req.h>

#include "testenv.h"

int hostile_failures;

const char *
hostile_code_name(uint32_t code)
{
	const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(
	    &inventory__v1__code__descriptor, (int)code);

	return v != NULL ? v->name : "?";
}

nng_socket
hostile_open(const char *url, int recv_timeout_ms)
{
	nng_socket s;
	int        rv;

	if ((rv = nng_req0_open(&s)) != 0 ||
	    (rv = nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, recv_timeout_ms)) !=
	        0 ||
	    (rv = nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, 5000)) != 0 ||
	    (rv = nng_socket_set_size(s, NNG_OPT_RECVMAXSZ, 1 << 20)) != 0 ||
	    (rv = nng_dial(s, url, NULL, 0)) != 0) {
		fprintf(stderr, "cannot connect a REQ socket to %s: %s\n", url,
		    nng_strerror(rv));
		exit(1);
	}
	return s;
}

int
hostile_call(
    nng_socket s, const void *buf, size_t len, Inventory__V1__Response **out)
{
	nng_msg *msg;
	int      rv;

	*out = NULL;
	if ((rv = nng_msg_alloc(&msg, 0)) != 0) {
		return rv;
	}
	if ((rv = nng_msg_append(msg, buf, len)) != 0 ||
	    (rv = nng_sendmsg(s, msg, 0)) != 0) {
		nng_msg_free(msg);
		return rv;
	}
	if ((rv = nng_recvmsg(s, &msg, 0)) != 0) {
		return rv;
	}
	*out = inventory__v1__response__unpack(
	    NULL, nng_msg_len(msg), nng_msg_body(msg));
	nng_msg_free(msg);
	return *out != NULL ? 0 : NNG_EPROTO;
}

uint8_t *
hostile_envelope(const char *method, const char *request_id,
    const ProtobufCMessage *payload, size_t *len)
{
	Inventory__V1__Request env  = INVENTORY__V1__REQUEST__INIT;
	char                  *full = NULL;
	uint8_t               *body = NULL, *out;

	if (method != NULL && method[0] != '/') {
		size_t n = strlen(HOSTILE_PREFIX) + strlen(method) + 1;
		if ((full = malloc(n)) == NULL) {
			abort();
		}
		snprintf(full, n, "%s%s", HOSTILE_PREFIX, method);
		env.method = full;
	} else {
		env.method = (char *)method;
	}
	env.request_id = (char *)request_id;
	if (payload != NULL) {
		size_t n = protobuf_c_message_get_packed_size(payload);
		if ((body = malloc(n + 1)) == NULL) {
			abort();
		}
		protobuf_c_message_pack(payload, body);
		env.has_payload  = 1;
		env.payload.data = body;
		env.payload.len  = n;
	}
	*len = inventory__v1__request__get_packed_size(&env);
	if ((out = malloc(*len + 1)) == NULL) {
		abort();
	}
	inventory__v1__request__pack(&env, out);
	free(body);
	free(full);
	return out;
}

int
hostile_create(
    nng_socket s, const char *name, int64_t stock, const char *price, char *id)
{
	Inventory__V1__CreateProductRequest r =
	    INVENTORY__V1__CREATE_PRODUCT_REQUEST__INIT;
	Inventory__V1__CreateProductResponse *cr;
	Inventory__V1__Response              *resp;
	uint8_t                              *buf;
	size_t                                len;
	char                                  rid[64];
	int                                   rv = -1;

	r.name      = (char *)name;
	r.has_stock = 1;
	r.stock     = stock;
	r.price     = (char *)price;
	testenv_request_id(rid, sizeof(rid));
	buf = hostile_envelope("CreateProduct", rid, &r.base, &len);
	if (hostile_call(s, buf, len, &resp) == 0 && resp->code == 0 &&
	    resp->has_payload) {
		cr = inventory__v1__create_product_response__unpack(
		    NULL, resp->payload.len, resp->payload.data);
		if (cr != NULL && cr->product != NULL &&
		    cr->product->id != NULL) {
			snprintf(id, 37, "%s", cr->product->id);
			rv = 0;
		}
		if (cr != NULL) {
			inventory__v1__create_product_response__free_unpacked(
			    cr, NULL);
		}
	}
	if (resp != NULL) {
		inventory__v1__response__free_unpacked(resp, NULL);
	}
	free(buf);
	return rv;
}

int
hostile_get(nng_socket s, const char *id, int64_t *version)
{
	Inventory__V1__GetProductRequest r =
	    INVENTORY__V1__GET_PRODUCT_REQUEST__INIT;
	Inventory__V1__GetProductResponse *gr;
	Inventory__V1__Response           *resp;
	uint8_t                           *buf;
	size_t                             len;
	int                                rv;

	r.id = (char *)id;
	buf  = hostile_envelope("GetProduct", NULL, &r.base, &len);
	rv   = hostile_call(s, buf, len, &resp);
	free(buf);
	if (rv != 0) {
		return 1000 + rv;
	}
	rv = (int)resp->code;
	if (rv == 0 && version != NULL) {
		gr = inventory__v1__get_product_response__unpack(
		    NULL, resp->payload.len, resp->payload.data);
		*version = gr != NULL && gr->product != NULL
		               ? gr->product->version
		               : -1;
		if (gr != NULL) {
			inventory__v1__get_product_response__free_unpacked(
			    gr, NULL);
		}
	}
	inventory__v1__response__free_unpacked(resp, NULL);
	return rv;
}

int
hostile_served(const char *url, int timeout_ms)
{
	nng_socket s;
	char       id[37];
	int        code, rv;

	/* A non-blocking dial: a listener that accepts nothing shows as a
	 * receive timeout, not as a dial that blocks. */
	if ((rv = nng_req0_open(&s)) != 0 ||
	    (rv = nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, timeout_ms)) != 0 ||
	    (rv = nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, timeout_ms)) != 0 ||
	    (rv = nng_dial(s, url, NULL, NNG_FLAG_NONBLOCK)) != 0) {
		fprintf(
		    stderr, "REQ socket to %s: %s\n", url, nng_strerror(rv));
		return 0;
	}

	testenv_uuid(id);
	code = hostile_get(s, id, NULL);
	nng_close(s);
	if (code != 5 && code != 0) {
		fprintf(stderr, "server at %s: GetProduct answered %d (%s)\n",
		    url, code,
		    code >= 1000 ? nng_strerror(code - 1000)
		                 : hostile_code_name((uint32_t)code));
	}
	return code == 5 || code == 0;
}

int
hostile_raw_connect(const char *url)
{
	int fd = -1;

	if (strncmp(url, "ipc://", 6) == 0) {
		struct sockaddr_un sun;
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		if (strlen(url + 6) >= sizeof(sun.sun_path)) {
			return -1;
		}
		strcpy(sun.sun_path, url + 6);
		if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0) {
			return -1;
		}
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
			close(fd);
			return -1;
		}
		return fd;
	}
	if (strncmp(url, "tcp://", 6) == 0) {
		char            host[256], *colon;
		struct addrinfo hints, *ai = NULL;

		snprintf(host, sizeof(host), "%s", url + 6);
		if ((colon = strrchr(host, ':')) == NULL) {
			return -1;
		}
		*colon = '\0';
		memset(&hints, 0, sizeof(hints));
		hints.ai_family   = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		if (getaddrinfo(host, colon + 1, &hints, &ai) != 0) {
			return -1;
		}
		fd = socket(ai->ai_family, SOCK_STREAM, 0);
		if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
			close(fd);
			fd = -1;
		}
		freeaddrinfo(ai);
		return fd;
	}
	return -1;
}

/* Read exactly n bytes within timeout_ms; the count read. */
static size_t
read_full(int fd, uint8_t *buf, size_t n, int timeout_ms)
{
	size_t got = 0;

	while (got < n) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t       r;
		if (poll(&p, 1, timeout_ms) <= 0) {
			break;
		}
		if ((r = read(fd, buf + got, n - got)) <= 0) {
			break;
		}
		got += (size_t)r;
	}
	return got;
}

int
hostile_raw_oversize(const char *url, size_t len, int timeout_ms)
{
	static const uint8_t hdr[8] = { 0, 'S', 'P', 0, 0x00, 0x30, 0, 0 };
	uint8_t              peer[8], frame[12], chunk[65536], byte;
	uint64_t             flen = (uint64_t)len + 4; /* + REQ request id */
	size_t               sent = 0;
	int                  fd, closed = 0;
	struct pollfd        p;

	if ((fd = hostile_raw_connect(url)) < 0) {
		return -1;
	}
	if (write(fd, hdr, sizeof(hdr)) != (ssize_t)sizeof(hdr) ||
	    read_full(fd, peer, sizeof(peer), timeout_ms) != sizeof(peer) ||
	    peer[1] != 'S' || peer[2] != 'P') {
		close(fd);
		return -1;
	}
	for (int i = 0; i < 8; i++) { /* length, big-endian */
		frame[i] = (uint8_t)(flen >> (56 - 8 * i));
	}
	frame[8]  = 0x80; /* request id 0x80000001 (top bit: last hop) */
	frame[9]  = 0;
	frame[10] = 0;
	frame[11] = 1;
	memset(chunk, 'A', sizeof(chunk));
	if (send(fd, frame, sizeof(frame), MSG_NOSIGNAL) ==
	    (ssize_t)sizeof(frame)) {
		/* The server may close long before all of it is sent. */
		while (sent < len) {
			size_t  n = len - sent < sizeof(chunk) ? len - sent
			                                       : sizeof(chunk);
			ssize_t w = send(fd, chunk, n, MSG_NOSIGNAL);
			if (w <= 0) {
				break;
			}
			sent += (size_t)w;
		}
	}
	/* Closed means EOF or reset, with no reply bytes before it. */
	p.fd     = fd;
	p.events = POLLIN;
	if (poll(&p, 1, timeout_ms) > 0) {
		ssize_t r = read(fd, &byte, 1);
		closed    = r == 0 || (r < 0 && errno == ECONNRESET);
	}
	close(fd);
	return closed;
}
