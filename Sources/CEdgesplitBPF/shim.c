#define _GNU_SOURCE
#include "edgesplit_bpf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <sys/vfs.h>
#include <sys/ioctl.h>
#include <netinet/in.h>
#include <linux/tcp.h>
#include <linux/sockios.h>

#define ES_BPF_FS_MAGIC 0xcafe4a11

static struct bpf_object *es_open_object(const unsigned char *bytes, unsigned long size, const char *name,
					 const char *pin_root, int *err)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = pin_root, .object_name = name);
	struct bpf_object *obj = bpf_object__open_mem(bytes, size, &opts);
	long e = libbpf_get_error(obj);
	if (e) {
		*err = (int)e;
		return NULL;
	}
	*err = 0;
	return obj;
}

struct bpf_object *es_open_embedded(const char *pin_root, int *err)
{
	return es_open_object(es_bpf_object, es_bpf_object_size, "edgesplit_steer", pin_root, err);
}

static char es_messages[4096];
static size_t es_messages_len;

static int es_print(enum libbpf_print_level level, const char *format, va_list args)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	if (es_messages_len < sizeof(es_messages) - 1) {
		int n = vsnprintf(es_messages + es_messages_len, sizeof(es_messages) - es_messages_len, format, args);
		if (n > 0) {
			es_messages_len += (size_t)n;
			if (es_messages_len > sizeof(es_messages) - 1)
				es_messages_len = sizeof(es_messages) - 1;
		}
	}
	return 0;
}

void es_libbpf_capture(void)
{
	es_messages[0] = 0;
	es_messages_len = 0;
	libbpf_set_print(es_print);
}

const char *es_libbpf_messages(void)
{
	return es_messages;
}

int es_map_update_batch(int fd, const void *keys, const void *values, __u32 *count)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = 0, .flags = 0);
	int r = bpf_map_update_batch(fd, keys, values, count, &opts);
	return r < 0 ? -errno : 0;
}

int es_map_lookup_batch(int fd, void *keys, void *values, __u32 *count)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts, .elem_flags = 0, .flags = 0);
	__u32 wanted = *count, next = 0;
	int r = bpf_map_lookup_batch(fd, NULL, &next, keys, values, count, &opts);
	/* Reaching the end of the map is reported as ENOENT, with *count still the elements read. */
	if (r < 0 && errno == ENOENT && *count == wanted)
		return 0;
	return r < 0 ? -errno : (*count == wanted ? 0 : -EIO);
}

int es_map_info(int fd, struct bpf_map_info *info)
{
	__u32 len = sizeof(*info);
	memset(info, 0, sizeof(*info));
	return bpf_obj_get_info_by_fd(fd, info, &len) ? -errno : 0;
}

int es_prog_info(int fd, struct bpf_prog_info *info)
{
	__u32 len = sizeof(*info);
	memset(info, 0, sizeof(*info));
	return bpf_obj_get_info_by_fd(fd, info, &len) ? -errno : 0;
}

int es_is_bpffs(const char *path)
{
	struct statfs st;
	if (statfs(path, &st))
		return -errno;
	return (unsigned long)st.f_type == ES_BPF_FS_MAGIC;
}

const unsigned char *es_bpf_object_ptr(void)
{
	return es_bpf_object;
}

const char *es_bpf_source_digest_string(void)
{
	return es_bpf_source_digest;
}

int es_setns_net(int fd)
{
	return setns(fd, CLONE_NEWNET) ? -errno : 0;
}

int es_thread_setresuid(unsigned int ruid, unsigned int euid, unsigned int suid)
{
	return syscall(SYS_setresuid, ruid, euid, suid) ? -errno : 0;
}

const char *es_splice_source_digest_string(void)
{
	return es_splice_object_source_digest;
}

struct bpf_object *es_open_splice(const char *pin_root, int *err)
{
	return es_open_object(es_splice_object, es_splice_object_size, "edgesplit_splice", pin_root, err);
}

unsigned long long es_socket_cookie(int fd)
{
	unsigned long long cookie = 0;
	socklen_t len = sizeof(cookie);
	if (getsockopt(fd, SOL_SOCKET, 57 /* SO_COOKIE */, &cookie, &len) != 0)
		return 0;
	return cookie;
}

static int es_same_address(const struct sockaddr_storage *a, const struct sockaddr *b, socklen_t b_len)
{
	if (a->ss_family != b->sa_family)
		return 0;
	if (a->ss_family == AF_INET && b_len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *x = (const struct sockaddr_in *)a, *y = (const struct sockaddr_in *)b;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6 && b_len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a, *y = (const struct sockaddr_in6 *)b;
		return x->sin6_port == y->sin6_port && memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
	}
	return 0;
}

int es_socket_has_endpoints(int fd, const struct sockaddr *local, socklen_t local_len,
			    const struct sockaddr *remote, socklen_t remote_len)
{
	struct sockaddr_storage a, b;
	socklen_t alen = sizeof(a), blen = sizeof(b);
	if (getsockname(fd, (struct sockaddr *)&a, &alen) != 0 || getpeername(fd, (struct sockaddr *)&b, &blen) != 0)
		return 0;
	return es_same_address(&a, local, local_len) && es_same_address(&b, remote, remote_len);
}

int es_tcp_byte_counts(int fd, unsigned long long *received, unsigned long long *queued)
{
	struct tcp_info info;
	socklen_t len = sizeof(info);
	int outq = 0;
	memset(&info, 0, sizeof(info));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0)
		return -errno;
	if (ioctl(fd, SIOCOUTQ, &outq) != 0)
		return -errno;
	*received = info.tcpi_bytes_received;
	*queued = info.tcpi_bytes_acked + (unsigned long long)outq;
	return 0;
}

int es_tcp_idle_ms(int fd, unsigned int *milliseconds)
{
	struct tcp_info info;
	socklen_t len = sizeof(info);
	memset(&info, 0, sizeof(info));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0)
		return -errno;
	*milliseconds = info.tcpi_last_data_recv < info.tcpi_last_data_sent ? info.tcpi_last_data_recv : info.tcpi_last_data_sent;
	return 0;
}

long es_recv_nonblocking(int fd, void *buffer, unsigned long size)
{
	ssize_t n = recv(fd, buffer, size, MSG_DONTWAIT);
	return n < 0 ? -errno : (long)n;
}

int es_tcp_fin_received(int fd)
{
	struct tcp_info info;
	socklen_t len = sizeof(info);
	memset(&info, 0, sizeof(info));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0)
		return -errno;
	/* The kernel numbers TCP states as enum bpf_tcp_state does. */
	switch (info.tcpi_state) {
	case BPF_TCP_CLOSE_WAIT:
	case BPF_TCP_LAST_ACK:
	case BPF_TCP_CLOSING:
	case BPF_TCP_TIME_WAIT:
	case BPF_TCP_CLOSE:
		return 1;
	default:
		return 0;
	}
}

static _Thread_local int es_tls_resumed_flag;

void es_tls_set_last_resumed(int resumed) { es_tls_resumed_flag = resumed; }

int es_tls_last_resumed(void) { return es_tls_resumed_flag; }
