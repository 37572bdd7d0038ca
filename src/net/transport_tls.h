/* SPDX-License-Identifier: MIT */
/*
 * TLS for the transport's tls+tcp:// listeners (nng's TLS, mbedtls
 * inside).  Private to transport.c.
 */
#ifndef INVENTORY_TRANSPORT_TLS_H
#define INVENTORY_TRANSPORT_TLS_H

#include <stddef.h>

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>

#include "net/transport.h"

/* A server TLS configuration from lim's PEM files: the certificate and
 * key (both required), and, with tls_client_ca, client certificates
 * required and checked against it.  0 and *out (free with
 * nng_tls_config_free()), or -1 with a reason naming the file in err. */
int transport_tls_config(nng_tls_config **out,
    const struct transport_limits *lim, char *err, size_t errlen);

#endif
