#!/usr/bin/env bash
# Regenerates tests/data/ketama_vectors.txt with libmemcached itself, the
# independent ketama implementation our router must agree with.
# Needs Debian's libmemcached-dev and a C compiler; CI only reads the output.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! [ -e /usr/include/libmemcached-1.0/memcached.h ]; then
  apt-get update -qq && apt-get install -y -qq libmemcached-dev >/dev/null
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/vectors.c" <<'C'
#include <libmemcached/memcached.h>
#include <stdio.h>
#include <string.h>

/* One ring: "servers host:port:weight,..." then "key server-index" lines. */
static void ring(const char *hosts[], const in_port_t ports[], const uint32_t weights[], int n) {
  memcached_st *memc = memcached_create(NULL);
  memcached_behavior_set(memc, MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED, 1);
  printf("servers");
  for (int i = 0; i < n; i++) {
    memcached_server_add_with_weight(memc, hosts[i], ports[i], weights[i]);
    printf("%s%s:%u:%u", i ? "," : " ", hosts[i], (unsigned)ports[i], weights[i]);
  }
  printf("\n");
  char key[64];
  for (int k = 0; k < 200; k++) {
    /* Keys shaped like deque anchors and node keys, and plain ones. */
    if (k % 2) snprintf(key, sizeof key, "deque-%d:%032x", k, k * 2654435761u);
    else snprintf(key, sizeof key, "key%d", k);
    printf("%s %u\n", key, memcached_generate_hash(memc, key, strlen(key)));
  }
  memcached_free(memc);
}

int main(void) {
  const char *h3[] = {"127.0.0.1", "127.0.0.1", "127.0.0.1"};
  const in_port_t p3[] = {21001, 21002, 21003};
  const uint32_t w1[] = {1, 1, 1, 1};
  ring(h3, p3, w1, 3);
  const char *h4[] = {"10.0.0.1", "10.0.0.2", "cache-a", "cache-b"};
  const in_port_t p4[] = {11211, 11211, 11311, 11211};
  ring(h4, p4, w1, 4);
  const uint32_t w3[] = {1, 2, 5};
  ring(h3, p3, w3, 3);
  return 0;
}
C
cc -O1 -o "$work/vectors" "$work/vectors.c" -lmemcached
"$work/vectors" >tests/data/ketama_vectors.txt
echo "wrote tests/data/ketama_vectors.txt ($(wc -l <tests/data/ketama_vectors.txt) lines)"
