/*
 * The RPC handlers: business rules for each method of InventoryService.
 *
 * A handler sees only decoded messages and the worker's store, never nng
 * or libpq types, so it can be unit-tested without sockets.  It validates
 * its request (a missing field, a bad UUID, a negative stock, a malformed
 * price are INVALID_ARGUMENT with a message naming the field), calls the
 * store, and on OK packs its reply message into `reply`.  On any other
 * code it writes a one-line explanation into call->message and, for
 * ABORTED, the latest product into call->current.
 */
#ifndef INVENTORY_HANDLERS_H
#define INVENTORY_HANDLERS_H

#include <protobuf-c/protobuf-c.h>

#include "code.h"
#include "product.h"

struct store;

/* One call in progress: inputs from the dispatcher, outputs for the reply
 * envelope.  Lives on the worker's stack. */
struct call {
	struct store  *store;        /* this worker's connection */
	const char    *request_id;   /* the envelope's request id, or NULL */
	char           message[256]; /* out: why the call failed */
	struct product current;      /* out: the latest product, on ABORTED */
};

/* `req` is an unpacked message of the method's input type. */
typedef enum code (*handler_fn)(
    struct call *call, const ProtobufCMessage *req, ProtobufCBuffer *reply);

enum code handler_get_product(
    struct call *call, const ProtobufCMessage *req, ProtobufCBuffer *reply);
enum code handler_update_stock(
    struct call *call, const ProtobufCMessage *req, ProtobufCBuffer *reply);
enum code handler_create_product(
    struct call *call, const ProtobufCMessage *req, ProtobufCBuffer *reply);

/* Fill a wire Product from a stored one.  `out` borrows p's strings, so p
 * must outlive it. */
void handler_product_to_wire(
    const struct product *p, Inventory__V1__Product *out);

#endif
