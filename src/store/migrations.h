/* SPDX-License-Identifier: MIT */
/*
 * The SQL migrations of deploy/sql, embedded at build time by
 * embed_sql.cmake (generated migrations.c).  Private to the store.
 *
 * Invariant: store_migrations[] is sorted by strictly ascending version,
 * and every sql text is NUL-terminated and free of transaction control
 * (store_migrate wraps each file in its own transaction).
 */
#ifndef INVENTORY_STORE_MIGRATIONS_H
#define INVENTORY_STORE_MIGRATIONS_H

#include <stddef.h>

struct store_migration {
	int         version; /* the file name's leading number */
	const char *name;    /* the file name, e.g. "001_init.sql" */
	const char *sql;     /* the file's text, NUL-terminated */
};

/* All migrations, oldest first.  Static storage. */
extern const struct store_migration store_migrations[];
extern const size_t                 store_migrations_count;

#endif
