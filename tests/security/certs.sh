#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# certs.sh DIR: the TLS material of the security tests, made with openssl
# in DIR (a temporary folder of the test; never committed):
#
#   ca.crt ca.key              the test CA
#   server.crt server.key      signed by it, for 127.0.0.1 and localhost
#                              (DNS:127.0.0.1 too: mbedtls 2.28, nng's TLS
#                              library, matches the server name against DNS
#                              names and the CN only, not IP addresses)
#   ipsan.crt ipsan.key        signed by it the way certificates for an
#                              IP address usually are: CN=127.0.0.1,
#                              subjectAltName IP:127.0.0.1 and DNS:localhost
#                              only (so mbedtls cannot match "127.0.0.1")
#   client.crt client.key      a client certificate signed by the CA
#   other-ca.crt other-ca.key  a second, unrelated CA
#   expired.crt expired.key    a server certificate from the test CA whose
#                              validity ended in 2020 (`openssl ca` with
#                              -startdate/-enddate in the past: no faketime)
#
# EC P-256 keys (fast to make, supported by mbedtls 2.28).  Prints nothing
# on success; on failure the openssl output and exit 1.
set -euo pipefail
dir=$1
mkdir -p "$dir"
cd "$dir"
log=openssl.log
: >"$log"
run() { "$@" >>"$log" 2>&1 || { cat "$log" >&2; echo "certs.sh: failed: $*" >&2; exit 1; }; }
key() { run openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }

key ca.key
run openssl req -x509 -new -key ca.key -sha256 -days 3650 -subj "/CN=inventory test CA" \
	-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
	-out ca.crt
key other-ca.key
run openssl req -x509 -new -key other-ca.key -sha256 -days 3650 -subj "/CN=unrelated CA" \
	-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
	-out other-ca.crt

cat >ext-server.cnf <<'CNF'
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, keyAgreement
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, DNS:127.0.0.1, IP:127.0.0.1
CNF
cat >ext-ipsan.cnf <<'CNF'
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, keyAgreement
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
CNF
cat >ext-client.cnf <<'CNF'
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, keyAgreement
extendedKeyUsage = clientAuth
CNF

# sign NAME SUBJECT EXTFILE: NAME.key + NAME.crt, signed by the test CA.
sign() {
	key "$1.key"
	run openssl req -new -key "$1.key" -subj "$2" -out "$1.csr"
	run openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial \
		-sha256 -days 825 -extfile "$3" -out "$1.crt"
}
sign server "/CN=127.0.0.1" ext-server.cnf
sign ipsan "/CN=127.0.0.1" ext-ipsan.cnf
sign client "/CN=inventory test client" ext-client.cnf

# The expired one: openssl ca takes explicit dates, and needs a database.
mkdir -p ca-db
: >ca-db/index.txt
echo 1000 >ca-db/serial
cat >ca.cnf <<'CNF'
[ ca ]
default_ca = test_ca
[ test_ca ]
database = ca-db/index.txt
serial = ca-db/serial
new_certs_dir = ca-db
certificate = ca.crt
private_key = ca.key
default_md = sha256
policy = any
copy_extensions = none
x509_extensions = server_ext
[ any ]
commonName = supplied
[ server_ext ]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, keyAgreement
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, DNS:127.0.0.1, IP:127.0.0.1
CNF
key expired.key
run openssl req -new -key expired.key -subj "/CN=127.0.0.1" -out expired.csr
run openssl ca -batch -config ca.cnf -in expired.csr -out expired.crt \
	-startdate 20190101000000Z -enddate 20200101000000Z -notext
# Check what was made: the good ones verify, the expired one does not.
run openssl verify -CAfile ca.crt server.crt ipsan.crt client.crt
if openssl verify -CAfile ca.crt expired.crt >>"$log" 2>&1; then
	echo "certs.sh: expired.crt verifies: it should have expired" >&2
	exit 1
fi
chmod 600 ./*.key
