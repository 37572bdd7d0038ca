/* SPDX-License-Identifier: MIT */
/*
 * Names of status codes, read from the generated enum descriptor so the
 * list can never drift from the wire contract.
 */
#include "base/code.h"

const char *
code_name(int code)
{
	const ProtobufCEnumValue *v;

	v = protobuf_c_enum_descriptor_get_value(
	    &inventory__v1__code__descriptor, code);
	return v != NULL ? v->name : "UNKNOWN";
}
