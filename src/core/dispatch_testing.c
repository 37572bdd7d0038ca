/* SPDX-License-Identifier: MIT */
/*
 * The whole path for one frame on the calling thread (see
 * dispatch_testing.h): open the frame, run each pending call alone on the
 * store, pack the reply.  For tests, fuzz targets and tools; the server
 * goes through the executors instead.
 */
#include "core/dispatch_testing.h"

#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "core/executor.h"

size_t
dispatch_handle(struct store *st, const uint8_t *buf, size_t len,
    uint64_t received_ns, uint8_t *reply, size_t cap)
{
	Inventory__V1__Response refusal = INVENTORY__V1__RESPONSE__INIT;
	uint8_t                 scratch[DISPATCH_REPLY_MAX];
	ProtobufCBufferSimple   out = PROTOBUF_C_BUFFER_SIMPLE_INIT(scratch);
	struct frame           *f;
	struct op              *pending, *next;
	size_t                  n;

	f = dispatch_frame_open(buf, len, received_ns, NULL, NULL, &pending);
	if (f == NULL) {
		refusal.message = "out of memory";
		goto out_refuse;
	}
	for (struct op *op = pending; op != NULL; op = next) {
		next = op->next;
		executor_run_one(st, op);
	}
	n = dispatch_frame_pack(f, &out.base);
	dispatch_frame_free(f);
	if (n <= cap) {
		memcpy(reply, out.data, n);
		PROTOBUF_C_BUFFER_SIMPLE_CLEAR(&out);
		return n;
	}
	PROTOBUF_C_BUFFER_SIMPLE_CLEAR(&out);
	log_err("reply of %zu bytes exceeds %zu", n, cap);
	refusal.message = "reply too large";
out_refuse:
	refusal.has_code = 1;
	refusal.code     = CODE_RESOURCE_EXHAUSTED;
	if (inventory__v1__response__get_packed_size(&refusal) > cap)
		return 0; /* cap below DISPATCH_REPLY_MAX: the caller's bug */
	return inventory__v1__response__pack(&refusal, reply);
}
