/* edgesplit steering: the affinity hash, compiled into the BPF program and into
 * userspace (Swift calls these through CEdgesplitBPF; AffinityHash in Swift must
 * agree bit for bit, and a test holds them equal).
 *
 * The address is a sequence of 32-bit word *values* (big-endian words of the
 * network-order address: 1 for IPv4, 4 for IPv6), masked word by word to the affinity
 * prefix, then hashed with murmur3_32 over the words, seeded. */
#ifndef ES_HASH_H
#define ES_HASH_H

#include <linux/types.h>

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

static __always_inline __u32 es_rotl32(__u32 x, __u32 r)
{
	return (x << r) | (x >> (32 - r));
}

/* The mask of one word holding `bits` prefix bits (bits is clamped to 0..32). */
static __always_inline __u32 es_word_mask(__s32 bits)
{
	if (bits <= 0)
		return 0;
	if (bits >= 32)
		return 0xffffffffu;
	return 0xffffffffu << (32 - bits);
}

/* One murmur3_32 block step. */
static __always_inline __u32 es_murmur_step(__u32 h, __u32 k)
{
	k *= 0xcc9e2d51u;
	k = es_rotl32(k, 15);
	k *= 0x1b873593u;
	h ^= k;
	h = es_rotl32(h, 13);
	return h * 5 + 0xe6546b64u;
}

static __always_inline __u32 es_fmix32(__u32 h)
{
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

/* murmur3_32 over `nwords` (at most 4) word values. */
static __always_inline __u32 es_murmur_words(const __u32 *words, __u32 nwords, __u32 seed)
{
	__u32 h = seed;
	__u32 i;
#pragma unroll
	for (i = 0; i < 4; i++) {
		if (i >= nwords)
			break;
		h = es_murmur_step(h, words[i]);
	}
	h ^= nwords * 4;
	return es_fmix32(h);
}

/* The affinity hash of an address: `nwords` word values (1 or 4), masked to `prefix`
 * leading bits, murmur3_32 with `seed`. */
static __always_inline __u32 es_affinity_hash(const __u32 *words, __u32 nwords, __u32 prefix, __u32 seed)
{
	__u32 masked[4] = {0, 0, 0, 0};
	__u32 i;
#pragma unroll
	for (i = 0; i < 4; i++) {
		if (i >= nwords)
			break;
		masked[i] = words[i] & es_word_mask((__s32)prefix - (__s32)(32 * i));
	}
	return es_murmur_words(masked, nwords, seed);
}

#endif
