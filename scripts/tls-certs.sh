#!/usr/bin/env bash
# tls-certs.sh DIR: a throwaway CA, and two server certificates it signed, for chapter 11's tests
# and lab. They last two days; nothing outside DIR trusts them.
#   ca.pem/.key     the CA (ECDSA P-256)
#   ecdsa.pem/.key  P-256     localhost, 127.0.0.1, ::1, ecdsa.test           (the default identity)
#   rsa.pem/.key    RSA 2048  rsa.test, *.wild.test, localhost, 127.0.0.1, ::1 (SNI, and the lab's RSA runs)
# A CA rather than self-signed leaves: the clients then verify a chain, as a browser does. The
# inline -config and -extfile keep the result independent of the machine's openssl.cnf.
# What openssl said goes to DIR/openssl.log; the exit status says whether it worked.
set -uo pipefail
d=${1:?usage: tls-certs.sh DIR}
log=$d/openssl.log
mkdir -p "$d" || exit 1

# leaf NAME SUBJECT-ALT-NAMES NEWKEY-ARGUMENTS...: DIR/NAME.key, and DIR/NAME.pem signed by the CA
leaf() {
  local name=$1 san=$2
  shift 2
  openssl req -new -newkey "$@" -nodes -keyout "$d/$name.key" -out "$d/$name.csr" -subj "/CN=$name" 2>>"$log" &&
    openssl x509 -req -in "$d/$name.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -set_serial "0x$(openssl rand -hex 8)" \
      -days 2 -out "$d/$name.pem" \
      -extfile <(printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=%s\n' "$san") \
      2>>"$log"
}

openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$d/ca.key" -out "$d/ca.pem" \
  -days 2 -subj "/CN=one-loop throwaway test CA" \
  -config <(printf '[req]\ndistinguished_name=dn\nx509_extensions=ca\n[dn]\n[ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n') \
  2>>"$log" &&
  leaf ecdsa "DNS:localhost,IP:127.0.0.1,IP:::1,DNS:ecdsa.test" ec -pkeyopt ec_paramgen_curve:P-256 &&
  leaf rsa "DNS:rsa.test,DNS:*.wild.test,DNS:localhost,IP:127.0.0.1,IP:::1" rsa:2048
