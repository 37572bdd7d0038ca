/* SPDX-License-Identifier: MIT */
/*
 * Callers and their roles (inventoryd --auth-file).
 *
 * The file holds one caller a line, `NAME ROLE SHA256HEX`: a name (1..64
 * printable ASCII bytes without space, '=', '"' or '\'), a role (`reader`:
 * the read RPCs; `writer`: every RPC) and the lowercase hex SHA-256 of
 * the caller's bearer token; `#` starts a comment.  Only hashes are kept,
 * so the file holds no secret.  Loading checks the whole file and installs
 * it only if every line is right, so a bad reload keeps the table in
 * force.  Thread-safe: checks run in nng's callbacks while the main
 * thread reloads on SIGHUP.
 */
#ifndef INVENTORY_AUTH_H
#define INVENTORY_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "base/product.h"

enum auth_role {
	AUTH_ROLE_NONE   = 0, /* unknown or missing token */
	AUTH_ROLE_READER = 1, /* GetProduct, BatchGetProducts, ListProducts */
	AUTH_ROLE_WRITER = 2, /* every RPC */
};

/* Parse the file at path and, if every line is right, make it the table
 * in force (from then on auth_enabled() is true).  0, or -1 with one line
 * in err naming the file and the line, the table in force unchanged.
 * *callers (may be NULL) gets the number of callers loaded. */
int auth_load(const char *path, size_t *callers, char *err, size_t errlen);

/* Whether a table is in force (--auth-file was given). */
bool auth_enabled(void);

/* The role of the caller presenting token (NULL: none), with its name
 * copied into name.  Compares against every caller in constant time. */
enum auth_role auth_check(const char *token, char name[CALLER_MAX + 1]);

/* Drop the table (at exit). */
void auth_fini(void);

#endif
