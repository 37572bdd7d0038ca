/* SPDX-License-Identifier: MIT */
/*
 * Status codes inside inventoryd: gRPC's canonical codes, taken from the
 * wire contract's enum so that the store, the handlers, the dispatcher and
 * the client agree by construction and nothing is translated twice.
 */
#ifndef INVENTORY_CODE_H
#define INVENTORY_CODE_H

#include "inventory/v1/service.pb-c.h"

enum code {
	CODE_OK                  = INVENTORY__V1__CODE__OK,
	CODE_CANCELLED           = INVENTORY__V1__CODE__CANCELLED,
	CODE_INVALID_ARGUMENT    = INVENTORY__V1__CODE__INVALID_ARGUMENT,
	CODE_DEADLINE_EXCEEDED   = INVENTORY__V1__CODE__DEADLINE_EXCEEDED,
	CODE_NOT_FOUND           = INVENTORY__V1__CODE__NOT_FOUND,
	CODE_ALREADY_EXISTS      = INVENTORY__V1__CODE__ALREADY_EXISTS,
	CODE_PERMISSION_DENIED   = INVENTORY__V1__CODE__PERMISSION_DENIED,
	CODE_RESOURCE_EXHAUSTED  = INVENTORY__V1__CODE__RESOURCE_EXHAUSTED,
	CODE_FAILED_PRECONDITION = INVENTORY__V1__CODE__FAILED_PRECONDITION,
	CODE_ABORTED             = INVENTORY__V1__CODE__ABORTED,
	CODE_OUT_OF_RANGE        = INVENTORY__V1__CODE__OUT_OF_RANGE,
	CODE_UNIMPLEMENTED       = INVENTORY__V1__CODE__UNIMPLEMENTED,
	CODE_INTERNAL            = INVENTORY__V1__CODE__INTERNAL,
	CODE_UNAVAILABLE         = INVENTORY__V1__CODE__UNAVAILABLE,
	CODE_UNAUTHENTICATED     = INVENTORY__V1__CODE__UNAUTHENTICATED,
};

/* The code's name as gRPC spells it ("ABORTED"); "UNKNOWN" for any number
 * outside the enum.  Static storage. */
const char *code_name(int code);

#endif
