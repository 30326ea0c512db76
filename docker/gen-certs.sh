#!/bin/sh
# Makes what docker/compose.yaml mounts, under ${HOOKQ_SECRETS_DIR:-docker/secrets}:
#   cluster-ca.pem          CA of node-to-node mutual TLS (its key is not kept
#                           beyond this script unless KEEP_CA_KEY=1)
#   n1.pem n1.key …n3       voter certificates: DNS SAN hookq-cluster, server
#                           and client auth
#   ingest.pem ingest.key   ingest node: client auth only, no hookq-cluster SAN
#                           (it may forward and heartbeat, never speak Raft or join)
#   public-ca.pem           CA of the public HTTPS listeners (give it to clients)
#   public.pem public.key   public listener certificate: localhost, 127.0.0.1,
#                           n1 n2 n3 ingest, and $HOOKQ_PUBLIC_NAMES (comma separated)
#   admin-token cluster-key ingest-key
#                           secrets: from $HOOKQ_ADMIN_TOKEN, $HOOKQ_CLUSTER_KEY,
#                           $HOOKQ_INGEST_KEY when set, else random
# Files are owned by ${HOOKQ_UID:-10001} (the image's user) when run as root,
# keys and secrets mode 0600. Existing files are kept (delete the dir to renew).
set -eu
dir=${HOOKQ_SECRETS_DIR:-$(dirname "$0")/secrets}
uid=${HOOKQ_UID:-10001}
days=${DAYS:-825}
mkdir -p "$dir"
cd "$dir"
umask 077

rand() { openssl rand -hex 24; }
secret() { # file value
  [ -s "$1" ] || printf '%s\n' "${2:-$(rand)}" > "$1"
}
secret admin-token "${HOOKQ_ADMIN_TOKEN:-}"
secret cluster-key "${HOOKQ_CLUSTER_KEY:-}"
secret ingest-key "${HOOKQ_INGEST_KEY:-}"

ca() { # name cn
  [ -s "$1.pem" ] && return 0
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days "$days" \
    -subj "/CN=$2" -keyout "$1.key" -out "$1.pem" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
}
issue() { # ca name cn eku san
  [ -s "$2.pem" ] && return 0
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$3" \
    -keyout "$2.key" -out "$2.csr" 2>/dev/null
  ext=$(mktemp)
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature"
    echo "extendedKeyUsage=$4"
    [ -n "$5" ] && echo "subjectAltName=$5"
  } > "$ext"
  openssl x509 -req -in "$2.csr" -CA "$1.pem" -CAkey "$1.key" -CAcreateserial -days "$days" \
    -extfile "$ext" -out "$2.pem" 2>/dev/null
  rm -f "$2.csr" "$ext"
}

ca cluster-ca "hookq cluster CA"
for n in n1 n2 n3; do
  issue cluster-ca "$n" "$n" serverAuth,clientAuth "DNS:hookq-cluster,DNS:$n"
done
issue cluster-ca ingest ingest clientAuth ""
ca public-ca "hookq public CA"
san="DNS:localhost,IP:127.0.0.1,DNS:n1,DNS:n2,DNS:n3,DNS:ingest"
for h in $(echo "${HOOKQ_PUBLIC_NAMES:-}" | tr ',' ' '); do san="$san,DNS:$h"; done
issue public-ca public hookq serverAuth "$san"
[ "${KEEP_CA_KEY:-0}" = 1 ] || rm -f cluster-ca.key public-ca.key
rm -f ./*.srl
chmod 0644 ./*.pem
if [ "$(id -u)" = 0 ]; then
  chown "$uid:$uid" ./*
else
  echo "gen-certs: not root: chown the files in $dir to uid $uid (the image's user) before docker compose up" >&2
fi
echo "gen-certs: $dir ready"
