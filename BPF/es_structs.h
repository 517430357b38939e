/* edgesplit steering: map value and key layouts shared by the BPF program and
 * userspace (the Swift side imports this header through the CEdgesplitBPF target). */
#ifndef ES_STRUCTS_H
#define ES_STRUCTS_H

#include <linux/types.h>

/* The single entry of the `cfg` map. */
struct es_config {
	__u32 v4_prefix;      /* IPv4 affinity prefix, 0..32 */
	__u32 v6_prefix;      /* IPv6 affinity prefix, 0..128 */
	__u32 seed;           /* affinity hash seed */
	__u32 active;         /* live half of `maglev`: 0 or 1 */
	__u32 generation;     /* bumped on every table switch */
	__u32 worker_count;   /* workers per listener group */
	__u64 drained_mask;   /* bit w set: worker w is drained (absent from the table) */
	__u32 layout_version; /* ES_LAYOUT_VERSION of the writer */
	__u32 balance_milli;  /* bounded loads: balance factor x 1000; 0 = pure affinity */
	__u32 walk_step;      /* bounded loads: the overflow walk's step, coprime to worker_count */
	__u32 pad;
};

/* The single element of the `loads` map: open connections per worker, one row per serving
 * process, each entry written by its worker only (a relaxed 8-byte store on every accept and
 * close) and read by the program. `owner[r]` stamps row r with its process, (start time in
 * clock ticks << 22) | pid, 0 when free; it is claimed with a compare-and-swap. */
struct es_loads {
	__u64 owner[4];      /* [ES_LOAD_ROWS] */
	__u64 active[4][64]; /* [ES_LOAD_ROWS][ES_MAX_WORKERS] */
};

/* Key of the `groups` map: the listening address of one SO_REUSEPORT group, as the
 * kernel reports it for ctx->sk (family, host-order port, network-order address words;
 * an IPv4 address is in addr[0], the rest zero). */
struct es_group_key {
	__u32 family;
	__u32 port;
	__u32 addr[4];
};

/* Value of the `l4_peers` map, keyed by a spliced socket's cookie (SO_COOKIE): where its
 * received bytes go (the peer socket's cookie, its key in `l4_socks`) and the `l4_bytes`
 * counter they are added to (2 * route + direction). */
struct es_splice_peer {
	__u64 peer_cookie;
	__u32 counter;
	__u32 pad;
};

#endif
