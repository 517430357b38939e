/* TLS load helper for Scripts/bench (OpenSSL 3).
 *
 *   tlsclient conn IP PORT SECONDS THREADS HOST PATH VERSION
 *       A new TCP+TLS connection per request, never resuming a session (no session cache, no
 *       tickets offered): connect, full handshake (SNI = HOST), one GET, read the whole response,
 *       close_notify, close. THREADS blocking loops. VERSION is 1.2 or 1.3. Prints one JSON object.
 *
 *   tlsclient hold IP PORT N INFLIGHT HOST PATH
 *       Opens N TLS 1.3 connections (at most INFLIGHT handshaking at once), prints
 *       "handshaken <ok> <failed>" and waits for SIGUSR1; then sends one keep-alive GET on each,
 *       reads the responses, prints "requested <ok> <failed>" and waits for SIGUSR1 again; exits
 *       (closing everything). Exits by itself after 300 s.
 *
 * Client source addresses rotate over 127.0.1.1-127.0.1.254 in conn mode so that TIME_WAIT
 * never exhausts the ephemeral ports.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_in dst;
static SSL_CTX *ctx;
static char request[512];
static const char *sni;
static size_t request_len;
static atomic_int running = 1;
static atomic_long n_ok, n_fail, n_full, n_resumed, n_bad_status;
static char neg_version[32], neg_cipher[64], neg_group[64];
static pthread_mutex_t neg_lock = PTHREAD_MUTEX_INITIALIZER;

static double now(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static SSL_CTX *make_ctx(int version) {
	SSL_CTX *c = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_min_proto_version(c, version);
	SSL_CTX_set_max_proto_version(c, version);
	SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(c, SSL_OP_NO_TICKET);
	SSL_CTX_set_verify(c, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_alpn_protos(c, (const unsigned char *)"\x08http/1.1", 9);
	return c;
}

/* Reads one HTTP/1.1 response with Content-Length; returns the status or -1. */
static int read_response(SSL *s) {
	char buf[16384];
	size_t have = 0;
	long need = -1;
	int status = -1;
	for (;;) {
		if (need < 0 || (long)have < need) {
			int r = SSL_read(s, buf + (need < 0 ? have : 0), need < 0 ? (int)(sizeof buf - have) : (int)sizeof buf);
			if (r <= 0) return -1;
			if (need >= 0) { have += r; if ((long)have >= need) return status; continue; }
			have += r;
		}
		if (need < 0) {
			buf[have < sizeof buf ? have : sizeof buf - 1] = 0;
			char *end = strstr(buf, "\r\n\r\n");
			if (!end) { if (have >= sizeof buf - 1) return -1; continue; }
			status = atoi(buf + 9);
			char *cl = strcasestr(buf, "\r\ncontent-length:");
			long len = cl ? atol(cl + 17) : 0;
			size_t head = end + 4 - buf;
			need = (long)head + len;
			if ((long)have >= need) return status;
		}
	}
}

static void note_params(SSL *s) {
	pthread_mutex_lock(&neg_lock);
	if (!neg_version[0]) {
		snprintf(neg_version, sizeof neg_version, "%s", SSL_get_version(s));
		snprintf(neg_cipher, sizeof neg_cipher, "%s", SSL_get_cipher_name(s));
		int g = SSL_get_negotiated_group(s);
		const char *name = g ? SSL_group_to_name(s, g) : NULL;
		snprintf(neg_group, sizeof neg_group, "%s", name ? name : "?");
	}
	pthread_mutex_unlock(&neg_lock);
}

static void *conn_loop(void *arg) {
	unsigned n = (unsigned)(long)arg * 37;
	while (atomic_load(&running)) {
		int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
		struct sockaddr_in src = { .sin_family = AF_INET };
		src.sin_addr.s_addr = htonl(0x7f000101u + (n++ % 254));
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		if (bind(fd, (struct sockaddr *)&src, sizeof src) || connect(fd, (struct sockaddr *)&dst, sizeof dst)) {
			atomic_fetch_add(&n_fail, 1);
			close(fd);
			usleep(1000);
			continue;
		}
		SSL *s = SSL_new(ctx);
		SSL_set_fd(s, fd);
		SSL_set_tlsext_host_name(s, sni);
		int ok = 0;
		if (SSL_connect(s) == 1) {
			if (SSL_session_reused(s)) atomic_fetch_add(&n_resumed, 1); else atomic_fetch_add(&n_full, 1);
			note_params(s);
			if (SSL_write(s, request, (int)request_len) == (int)request_len) {
				int st = read_response(s);
				if (st == 200) ok = 1; else if (st > 0) atomic_fetch_add(&n_bad_status, 1);
			}
			SSL_shutdown(s);
		}
		SSL_free(s);
		close(fd);
		if (!atomic_load(&running)) break;  /* a connection cut by the end of the run is not a failure */
		atomic_fetch_add(ok ? &n_ok : &n_fail, 1);
		if (!ok) ERR_clear_error();
	}
	return NULL;
}

static int conn_mode(int argc, char **argv) {
	if (argc != 9) return 2;
	double seconds = atof(argv[4]);
	int threads = atoi(argv[5]);
	ctx = make_ctx(strcmp(argv[8], "1.2") == 0 ? TLS1_2_VERSION : TLS1_3_VERSION);
	pthread_t t[256];
	if (threads < 1 || threads > 256) return 2;
	double t0 = now();
	for (long i = 0; i < threads; i++) pthread_create(&t[i], NULL, conn_loop, (void *)i);
	usleep((useconds_t)(seconds * 1e6));
	long done = atomic_load(&n_ok);
	double t1 = now();
	atomic_store(&running, 0);
	for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
	printf("{\"connections\":%ld,\"seconds\":%.3f,\"per_second\":%.1f,\"full_handshakes\":%ld,\"resumed\":%ld,"
	       "\"failed\":%ld,\"non_200\":%ld,\"version\":\"%s\",\"cipher\":\"%s\",\"group\":\"%s\"}\n",
	       done, t1 - t0, done / (t1 - t0), atomic_load(&n_full), atomic_load(&n_resumed),
	       atomic_load(&n_fail), atomic_load(&n_bad_status), neg_version, neg_cipher, neg_group);
	return 0;
}

/* ---- hold mode ---- */

enum { S_CONNECTING, S_HANDSHAKE, S_IDLE, S_WRITING, S_READING, S_DONE, S_FAILED };
struct hc { int fd, state; SSL *ssl; size_t have; long need; char head[2048]; };

static int wait_usr1(sigset_t *set) {
	int sig;
	struct timespec limit = { 300, 0 };
	siginfo_t info;
	sig = sigtimedwait(set, &info, &limit);
	return sig == SIGUSR1 ? 0 : -1;
}

/* Advances one connection as far as it can go without blocking; returns 1 if it needs
 * more events, 0 when it reached a resting state (S_IDLE, S_DONE, S_FAILED). */
static int step(struct hc *c, int epfd) {
	for (;;) {
		int r, e;
		switch (c->state) {
		case S_CONNECTING: {
			int err = 0; socklen_t l = sizeof err;
			getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
			if (err) { c->state = S_FAILED; return 0; }
			c->state = S_HANDSHAKE;
			break;
		}
		case S_HANDSHAKE:
			r = SSL_connect(c->ssl);
			if (r == 1) { if (SSL_session_reused(c->ssl)) atomic_fetch_add(&n_resumed, 1); else atomic_fetch_add(&n_full, 1);
				note_params(c->ssl); c->state = S_IDLE; return 0; }
			e = SSL_get_error(c->ssl, r);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
				struct epoll_event ev = { .events = e == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT, .data.ptr = c };
				epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
				return 1;
			}
			c->state = S_FAILED; return 0;
		case S_WRITING:
			r = SSL_write(c->ssl, request, (int)request_len);
			if (r == (int)request_len) { c->state = S_READING; c->have = 0; c->need = -1; break; }
			e = SSL_get_error(c->ssl, r);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
				struct epoll_event ev = { .events = e == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT, .data.ptr = c };
				epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
				return 1;
			}
			c->state = S_FAILED; return 0;
		case S_READING: {
			char buf[16384];
			r = SSL_read(c->ssl, buf, sizeof buf);
			if (r > 0) {
				if (c->need < 0) {
					size_t take = (size_t)r < sizeof c->head - 1 - c->have ? (size_t)r : sizeof c->head - 1 - c->have;
					memcpy(c->head + c->have, buf, take);
					c->have += r;
					c->head[c->have < sizeof c->head ? c->have : sizeof c->head - 1] = 0;
					char *end = strstr(c->head, "\r\n\r\n");
					if (end) {
						char *cl = strcasestr(c->head, "\r\ncontent-length:");
						c->need = (long)(end + 4 - c->head) + (cl ? atol(cl + 17) : 0);
						if (atoi(c->head + 9) != 200) atomic_fetch_add(&n_bad_status, 1);
					}
				} else c->have += r;
				if (c->need >= 0 && (long)c->have >= c->need) { c->state = S_DONE; return 0; }
				break;
			}
			e = SSL_get_error(c->ssl, r);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
				struct epoll_event ev = { .events = e == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT, .data.ptr = c };
				epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
				return 1;
			}
			c->state = S_FAILED; return 0;
		}
		default:
			return 0;
		}
	}
}

static void run_until_rest(struct hc *cs, int n, int inflight, int epfd, int start_state, int *ok, int *failed) {
	int next = 0, active = 0;
	*ok = *failed = 0;
	struct epoll_event evs[256];
	while (next < n || active > 0) {
		while (active < inflight && next < n) {
			struct hc *c = &cs[next++];
			if (start_state == S_CONNECTING) {
				c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
				int one = 1;
				setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
				if (c->fd < 0) { c->state = S_FAILED; (*failed)++; continue; }
				c->ssl = SSL_new(ctx);
				SSL_set_fd(c->ssl, c->fd);
				SSL_set_tlsext_host_name(c->ssl, sni);
				c->state = S_CONNECTING;
				int r = connect(c->fd, (struct sockaddr *)&dst, sizeof dst);
				if (r && errno != EINPROGRESS) { c->state = S_FAILED; (*failed)++; continue; }
				struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };
				epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
			} else {
				if (c->state != S_IDLE) continue;
				c->state = S_WRITING;
				struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };
				epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
				if (!step(c, epfd)) {
					epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
					if (c->state == S_DONE) { c->state = S_IDLE; (*ok)++; } else (*failed)++;
					continue;
				}
			}
			active++;
		}
		int k = epoll_wait(epfd, evs, 256, 10000);
		if (k <= 0) break;  /* stuck for 10 s: count what is left as failed */
		for (int i = 0; i < k; i++) {
			struct hc *c = evs[i].data.ptr;
			if (step(c, epfd)) continue;
			epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
			active--;
			if (c->state == S_IDLE || c->state == S_DONE) { c->state = S_IDLE; (*ok)++; }
			else (*failed)++;
		}
	}
	*failed += active;
}

static int hold_mode(int argc, char **argv) {
	if (argc != 8) return 2;
	int n = atoi(argv[4]), inflight = atoi(argv[5]);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	struct rlimit rl;
	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	ctx = make_ctx(TLS1_3_VERSION);
	struct hc *cs = calloc(n, sizeof *cs);
	int epfd = epoll_create1(0), ok, failed;
	double t0 = now();
	run_until_rest(cs, n, inflight, epfd, S_CONNECTING, &ok, &failed);
	printf("handshaken %d %d %.2f %ld %s %s %s\n", ok, failed, now() - t0, atomic_load(&n_resumed), neg_version, neg_cipher, neg_group);
	fflush(stdout);
	if (wait_usr1(&set)) return 1;
	t0 = now();
	run_until_rest(cs, n, inflight, epfd, S_IDLE, &ok, &failed);
	printf("requested %d %d %.2f %ld\n", ok, failed, now() - t0, atomic_load(&n_bad_status));
	fflush(stdout);
	if (wait_usr1(&set)) return 1;
	return 0;
}

int main(int argc, char **argv) {
	signal(SIGPIPE, SIG_IGN);
	if (argc < 8) goto usage;
	dst.sin_family = AF_INET;
	dst.sin_port = htons(atoi(argv[3]));
	if (inet_pton(AF_INET, argv[2], &dst.sin_addr) != 1) goto usage;
	const char *host = argv[6];
	sni = host;
	const char *path = argv[7];
	request_len = snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: edgesplit-bench\r\n\r\n", path, host);
	int r = 2;
	if (strcmp(argv[1], "conn") == 0) r = conn_mode(argc, argv);
	else if (strcmp(argv[1], "hold") == 0) r = hold_mode(argc, argv);
	if (r != 2) return r;
usage:
	fprintf(stderr, "usage: tlsclient conn IP PORT SECONDS THREADS HOST PATH VERSION\n"
	                "       tlsclient hold IP PORT N INFLIGHT HOST PATH\n");
	return 2;
}
