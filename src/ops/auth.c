/* SPDX-License-Identifier: MIT */
/*
 * Callers and their roles (see auth.h).
 *
 * Invariants:
 * - the table in force is immutable; a reload builds a new one and swaps
 *   the pointer under the write lock, so a check sees one table or the
 *   other, never half of each;
 * - a token is hashed (SHA-256, mbedtls: already nng's TLS library) and
 *   compared with every caller's hash without an early exit, so the time
 *   a check takes does not depend on how much of a hash matched;
 * - tokens and hashes are never logged; a bad line is named by number.
 */
#include "ops/auth.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/sha256.h>

enum {
	HASH_LEN  = 32,   /* SHA-256 */
	LINE_MAX_ = 1024, /* longest line of the file */
	TOKEN_MAX = 4096, /* longer tokens are never valid */
};

struct auth_caller {
	char           name[CALLER_MAX + 1];
	enum auth_role role;
	unsigned char  hash[HASH_LEN];
};

struct auth_table {
	size_t             n;
	struct auth_caller callers[]; /* n of them */
};

static pthread_rwlock_t   table_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct auth_table *table;   /* in force; guarded by table_lock */
static atomic_bool        enabled; /* a table was ever installed */

static bool
valid_name(const char *s)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++) {
		unsigned char c = (unsigned char)s[n];

		if (n >= CALLER_MAX || c < 0x21 || c > 0x7e || c == '=' ||
		    c == '"' || c == '\\')
			return false;
	}
	return n > 0;
}

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1; /* upper case too: the file's format is lower case */
}

static bool
parse_hash(const char *s, unsigned char out[HASH_LEN])
{
	if (strlen(s) != (size_t)2 * HASH_LEN)
		return false;
	for (size_t i = 0; i < HASH_LEN; i++) {
		int hi = hex_value(s[2 * i]), lo = hex_value(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return true;
}

/* One line into c; 1 for a caller, 0 for a blank or comment line, -1 with
 * why set. */
static int
parse_line(char *line, struct auth_caller *c, const char **why)
{
	char *field[4], *save = NULL, *hash = strchr(line, '#');
	int   n = 0;

	if (hash != NULL)
		*hash = '\0';
	for (char *t = strtok_r(line, " \t\r\n", &save); t != NULL;
	     t       = strtok_r(NULL, " \t\r\n", &save)) {
		if (n == 3) {
			*why = "more than three fields";
			return -1;
		}
		field[n++] = t;
	}
	if (n == 0)
		return 0;
	if (n != 3) {
		*why = "want NAME ROLE SHA256HEX";
		return -1;
	}
	if (!valid_name(field[0])) {
		*why =
		    "NAME must be 1..64 printable characters without space, "
		    "'=', '\"' or '\\'";
		return -1;
	}
	if (strcmp(field[1], "reader") == 0)
		c->role = AUTH_ROLE_READER;
	else if (strcmp(field[1], "writer") == 0)
		c->role = AUTH_ROLE_WRITER;
	else {
		*why = "ROLE must be reader or writer";
		return -1;
	}
	if (!parse_hash(field[2], c->hash)) {
		*why = "SHA256HEX must be 64 lowercase hex digits";
		return -1;
	}
	snprintf(c->name, sizeof(c->name), "%s", field[0]);
	return 1;
}

/* A duplicate name or hash makes a caller ambiguous. */
static const char *
duplicate(const struct auth_table *t, const struct auth_caller *c)
{
	for (size_t i = 0; i < t->n; i++) {
		if (strcmp(t->callers[i].name, c->name) == 0)
			return "NAME appears twice";
		if (memcmp(t->callers[i].hash, c->hash, HASH_LEN) == 0)
			return "the same token hash appears twice";
	}
	return NULL;
}

int
auth_load(const char *path, size_t *callers, char *err, size_t errlen)
{
	struct auth_table *t = NULL, *old, *grown;
	struct auth_caller c;
	char               line[LINE_MAX_ + 2];
	const char        *why    = NULL;
	size_t             cap    = 0;
	int                lineno = 0, rv = -1;
	FILE              *fp;

	if ((fp = fopen(path, "r")) == NULL) {
		snprintf(
		    err, errlen, "--auth-file %s: %s", path, strerror(errno));
		return -1;
	}
	if ((t = calloc(1, sizeof(*t))) == NULL)
		goto out_oom;
	while (fgets(line, sizeof(line), fp) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(fp)) {
			why = "line too long";
			goto out_bad;
		}
		switch (parse_line(line, &c, &why)) {
		case 0:
			continue;
		case -1:
			goto out_bad;
		default:
			break;
		}
		if ((why = duplicate(t, &c)) != NULL)
			goto out_bad;
		if (t->n == cap) {
			cap   = cap == 0 ? 8 : 2 * cap;
			grown = realloc(t, sizeof(*t) + cap * sizeof(c));
			if (grown == NULL)
				goto out_oom;
			t = grown;
		}
		t->callers[t->n++] = c;
	}
	if (ferror(fp)) {
		snprintf(err, errlen, "--auth-file %s: read error", path);
		goto out_free;
	}
	pthread_rwlock_wrlock(&table_lock);
	old   = table;
	table = t;
	atomic_store(&enabled, true);
	pthread_rwlock_unlock(&table_lock);
	if (callers != NULL)
		*callers = t->n;
	t  = old; /* freed below: no check holds it any more */
	rv = 0;
	goto out_free;

out_bad:
	snprintf(err, errlen, "--auth-file %s line %d: %s", path, lineno, why);
	goto out_free;
out_oom:
	snprintf(err, errlen, "--auth-file %s: out of memory", path);
out_free:
	explicit_bzero(&c, sizeof(c));
	free(t);
	fclose(fp);
	return rv;
}

bool
auth_enabled(void)
{
	return atomic_load_explicit(&enabled, memory_order_relaxed);
}

enum auth_role
auth_check(const char *token, char name[CALLER_MAX + 1])
{
	unsigned char  hash[HASH_LEN];
	enum auth_role role  = AUTH_ROLE_NONE;
	size_t         found = SIZE_MAX;
	size_t         len;

	name[0] = '\0';
	if (token == NULL || (len = strnlen(token, TOKEN_MAX + 1)) == 0 ||
	    len > TOKEN_MAX)
		return AUTH_ROLE_NONE;
	if (mbedtls_sha256_ret((const unsigned char *)token, len, hash, 0) !=
	    0)
		return AUTH_ROLE_NONE;
	pthread_rwlock_rdlock(&table_lock);
	for (size_t i = 0; table != NULL && i < table->n; i++) {
		unsigned diff = 0;

		for (size_t k = 0; k < HASH_LEN; k++)
			diff |=
			    (unsigned)(hash[k] ^ table->callers[i].hash[k]);
		/* No early exit: every caller is compared. */
		if (diff == 0)
			found = i;
	}
	if (found != SIZE_MAX) {
		role = table->callers[found].role;
		memcpy(name, table->callers[found].name, CALLER_MAX + 1);
	}
	pthread_rwlock_unlock(&table_lock);
	explicit_bzero(hash, sizeof(hash));
	return role;
}

void
auth_fini(void)
{
	pthread_rwlock_wrlock(&table_lock);
	free(table);
	table = NULL;
	pthread_rwlock_unlock(&table_lock);
}
