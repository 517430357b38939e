/* edgesplit steering: constants shared by the BPF program and userspace.
 *
 * Changing anything here that alters a map definition or the meaning of a value
 * must bump ES_LAYOUT_VERSION: pinned maps of a running instance are reused by a
 * new process, and a layout mismatch is refused with a message telling the
 * operator to run `edgesplit bpf unload --instance NAME`. */
#ifndef ES_CONSTS_H
#define ES_CONSTS_H

/* Version of the pinned map layout (stored in cfg.layout_version). */
#define ES_LAYOUT_VERSION 4

/* Workers (listening sockets) per listener group, and listener groups per instance. */
#define ES_MAX_WORKERS 64
#define ES_MAX_GROUPS 16
/* Sockarray slots: slot = group base + worker, group base = group index * ES_MAX_WORKERS. */
#define ES_WORKER_SLOTS 1024

/* Maglev table size: the smallest prime >= 100 x ES_MAX_WORKERS (Maglev's rule for an even,
 * low-disruption table). The maglev map holds two halves (double buffer); cfg.active names
 * the live one.
 *
 * The table is packed: each 64-bit element holds the worker indices (one byte each) of
 * ES_MAGLEV_PER_WORD consecutive slots, slot s in bits 8*(s % 8)... of element s / 8 of its
 * half. A half is ES_MAGLEV_WORDS elements (the last one holds slots 6416..6420; its other
 * bytes are ES_MAGLEV_EMPTY). The live half is 6.3 KiB: the random read per connection
 * touches a table small enough to stay in the CPU's caches between connections, where a
 * 64 KiB half (M = 65537) missed them on a loaded CPU (README, Performance). */
#define ES_MAGLEV_M 6421
#define ES_MAGLEV_PER_WORD 8
#define ES_MAGLEV_WORDS 803    /* ceil(ES_MAGLEV_M / ES_MAGLEV_PER_WORD) */
#define ES_MAGLEV_ENTRIES 1606 /* two halves */
/* The byte of a slot without a worker (any value >= ES_MAX_WORKERS: nothing selected). */
#define ES_MAGLEV_EMPTY 0xff

/* port_groups: one element per local port. 0: no registered group listens on the port;
 * base + 1: exactly one does, with that base slot; ES_PORT_SHARED: several groups share
 * the port on different addresses or families, look the group up in `groups`. */
#define ES_PORTS 65536
#define ES_PORT_SHARED 0xffffffffu

/* Seeds of the Maglev permutation of a member id: offset and skip. */
#define ES_MAGLEV_SEED_OFFSET 0x3C6EF372u
#define ES_MAGLEV_SEED_SKIP 0xA54FF53Au

/* Per-CPU counter indices. [0, ES_MAX_WORKERS) are selections per worker. */
#define ES_CNT_FALLBACK 64      /* nothing selected: the kernel picked a socket itself */
#define ES_CNT_ERR_LOAD 65      /* the client address could not be read */
#define ES_CNT_ERR_PROTO 66     /* neither IPv4 nor IPv6 */
#define ES_CNT_MIGRATE 67       /* runs that migrate a request or child of a closed listener */
#define ES_CNT_MIGRATE_NOPKT 68 /* migrations without a packet (close() path) */
#define ES_CNT_IPV6 69          /* runs for an IPv6 client */
#define ES_CNT_NO_GROUP 70      /* the listener's group was not registered */
/* [ES_CNT_OVERFLOW, ES_CNT_OVERFLOW + ES_MAX_WORKERS): connections whose Maglev worker held
 * more than the bounded-load limit, per that worker (they were steered to another one). */
#define ES_CNT_OVERFLOW 71
#define ES_CNT_COUNT (ES_CNT_OVERFLOW + ES_MAX_WORKERS)
/* There is no counter of all runs: every run counts exactly one selection or one fallback
 * (errors and no-group count a fallback too), so all runs = selections + fallback. */

/* Bounded loads: `cfg.balance_milli` is the balance factor x 1000 (0: pure affinity). The
 * `loads` map's one element has ES_LOAD_ROWS rows of per-worker open connections and an
 * owner stamp per row: a serving process claims a free row (or one whose owner is dead) and
 * stores its workers' counts there, so during a hitless restart the old process's connections
 * still count. The program sums all rows. */
#define ES_LOAD_ROWS 4
#define ES_BALANCE_UNIT 1000

/* L4 splice (splice.bpf.c, its own object and maps; the steering layout above is unchanged).
 * Sockets in the splice map: two per spliced connection. A full map makes the proxy copy
 * that connection in userspace instead. */
#define ES_SPLICE_SOCKETS 131072
/* L4 routes counted per instance; l4_bytes holds two counters per route (client to member,
 * member to client) at 2 * route + direction, then one of bytes dropped for want of a peer. */
#define ES_MAX_L4_ROUTES 256
#define ES_L4_TO_MEMBER 0
#define ES_L4_TO_CLIENT 1
#define ES_L4_CNT_DROPPED (2 * ES_MAX_L4_ROUTES)
#define ES_L4_COUNTERS (2 * ES_MAX_L4_ROUTES + 1)

/* Address families as the kernel numbers them (not in the BPF headers). */
#define ES_AF_INET 2
#define ES_AF_INET6 10

#endif
