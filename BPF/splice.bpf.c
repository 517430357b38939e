/* edgesplit L4 splice: an sk_skb stream verdict program that forwards every byte a
 * spliced socket receives to its peer's egress (bpf_sk_redirect_hash without
 * BPF_F_INGRESS), so an L4 route's payload never crosses into userspace.
 *
 * Userspace (Sources/Steering/SpliceProgram.swift) puts both sockets of a connection in
 * `l4_socks` keyed by their cookies and records each one's peer in `l4_peers`. It keeps
 * what the kernel cannot: the bytes a socket had queued before it entered the map (read
 * and written by userspace), end of stream (a FIN is not forwarded: userspace shuts the
 * peer's write side), and removing both sockets when either closes. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "es_consts.h"
#include "es_structs.h"
#include "es_splice_maps.h"

static __always_inline void es_count(__u32 index, __u64 bytes)
{
	__u64 *value = bpf_map_lookup_elem(&l4_bytes, &index);
	if (value)
		*value += bytes;
}

SEC("sk_skb/stream_verdict")
int splice_verdict(struct __sk_buff *skb)
{
	/* A bare FIN arrives as an empty skb. Redirected, the peer's backlog would "send" zero
	 * bytes, which it reports as a broken pipe on the peer; userspace forwards the end of
	 * stream as a shutdown instead. */
	if (skb->len == 0)
		return SK_DROP;
	__u64 cookie = bpf_get_socket_cookie(skb);
	struct es_splice_peer *peer = bpf_map_lookup_elem(&l4_peers, &cookie);
	if (!peer) {
		/* The peer is gone (closing): nothing can take these bytes. */
		es_count(ES_L4_CNT_DROPPED, skb->len);
		return SK_DROP;
	}
	__u64 peer_cookie = peer->peer_cookie;
	__u32 counter = peer->counter;
	if (counter >= ES_L4_CNT_DROPPED)
		counter = ES_L4_CNT_DROPPED;
	__u32 len = skb->len;
	int verdict = bpf_sk_redirect_hash(skb, &l4_socks, &peer_cookie, 0);
	es_count(verdict == SK_PASS ? counter : ES_L4_CNT_DROPPED, len);
	return verdict;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
