/* edgesplit L4 splice: the maps of splice.bpf.c, pinned by name under the instance
 * directory like the steering maps (names at most 15 chars). */
#ifndef ES_SPLICE_MAPS_H
#define ES_SPLICE_MAPS_H

#include "es_consts.h"
#include "es_structs.h"

/* Spliced sockets by cookie. The stream verdict program is attached to this map, so a
 * socket put here has its received bytes judged (and redirected) in the kernel. */
struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, ES_SPLICE_SOCKETS);
	__type(key, __u64);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} l4_socks SEC(".maps");

/* Socket cookie -> its peer and counter (es_structs.h). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ES_SPLICE_SOCKETS);
	__type(key, __u64);
	__type(value, struct es_splice_peer);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} l4_peers SEC(".maps");

/* Bytes forwarded in the kernel, per CPU: 2 * route + direction, and ES_L4_CNT_DROPPED. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, ES_L4_COUNTERS);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} l4_bytes SEC(".maps");

#endif
