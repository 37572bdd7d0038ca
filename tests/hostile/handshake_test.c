/* SPDX-License-Identifier: MIT */
/*
 * A thousand raw connections that give up during the SP handshake: each
 * connects with a plain BSD socket, sends 0..7 of the 8 bytes of a REQ
 * peer's SP header, and closes.  Afterwards a new REQ client must still be
 * served within a timeout (and also half-way through, so a listener that
 * dies early is caught early).
 *
 *   handshake_test            the `server` fixture's tcp:// URL
 *   handshake_test URL...     the given tcp:// or ipc:// URLs
 *   handshake_test --spawn INVENTORYD
 *                             a private inventoryd (INVENTORY_DB from the
 *                             test environment) listening on ipc:// and
 *                             tcp:// in a temporary directory, attacked on
 *                             both; SIGTERM must then stop it with exit 0
 *
 * nng 1.5.2 (nanomsg/nng#1518, fixed in 1.6 by #1519) stops accepting on a
 * listener after a peer disconnects during negotiation; Linux shows it on
 * ipc://.  The --spawn form keeps that damage away from the shared
 * fixture's server.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>

#include "hostile.h"
#include "testenv.h"

enum {
	CONNECTIONS = 1000,
	SERVED_MS   = 5000, /* a new client must be answered within this */
};

/* The SP header a REQ (protocol 0x30) peer sends first. */
static const unsigned char sp_header[8] = { 0, 'S', 'P', 0, 0x00, 0x30, 0, 0 };

/* The attack on one URL; returns 1 if the server is served afterwards. */
static int
attack(const char *url)
{
	int failed_connects = 0, ok = 1;

	printf("%d connections closed during the SP handshake on %s\n",
	    CONNECTIONS, url);
	for (int i = 0; i < CONNECTIONS; i++) {
		int    fd = hostile_raw_connect(url);
		size_t n  = (size_t)(i % 8);

		if (fd < 0) {
			failed_connects++;
			continue;
		}
		if (n > 0 && write(fd, sp_header, n) != (ssize_t)n) {
			failed_connects++;
		}
		close(fd);
		if (i == CONNECTIONS / 2 && !hostile_served(url, SERVED_MS)) {
			printf(
			    "FAIL not served after %d aborted handshakes on "
			    "%s\n",
			    i + 1, url);
			ok = 0;
		}
	}
	if (failed_connects > 0) {
		printf(
		    "  note: %d connects or writes failed\n", failed_connects);
	}
	if (!hostile_served(url, SERVED_MS)) {
		printf(
		    "FAIL a new REQ client was not served within %d ms after "
		    "%d aborted handshakes on %s\n",
		    SERVED_MS, CONNECTIONS, url);
		ok = 0;
	} else {
		printf("ok   a new REQ client is served after %d aborted "
		       "handshakes on %s\n",
		    CONNECTIONS, url);
	}
	return ok;
}

/* Start inventoryd listening on ipc:// and tcp:// URLs in dir. */
static pid_t
spawn(
    const char *inventoryd, const char *dir, char *ipc, char *tcp, size_t len)
{
	const char *db = testenv_get("INVENTORY_DB");
	char        listen[1024], logpath[1024];
	pid_t       pid = -1;

	if (db == NULL) {
		fprintf(stderr, "handshake_test: INVENTORY_DB is unknown\n");
		exit(1);
	}
	/* A port taken by a parallel test before the server bound it:
	 * another port (testenv_free_port()). */
	for (int attempt = 1; attempt <= TESTENV_PORT_TRIES; attempt++) {
		snprintf(ipc, len, "ipc://%s/inventory.sock", dir);
		snprintf(tcp, len, "tcp://127.0.0.1:%d", testenv_free_port());
		snprintf(listen, sizeof(listen), "%s,%s", ipc, tcp);
		snprintf(logpath, sizeof(logpath), "%s/inventoryd.log", dir);
		if ((pid = fork()) == 0) {
			if (freopen(logpath, "w", stderr) == NULL ||
			    freopen(logpath, "a", stdout) == NULL) {
				_exit(126);
			}
			execl(inventoryd, inventoryd, "--listen", listen,
			    "--db", db, "--workers", "2", (char *)NULL);
			_exit(127);
		}
		for (int i = 0; i < 100; i++) {
			int status;
			if (waitpid(pid, &status, WNOHANG) == pid) {
				if (attempt < TESTENV_PORT_TRIES &&
				    testenv_log_in_use(logpath))
					break; /* the port was taken */
				fprintf(stderr,
				    "handshake_test: inventoryd exited "
				    "(see %s)\n",
				    logpath);
				exit(1);
			}
			if (hostile_served(ipc, 500) &&
			    hostile_served(tcp, 500)) {
				return pid;
			}
			if (i == 99) {
				fprintf(stderr, "handshake_test: inventoryd "
				                "did not come up\n");
				kill(pid, SIGKILL);
				exit(1);
			}
		}
		printf(
		    "%s was taken before inventoryd bound it; another port\n",
		    tcp);
	}
	fprintf(stderr, "handshake_test: inventoryd did not come up\n");
	kill(pid, SIGKILL);
	exit(1);
}

int
main(int argc, char **argv)
{
	int ok = 1;

	setvbuf(
	    stdout, NULL, _IOLBF, 0); /* progress survives a timeout kill */

	if (argc == 3 && strcmp(argv[1], "--spawn") == 0) {
		char  dir[] = "/tmp/inventory-handshake-XXXXXX";
		char  ipc[512], tcp[512], cmd[1100];
		pid_t pid;
		int   status = 0;

		if (mkdtemp(dir) == NULL) {
			perror("mkdtemp");
			return 1;
		}
		pid = spawn(argv[2], dir, ipc, tcp, sizeof(ipc));
		ok &= attack(tcp);
		ok &= attack(ipc);
		kill(pid, SIGTERM);
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0) {
			printf("FAIL inventoryd did not exit 0 on SIGTERM "
			       "(status %d)\n",
			    status);
			ok = 0;
		}
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (ok && system(cmd) != 0) {
			fprintf(stderr, "could not remove %s\n", dir);
		} else if (!ok) {
			printf("server log kept in %s/inventoryd.log\n", dir);
		}
	} else if (argc > 1) {
		for (int i = 1; i < argc; i++) {
			ok &= attack(argv[i]);
		}
	} else {
		const char *url = testenv_server_tcp();
		if (url == NULL) {
			fprintf(stderr, "handshake_test: no server URL\n");
			return 1;
		}
		ok &= attack(url);
	}
	nng_fini();
	return ok && hostile_failures == 0 ? 0 : 1;
}
