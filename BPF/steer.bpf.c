// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* edgesplit steering: an SK_REUSEPORT program that sends every new TCP connection
 * to the worker chosen by a Maglev table over the client's masked source address.
 *
 * Two sections share all logic: `sk_reuseport` (select only) and
 * `sk_reuseport/migrate` (also re-homes requests and children of a closed listener,
 * which keeps affinity across a hitless reload). Whatever goes wrong, the program
 * returns SK_PASS with nothing selected, so the kernel picks a live socket by its own
 * hash: it never drops a connection. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "es_consts.h"
#include "es_structs.h"
#include "es_hash.h"
#include "es_maps.h"

#define ES_ETH_P_IP 0x0800
#define ES_ETH_P_IPV6 0x86DD

static __always_inline void es_count(__u32 index)
{
	__u64 *value = bpf_map_lookup_elem(&counters, &index);
	if (value)
		*value += 1;
}

static __always_inline int es_fallback(void)
{
	es_count(ES_CNT_FALLBACK);
	return SK_PASS;
}

_Static_assert(sizeof(((struct es_loads *)0)->active) == ES_LOAD_ROWS * ES_MAX_WORKERS * 8, "loads rows");

/* Open connections of worker `w` over all rows of `loads`. */
static __always_inline __u64 es_load(struct es_loads *l, __u32 w)
{
	/* The mask in assembly: the compiler knows w < 64 and would drop a C mask, while the
	 * verifier may have lost that bound in another register. */
	asm volatile("%0 &= 63" : "+r"(w));
	return l->active[0][w] + l->active[1][w] + l->active[2][w] + l->active[3][w];
}

/* Bits set in `x` (no popcount instruction in BPF). */
static __always_inline __u64 es_popcount(__u64 x)
{
	x = x - ((x >> 1) & 0x5555555555555555ULL);
	x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
	x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
	return (x * 0x0101010101010101ULL) >> 56;
}

/* Consistent hashing with bounded loads (Mirrokni, Thorup and Zadimoghaddam, 2017): a worker
 * holding L of the T open connections of the n undrained workers may take one more while
 * L < factor x (T + 1) / n. The Maglev worker `w` keeps its client while under that bound;
 * otherwise the program walks the workers (w + k step) mod n, k = 1..n-1 (step coprime to n,
 * derived from the seed), skips drained ones and takes the first under it. Some worker always
 * is: the least loaded holds at most floor(T / n) < factor x (T + 1) / n for factor >= 1. The
 * choice is a function of the loads alone, so `edgesplit maps where` can say it (Affinity's
 * BoundedLoad).
 *
 * Plain loops bounded by ES_MAX_WORKERS (kernel 5.3 and later, no JIT needed). Their bodies
 * branch on data only to leave: the verifier walks each loop once, where branches that change
 * state per iteration would multiply its paths. */
static __always_inline __u32 es_bounded(struct es_config *conf, __u32 w, __u32 factor)
{
	__u32 zero = 0;
	struct es_loads *l = bpf_map_lookup_elem(&loads, &zero);
	if (!l)
		return w;
	__u32 n = conf->worker_count;
	if (n == 0 || n > ES_MAX_WORKERS)
		return w;
	__u64 drained = conf->drained_mask;
	/* Undrained workers as a bit mask: their number is its population count, so the sum
	 * loop carries nothing but the total, and its exits (one per worker count) all leave the
	 * verifier in one state it checks once. */
	__u64 up_mask = (n == ES_MAX_WORKERS ? ~0ULL : (1ULL << n) - 1) & ~drained;
	__u64 live = es_popcount(up_mask);
	if (live == 0)
		return w;
	/* The loop compares against a copy of n the verifier does not link to n (an ALU
	 * instruction gives it a register id of its own): otherwise each exit would teach it a
	 * different range of n, and it would check the walk below once per exit. */
	__u32 count = n;
	asm volatile("%0 += 0" : "+r"(count));
	__u64 total = 0;
#pragma clang loop unroll(disable)
	for (__u32 i = 0; i < ES_MAX_WORKERS; i++) {
		if (i >= count)
			break;
		total += es_load(l, i) & (0 - ((up_mask >> i) & 1));
	}
	__u64 limit = (__u64)factor * (total + 1);
	__u64 unit = ES_BALANCE_UNIT * live;
	if (es_load(l, w) * unit < limit)
		return w;
	__u32 step = conf->walk_step;
	if (step == 0 || step >= n)
		step = 1;
#pragma clang loop unroll(disable)
	for (__u32 k = 1; k < ES_MAX_WORKERS; k++) {
		if (k >= n)
			break;
		__u32 c = (w + k * step) % n;
		if ((drained >> (c & 63)) & 1)
			continue;
		if (es_load(l, c) * unit < limit) {
			es_count(ES_CNT_OVERFLOW + (w & (ES_MAX_WORKERS - 1)));
			return c;
		}
	}
	return w; /* loads that do not add up (a row being rewritten): keep affinity */
}

/* The base slot of a listener group whose port other groups share: look its full
 * listening address up in `groups`. 0xffffffff when it is not registered. */
static __always_inline __u32 es_shared_port_base(struct bpf_sock *lsk, __u32 port)
{
	struct es_group_key gkey = {};
	gkey.family = lsk->family;
	gkey.port = port;
	if (gkey.family == ES_AF_INET) {
		gkey.addr[0] = lsk->src_ip4;
	} else {
		gkey.addr[0] = lsk->src_ip6[0];
		gkey.addr[1] = lsk->src_ip6[1];
		gkey.addr[2] = lsk->src_ip6[2];
		gkey.addr[3] = lsk->src_ip6[3];
	}
	__u32 *base = bpf_map_lookup_elem(&groups, &gkey);
	return base ? *base : 0xffffffffu;
}

static __always_inline int es_steer(struct sk_reuseport_md *ctx)
{
	__u32 zero = 0;
	__u32 words[4] = {0, 0, 0, 0};
	__u32 ipv6 = 0;

	struct es_config *conf = bpf_map_lookup_elem(&cfg, &zero);
	if (!conf)
		return es_fallback();

	struct bpf_sock *lsk = ctx->sk;
	if (!lsk)
		return es_fallback();

	/* The group is told apart by the listening socket's port (and, for a port several
	 * groups share, its address). When migrating, the listener is already closed and may
	 * have released its port (inet_num is cleared for a socket whose port the kernel
	 * chose), so the port comes from the migrating socket: its local port is the
	 * listener's. The bound address stays readable. */
	__u32 port;
	struct bpf_sock *msk = ctx->migrating_sk;
	if (msk) {
		/* No packet on the close() path: the peer is the socket's destination. */
		es_count(ES_CNT_MIGRATE);
		if (ctx->len == 0)
			es_count(ES_CNT_MIGRATE_NOPKT);
		port = msk->src_port;
		__u32 family = msk->family;
		if (family == ES_AF_INET) {
			words[0] = bpf_ntohl(msk->dst_ip4);
		} else if (family == ES_AF_INET6) {
			__u32 a0 = msk->dst_ip6[0];
			__u32 a1 = msk->dst_ip6[1];
			__u32 a2 = msk->dst_ip6[2];
			__u32 a3 = msk->dst_ip6[3];
			if (a0 == 0 && a1 == 0 && a2 == bpf_htonl(0xffff)) {
				/* IPv4-mapped (dual-stack listener): hash it as the IPv4 client. */
				words[0] = bpf_ntohl(a3);
			} else {
				words[0] = bpf_ntohl(a0);
				words[1] = bpf_ntohl(a1);
				words[2] = bpf_ntohl(a2);
				words[3] = bpf_ntohl(a3);
				ipv6 = 1;
				es_count(ES_CNT_IPV6);
			}
		} else {
			es_count(ES_CNT_ERR_PROTO);
			return es_fallback();
		}
	} else {
		port = lsk->src_port;
		if (ctx->eth_protocol == bpf_htons(ES_ETH_P_IP)) {
			__u32 saddr;
			if (bpf_skb_load_bytes_relative(ctx, 12, &saddr, 4, BPF_HDR_START_NET)) {
				es_count(ES_CNT_ERR_LOAD);
				return es_fallback();
			}
			words[0] = bpf_ntohl(saddr);
		} else if (ctx->eth_protocol == bpf_htons(ES_ETH_P_IPV6)) {
			__u32 saddr6[4];
			if (bpf_skb_load_bytes_relative(ctx, 8, saddr6, 16, BPF_HDR_START_NET)) {
				es_count(ES_CNT_ERR_LOAD);
				return es_fallback();
			}
			words[0] = bpf_ntohl(saddr6[0]);
			words[1] = bpf_ntohl(saddr6[1]);
			words[2] = bpf_ntohl(saddr6[2]);
			words[3] = bpf_ntohl(saddr6[3]);
			ipv6 = 1;
			es_count(ES_CNT_IPV6);
		} else {
			es_count(ES_CNT_ERR_PROTO);
			return es_fallback();
		}
	}

	__u32 *entry = bpf_map_lookup_elem(&port_groups, &port);
	if (!entry)
		return es_fallback();
	__u32 base = *entry - 1; /* 0 (no group) wraps to 0xffffffff */
	if (base == ES_PORT_SHARED - 1)
		base = es_shared_port_base(lsk, port);
	if (base >= ES_WORKER_SLOTS) {
		es_count(ES_CNT_NO_GROUP);
		return es_fallback();
	}

	/* Configuration values are read once each. */
	__u32 seed = conf->seed;
	__u32 active = conf->active & 1;
	__u32 hash = ipv6 ? es_affinity_hash(words, 4, conf->v6_prefix, seed)
			  : es_affinity_hash(words, 1, conf->v4_prefix, seed);
	__u32 slot = hash % ES_MAGLEV_M;
	__u32 index = active * ES_MAGLEV_WORDS + slot / ES_MAGLEV_PER_WORD;
	__u64 *packed = bpf_map_lookup_elem(&maglev, &index);
	if (!packed)
		return es_fallback();
	__u32 w = (__u32)(*packed >> ((slot % ES_MAGLEV_PER_WORD) * 8)) & 0xff;
	if (w >= ES_MAX_WORKERS)
		return es_fallback();
	__u32 factor = conf->balance_milli;
	if (factor)
		w = es_bounded(conf, w, factor);
	__u32 key = base + w;
	if (bpf_sk_select_reuseport(ctx, &workers, &key, 0))
		return es_fallback();
	es_count(w);
	return SK_PASS;
}

SEC("sk_reuseport")
int steer_select(struct sk_reuseport_md *ctx)
{
	return es_steer(ctx);
}

SEC("sk_reuseport/migrate")
int steer_migrate(struct sk_reuseport_md *ctx)
{
	return es_steer(ctx);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
