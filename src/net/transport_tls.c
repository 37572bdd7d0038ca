/* SPDX-License-Identifier: MIT */
/*
 * TLS configuration of the tls+tcp:// listeners (see transport_tls.h).
 *
 * nng takes the certificate and the key as PEM text (its *_file helper
 * wants both in one file), so both files are read whole here, bounded,
 * and the key's copy is wiped once nng has parsed it.
 */
#include "net/transport_tls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { PEM_MAX = 1 << 20 }; /* no certificate chain is a megabyte */

/* The whole file as a NUL-terminated string in *out (free()), or -1. */
static int
read_pem(
    const char *what, const char *path, char **out, char *err, size_t errlen)
{
	FILE  *fp;
	char  *buf = NULL;
	size_t n;

	if ((fp = fopen(path, "r")) == NULL) {
		snprintf(
		    err, errlen, "%s %s: %s", what, path, strerror(errno));
		return -1;
	}
	if ((buf = malloc(PEM_MAX + 1)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", what);
		goto out_fail;
	}
	n = fread(buf, 1, PEM_MAX + 1, fp);
	if (ferror(fp) || n == 0 || n > PEM_MAX) {
		snprintf(err, errlen, "%s %s: empty, unreadable or too large",
		    what, path);
		goto out_fail;
	}
	buf[n] = '\0';
	fclose(fp);
	*out = buf;
	return 0;
out_fail:
	free(buf);
	fclose(fp);
	return -1;
}

static bool
given(const char *s)
{
	return s != NULL && s[0] != '\0';
}

int
transport_tls_config(nng_tls_config **out, const struct transport_limits *lim,
    char *err, size_t errlen)
{
	nng_tls_config *cfg  = NULL;
	char           *cert = NULL, *key = NULL;
	int             rv;

	if (!given(lim->tls_cert) || !given(lim->tls_key)) {
		snprintf(err, errlen,
		    "a tls+tcp:// URL needs --tls-cert and --tls-key");
		return -1;
	}
	if (read_pem("--tls-cert", lim->tls_cert, &cert, err, errlen) != 0 ||
	    read_pem("--tls-key", lim->tls_key, &key, err, errlen) != 0)
		goto out_fail;
	if ((rv = nng_tls_config_alloc(&cfg, NNG_TLS_MODE_SERVER)) != 0) {
		snprintf(err, errlen, "TLS: %s", nng_strerror(rv));
		goto out_fail;
	}
	if ((rv = nng_tls_config_own_cert(cfg, cert, key, NULL)) != 0) {
		snprintf(err, errlen,
		    "--tls-cert %s / --tls-key %s: not a usable certificate "
		    "and key pair: %s",
		    lim->tls_cert, lim->tls_key, nng_strerror(rv));
		goto out_fail;
	}
	if (given(lim->tls_client_ca)) {
		if ((rv = nng_tls_config_ca_file(cfg, lim->tls_client_ca)) !=
		    0) {
			snprintf(err, errlen, "--tls-client-ca %s: %s",
			    lim->tls_client_ca, nng_strerror(rv));
			goto out_fail;
		}
		rv = nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED);
	} else {
		rv = nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_NONE);
	}
	if (rv != 0) {
		snprintf(err, errlen, "TLS: %s", nng_strerror(rv));
		goto out_fail;
	}
	explicit_bzero(key, strlen(key));
	free(key);
	free(cert);
	*out = cfg;
	return 0;
out_fail:
	if (cfg != NULL)
		nng_tls_config_free(cfg);
	if (key != NULL)
		explicit_bzero(key, strlen(key));
	free(key);
	free(cert);
	return -1;
}
