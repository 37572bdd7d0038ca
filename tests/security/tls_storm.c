/* SPDX-License-Identifier: MIT */
/*
 * tls_storm: good callers while others fail their TLS handshakes
 * (tests/security/tls_guard.sh).
 *
 *   tls_storm URL --ca F [--cert F --key F] [--token-file F]
 *             --bad-ca F [--seconds S] [--rate N] [--every-ms MS]
 *             [--timeout MS]
 *
 * For S seconds (default 10), N times a second (default 10) an attacker
 * fails a handshake at URL's port, cycling through four kinds:
 *
 *   plain        a libinventory handle on tcp://HOST:PORT (an SP header
 *                where a TLS ClientHello belongs)
 *   wrong-ca     a handle on URL trusting --bad-ca
 *   wrong-name   a handle on URL expecting the name wrong.example
 *   mid-hs       a raw TCP connection that sends the first bytes of a
 *                ClientHello and closes (a client that leaves during the
 *                handshake); every other one closes without a byte
 *   hello-leave  a whole ClientHello (mbedtls), then close at once: the
 *                server's next records meet a closed peer (EPIPE, which
 *                nng 1.5.2 reports as NNG_ECLOSED and its listener takes
 *                for its own close: the wedge transport_guard.c repairs)
 *
 * Each failing handle makes one call with a 100 ms timeout and closes, as
 * a short-lived CLI would.  Meanwhile, every --every-ms (default 100) two
 * good callers call GetProduct of an unknown id with --timeout (default
 * 3000 ms) and must get NOT_FOUND: "fresh" opens a new handle for each
 * call (new connections: what a listener that stopped accepting refuses)
 * and "kept" reuses one handle (its connections: what a listener closed
 * and reopened drops).  Prints the counts and each failure; exits 0 when
 * no good call failed, 1 otherwise, 2 on usage.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <pthread.h>
#include <stdint.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <inventory/client.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>

#include "testenv.h"

enum { ATTACK_KINDS = 5, MAX_ATTACKS = 4096 };

static const char *const kind_names[ATTACK_KINDS] = { "plain", "wrong-ca",
	"wrong-name", "mid-hs", "hello-leave" };

static struct {
	const char           *url;        /* tls+tcp://HOST:PORT */
	char                  plain[256]; /* tcp://HOST:PORT */
	char                  host[128];
	char                  port[16];
	inventory_client_opts good; /* CA, certificate, token */
	const char           *bad_ca;
	int                   seconds, rate, every_ms, timeout_ms;
	atomic_bool           stop;
	atomic_int            attacks[ATTACK_KINDS];
} g;

struct good_stats {
	const char *name;
	int         calls, failed;
	long long   max_ms;
};

/* One good call on c; 0 if it came back NOT_FOUND. */
static int
good_call(inventory_client *c, struct good_stats *st)
{
	static const char  *unknown = "00000000-0000-4000-8000-000000000000";
	inventory_status    status  = { 0 };
	inventory_product  *p       = NULL;
	inventory_call_opts o       = { .timeout_ms = g.timeout_ms };
	long long           t0      = testenv_mono_ms(), ms;
	inventory_code      code;

	code = inventory_get_product(c, unknown, &o, &p, &status);
	ms   = testenv_mono_ms() - t0;
	st->calls++;
	if (ms > st->max_ms)
		st->max_ms = ms;
	if (code != INVENTORY_NOT_FOUND) {
		st->failed++;
		printf("tls_storm: %s good call %d failed after %lld ms: %s: "
		       "%s\n",
		    st->name, st->calls, ms, inventory_code_name(code),
		    status.message);
	}
	inventory_product_free(p);
	inventory_status_fini(&status);
	return code == INVENTORY_NOT_FOUND ? 0 : -1;
}

static void *
good_fresh(void *arg)
{
	struct good_stats *st = arg;

	while (!atomic_load(&g.stop)) {
		long long         t0 = testenv_mono_ms();
		inventory_client *c;

		if (inventory_client_open_opts(&c, g.url, &g.good) !=
		    INVENTORY_OK) {
			st->calls++;
			st->failed++;
			printf("tls_storm: fresh: cannot open a handle\n");
		} else {
			(void)good_call(c, st);
			inventory_client_close(c);
		}
		if (testenv_mono_ms() - t0 < g.every_ms)
			testenv_sleep_ms(
			    g.every_ms - (long)(testenv_mono_ms() - t0));
	}
	return NULL;
}

static void *
good_kept(void *arg)
{
	struct good_stats *st = arg;
	inventory_client  *c;

	if (inventory_client_open_opts(&c, g.url, &g.good) != INVENTORY_OK) {
		st->failed++;
		printf("tls_storm: kept: cannot open a handle\n");
		return NULL;
	}
	while (!atomic_load(&g.stop)) {
		long long t0 = testenv_mono_ms();

		(void)good_call(c, st);
		if (testenv_mono_ms() - t0 < g.every_ms)
			testenv_sleep_ms(
			    g.every_ms - (long)(testenv_mono_ms() - t0));
	}
	inventory_client_close(c);
	return NULL;
}

/* A handle that cannot complete its handshake: one short call, close. */
static void
attack_handle(const char *url, const inventory_client_opts *o)
{
	inventory_client   *c;
	inventory_status    st = { 0 };
	inventory_product  *p  = NULL;
	inventory_call_opts co = { .timeout_ms = 100 };

	if (inventory_client_open_opts(&c, url, o) != INVENTORY_OK)
		return;
	(void)inventory_get_product(
	    c, "00000000-0000-4000-8000-000000000000", &co, &p, &st);
	inventory_product_free(p);
	inventory_status_fini(&st);
	inventory_client_close(c);
}

/* A TCP connection that leaves during the TLS handshake. */
static void
attack_mid_handshake(int n)
{
	/* A TLS 1.2 record header and the start of a ClientHello that
	 * announces more bytes than ever come. */
	static const unsigned char hello[] = { 0x16, 0x03, 0x01, 0x00, 0xc8,
		0x01, 0x00, 0x00, 0xc4, 0x03, 0x03 };
	struct addrinfo            hints = { .ai_socktype = SOCK_STREAM }, *ai;
	int                        fd;

	if (getaddrinfo(g.host, g.port, &hints, &ai) != 0)
		return;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
	    n % 2 == 0)
		(void)write(fd, hello, sizeof(hello));
	if (fd >= 0) {
		testenv_sleep_ms(5);
		close(fd);
	}
	freeaddrinfo(ai);
}

/* A TLS client that sends its ClientHello and leaves. */
static void
attack_hello_leave(void)
{
	mbedtls_net_context      fd;
	mbedtls_ssl_context      ssl;
	mbedtls_ssl_config       conf;
	mbedtls_entropy_context  entropy;
	mbedtls_ctr_drbg_context drbg;

	mbedtls_net_init(&fd);
	mbedtls_ssl_init(&ssl);
	mbedtls_ssl_config_init(&conf);
	mbedtls_entropy_init(&entropy);
	mbedtls_ctr_drbg_init(&drbg);
	if (mbedtls_ctr_drbg_seed(
	        &drbg, mbedtls_entropy_func, &entropy, NULL, 0) != 0 ||
	    mbedtls_ssl_config_defaults(&conf, MBEDTLS_SSL_IS_CLIENT,
	        MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT) != 0)
		goto out_free;
	mbedtls_ssl_conf_authmode(&conf, MBEDTLS_SSL_VERIFY_NONE);
	mbedtls_ssl_conf_rng(&conf, mbedtls_ctr_drbg_random, &drbg);
	if (mbedtls_ssl_setup(&ssl, &conf) != 0 ||
	    mbedtls_net_connect(&fd, g.host, g.port, MBEDTLS_NET_PROTO_TCP) !=
	        0)
		goto out_free;
	mbedtls_ssl_set_bio(
	    &ssl, &fd, mbedtls_net_send, mbedtls_net_recv, NULL);
	/* Two steps: HELLO_REQUEST -> CLIENT_HELLO, which writes it. */
	for (int i = 0; i < 2; i++)
		if (mbedtls_ssl_handshake_step(&ssl) != 0)
			break;
out_free:
	mbedtls_net_free(&fd); /* closes at once */
	mbedtls_ssl_free(&ssl);
	mbedtls_ssl_config_free(&conf);
	mbedtls_ctr_drbg_free(&drbg);
	mbedtls_entropy_free(&entropy);
}

static void *
attack_one(void *arg)
{
	int                   n = (int)(intptr_t)arg;
	int                   k = n % ATTACK_KINDS;
	inventory_client_opts o = { .tls_ca_file = g.good.tls_ca_file,
		.connections                     = 1 };

	switch (k) {
	case 0:
		attack_handle(g.plain, &o);
		break;
	case 1:
		o.tls_ca_file = g.bad_ca;
		attack_handle(g.url, &o);
		break;
	case 2:
		o.tls_server_name = "wrong.example";
		attack_handle(g.url, &o);
		break;
	case 3:
		attack_mid_handshake(n / ATTACK_KINDS);
		break;
	default:
		attack_hello_leave();
		break;
	}
	atomic_fetch_add(&g.attacks[k], 1);
	return NULL;
}

/* HOST and PORT of tls+tcp://HOST:PORT. */
static int
split_url(const char *url)
{
	const char *h = strstr(url, "://"), *colon;

	if (h == NULL || (colon = strrchr(h + 3, ':')) == NULL ||
	    (size_t)(colon - (h + 3)) >= sizeof(g.host) ||
	    strlen(colon + 1) >= sizeof(g.port))
		return -1;
	memcpy(g.host, h + 3, (size_t)(colon - (h + 3)));
	g.host[colon - (h + 3)] = '\0';
	snprintf(g.port, sizeof(g.port), "%s", colon + 1);
	snprintf(g.plain, sizeof(g.plain), "tcp://%s:%s", g.host, g.port);
	return 0;
}

static int
read_token(const char *path, char *buf, size_t len)
{
	FILE  *f = fopen(path, "r");
	size_t n;

	if (f == NULL)
		return -1;
	n = fread(buf, 1, len - 1, f);
	fclose(f);
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	return 0;
}

int
main(int argc, char **argv)
{
	static char       token[4097];
	static pthread_t  attackers[MAX_ATTACKS];
	struct good_stats fresh = { .name = "fresh" },
	                  kept  = { .name = "kept" };
	pthread_t tf, tk;
	int       nattacks = 0;
	long long t0;

	g.seconds = 10, g.rate = 10, g.every_ms = 100, g.timeout_ms = 3000;
	if (argc < 2 || split_url(argv[1]) != 0) {
		fprintf(stderr, "usage: tls_storm tls+tcp://HOST:PORT --ca F "
		                "--bad-ca F [options]\n");
		return 2;
	}
	g.url = argv[1];
	for (int i = 2; i + 1 < argc; i += 2) {
		const char *v = argv[i + 1];

		if (strcmp(argv[i], "--ca") == 0)
			g.good.tls_ca_file = v;
		else if (strcmp(argv[i], "--cert") == 0)
			g.good.tls_cert_file = v;
		else if (strcmp(argv[i], "--key") == 0)
			g.good.tls_key_file = v;
		else if (strcmp(argv[i], "--bad-ca") == 0)
			g.bad_ca = v;
		else if (strcmp(argv[i], "--seconds") == 0)
			g.seconds = atoi(v);
		else if (strcmp(argv[i], "--rate") == 0)
			g.rate = atoi(v);
		else if (strcmp(argv[i], "--every-ms") == 0)
			g.every_ms = atoi(v);
		else if (strcmp(argv[i], "--timeout") == 0)
			g.timeout_ms = atoi(v);
		else if (strcmp(argv[i], "--token-file") == 0) {
			if (read_token(v, token, sizeof(token)) != 0) {
				fprintf(
				    stderr, "tls_storm: cannot read %s\n", v);
				return 2;
			}
			g.good.token = token;
		} else {
			fprintf(
			    stderr, "tls_storm: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if (g.good.tls_ca_file == NULL || g.bad_ca == NULL || g.seconds <= 0 ||
	    g.rate <= 0 || g.every_ms <= 0 || g.timeout_ms <= 0 ||
	    g.seconds * g.rate > MAX_ATTACKS) {
		fprintf(stderr, "tls_storm: --ca and --bad-ca are required; "
		                "numbers must be positive\n");
		return 2;
	}
	if (pthread_create(&tf, NULL, good_fresh, &fresh) != 0 ||
	    pthread_create(&tk, NULL, good_kept, &kept) != 0) {
		fprintf(stderr, "tls_storm: pthread_create failed\n");
		return 1;
	}
	t0 = testenv_mono_ms();
	/* The attacks at a steady pace, each on a thread of its own so a slow
	 * one does not slow the pace. */
	while (testenv_mono_ms() - t0 < (long long)g.seconds * 1000 &&
	       nattacks < MAX_ATTACKS) {
		long long due = t0 + (long long)nattacks * 1000 / g.rate;

		if (testenv_mono_ms() < due)
			testenv_sleep_ms((long)(due - testenv_mono_ms()));
		if (pthread_create(&attackers[nattacks], NULL, attack_one,
		        (void *)(intptr_t)nattacks) != 0)
			break;
		nattacks++;
	}
	for (int i = 0; i < nattacks; i++)
		pthread_join(attackers[i], NULL);
	atomic_store(&g.stop, true);
	pthread_join(tf, NULL);
	pthread_join(tk, NULL);
	printf("tls_storm: %d failing clients in %.1f s (", nattacks,
	    (double)(testenv_mono_ms() - t0) / 1000);
	for (int k = 0; k < ATTACK_KINDS; k++)
		printf("%s%s %d", k > 0 ? ", " : "", kind_names[k],
		    atomic_load(&g.attacks[k]));
	printf(")\n");
	printf("tls_storm: good fresh: %d calls, %d failed, slowest %lld ms\n",
	    fresh.calls, fresh.failed, fresh.max_ms);
	printf("tls_storm: good kept: %d calls, %d failed, slowest %lld ms\n",
	    kept.calls, kept.failed, kept.max_ms);
	return fresh.failed + kept.failed == 0 && fresh.calls > 0 &&
	               kept.calls > 0
	           ? 0
	           : 1;
}
