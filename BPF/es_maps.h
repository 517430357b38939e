/* edgesplit steering: the BPF maps. Every map is pinned by name under the instance
 * directory (/sys/fs/bpf/edgesplit/<instance>/, the loader's pin_root_path), so a
 * second process (the CLI, a reloading server) finds them. Names are at most 15 chars. */
#ifndef ES_MAPS_H
#define ES_MAPS_H

#include "es_consts.h"
#include "es_structs.h"

/* The worker listeners: slot = group base + worker index. */
struct {
	__uint(type, BPF_MAP_TYPE_REUSEPORT_SOCKARRAY);
	__uint(max_entries, ES_WORKER_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} workers SEC(".maps");

/* Listener group (the listening address of ctx->sk) -> its base slot in `workers`. The
 * program reads it only for a port that several groups share (see port_groups). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, ES_MAX_GROUPS);
	__type(key, struct es_group_key);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} groups SEC(".maps");

/* Local port of the listener -> base slot + 1 of its group (0: none; ES_PORT_SHARED:
 * ask `groups`). One direct array read per decision instead of a hash of a 24-byte key. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, ES_PORTS);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} port_groups SEC(".maps");

/* Two packed Maglev tables of ES_MAGLEV_M slots each (ES_MAGLEV_WORDS elements per
 * half); each byte of an element is the worker index of one slot (es_consts.h). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, ES_MAGLEV_ENTRIES);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} maglev SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct es_config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cfg SEC(".maps");

/* Active connections per worker, one row per serving process (es_consts.h, bounded
 * loads), in one element. Memory-mappable: workers store their counts with plain stores through an mmap,
 * no system call per accept or close. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct es_loads);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} loads SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, ES_CNT_COUNT);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} counters SEC(".maps");

#endif
