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

#define ES_BPF_FS_MAGIC 0xcafe4a11

struct bpf_object *es_open_embedded(const char *pin_root, int *err)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = pin_root, .object_name = "edgesplit_steer");
	struct bpf_object *obj = bpf_object__open_mem(es_bpf_object, es_bpf_object_size, &opts);
	long e = libbpf_get_error(obj);
	if (e) {
		*err = (int)e;
		return NULL;
	}
	*err = 0;
	return obj;
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
