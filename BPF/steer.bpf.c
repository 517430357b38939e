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

/* Active connections of worker `w` over both rows of `loads`. */
static __always_inline __u64 es_load(struct es_loads *l, __u32 w)
{
	/* The mask in assembly: the compiler knows w < 64 and would drop a C mask, while the
	 * verifier may have lost that bound in another register. */
	asm volatile("%0 &= 63" : "+r"(w));
	return l->active[0][w] + l->active[1][w];
}

/* State of the bounded-load loops. They run under bpf_loop, so the verifier checks each
 * body once instead of unrolling 64 iterations of data-dependent branches. */
struct es_balance {
	__u64 drained;
	__u64 total;
	__u64 live;
	__u64 limit;
	__u64 unit;
	__u32 n;
	__u32 step;
	__u32 candidate;
	__u32 found;
};

static long es_sum_loads(__u64 index, void *data)
{
	struct es_balance *b = data;
	__u32 zero = 0;
	__u32 i = (__u32)index & (ES_MAX_WORKERS - 1);
	struct es_loads *l = bpf_map_lookup_elem(&loads, &zero);
	if (!l)
		return 1;
	if (!(b->drained & (1ULL << i))) {
		b->total += es_load(l, i);
		b->live += 1;
	}
	return 0;
}

static long es_walk(__u64 index, void *data)
{
	struct es_balance *b = data;
	__u32 zero = 0;
	struct es_loads *l = bpf_map_lookup_elem(&loads, &zero);
	if (!l)
		return 1;
	__u32 c = b->candidate + b->step;
	if (c >= b->n)
		c -= b->n;
	c &= ES_MAX_WORKERS - 1;
	b->candidate = c;
	if (b->drained & (1ULL << c))
		return 0;
	if (es_load(l, c) * b->unit < b->limit) {
		b->found = 1;
		return 1;
	}
	return 0;
}

/* Consistent hashing with bounded loads (Mirrokni, Thorup and Zadimoghaddam, 2017): a worker
 * holding L of the T active connections of the n undrained workers may take one more while
 * L < factor x (T + 1) / n, i.e. it then holds at most ceil(factor x mean). The Maglev worker
 * `w` keeps its client while under that bound; otherwise the program walks the undrained
 * workers w + step, w + 2 step, ... (mod n; step coprime to n, derived from the seed) and
 * takes the first one under it. Some worker always is: the least loaded holds at most
 * floor(T / n) < factor x (T + 1) / n for factor >= 1. The choice is a function of the loads
 * alone, so `edgesplit maps where` can say it (Affinity's BoundedLoad). */
static __always_inline __u32 es_bounded(struct es_config *conf, __u32 w, __u32 factor)
{
	__u32 zero = 0;
	struct es_loads *l = bpf_map_lookup_elem(&loads, &zero);
	if (!l)
		return w;
	struct es_balance b = {};
	b.n = conf->worker_count;
	if (b.n > ES_MAX_WORKERS || b.n == 0)
		return w;
	b.drained = conf->drained_mask;
	bpf_loop(b.n, es_sum_loads, &b, 0);
	if (b.live == 0)
		return w;
	b.limit = (__u64)factor * (b.total + 1);
	b.unit = ES_BALANCE_UNIT * b.live;
	if (es_load(l, w) * b.unit < b.limit)
		return w;
	es_count(ES_CNT_OVERFLOW + (w & (ES_MAX_WORKERS - 1)));
	b.step = conf->walk_step;
	if (b.step == 0 || b.step >= b.n)
		b.step = 1;
	b.candidate = w;
	bpf_loop(b.n - 1, es_walk, &b, 0);
	if (b.found)
		return b.candidate;
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
