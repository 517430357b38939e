/* Load for `Scripts/bench l4`: a plain TCP member and the clients of an L4 (TLS passthrough)
 * route. Every client connection starts with the same minimal ClientHello (SNI given on the
 * command line), which the proxy routes on and the member skips.
 *
 *   l4load member PORT SNI                accept forever; per connection: read the hello,
 *                                         answer one byte, then read and discard to EOF
 *   l4load stream PORT SNI SECONDS CONNS  CONNS connections sending 256 KiB writes for SECONDS;
 *                                         prints bytes sent (less what was still queued)
 *   l4load cps PORT SNI SECONDS THREADS   connect, hello, wait for the member's byte, close;
 *                                         prints completed connections
 * Loopback only (127.0.0.1). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/sockios.h>
#include <time.h>
#include <unistd.h>

static unsigned char hello[512];
static size_t hello_len;
static int port;
static double seconds;
static volatile int stop;
static long long totals[256];

static void build_hello(const char *sni)
{
	size_t n = strlen(sni), b = 0;
	unsigned char body[400];
	body[b++] = 3; body[b++] = 3;
	memset(body + b, 7, 32); b += 32;
	body[b++] = 0;                                  /* session id */
	body[b++] = 0; body[b++] = 2; body[b++] = 0x13; body[b++] = 0x01;  /* TLS_AES_128_GCM_SHA256 */
	body[b++] = 1; body[b++] = 0;                   /* null compression */
	size_t ext = 9 + n;
	body[b++] = ext >> 8; body[b++] = ext & 0xff;
	body[b++] = 0; body[b++] = 0;                   /* server_name */
	body[b++] = (n + 5) >> 8; body[b++] = (n + 5) & 0xff;
	body[b++] = (n + 3) >> 8; body[b++] = (n + 3) & 0xff;
	body[b++] = 0;
	body[b++] = n >> 8; body[b++] = n & 0xff;
	memcpy(body + b, sni, n); b += n;
	size_t h = 0;
	hello[h++] = 22; hello[h++] = 3; hello[h++] = 1;
	hello[h++] = (b + 4) >> 8; hello[h++] = (b + 4) & 0xff;
	hello[h++] = 1; hello[h++] = 0; hello[h++] = b >> 8; hello[h++] = b & 0xff;
	memcpy(hello + h, body, b);
	hello_len = h + b;
}

static int dial(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) { close(fd); return -1; }
	return fd;
}

static int send_all(int fd, const void *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w <= 0) return -1;
		p = (const char *)p + w; n -= w;
	}
	return 0;
}

static void *member_conn(void *arg)
{
	int fd = (int)(long)arg;
	static __thread char buf[1 << 18];
	size_t seen = 0;
	int answered = 0;
	for (;;) {
		ssize_t r = recv(fd, buf, sizeof(buf), 0);
		if (r <= 0) break;
		seen += r;
		if (!answered && seen >= hello_len) {
			answered = 1;
			if (send(fd, "k", 1, MSG_NOSIGNAL) != 1) break;
		}
	}
	close(fd);
	return NULL;
}

static int member(void)
{
	int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 4096)) { perror("member: listen"); return 1; }
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 1 << 20);
	for (;;) {
		int fd = accept(l, NULL, NULL);
		if (fd < 0) continue;
		pthread_t t;
		if (pthread_create(&t, &attr, member_conn, (void *)(long)fd)) close(fd);
	}
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *stream_conn(void *arg)
{
	long i = (long)arg;
	static char buf[1 << 18];
	int fd = dial();
	if (fd < 0 || send_all(fd, hello, hello_len)) return NULL;
	char k;
	if (recv(fd, &k, 1, 0) != 1) { close(fd); return NULL; }
	long long sent = 0;
	while (!stop) {
		ssize_t w = send(fd, buf, sizeof(buf), MSG_NOSIGNAL);
		if (w <= 0) break;
		sent += w;
	}
	/* Bytes still queued or unacknowledged here did not leave for the proxy. */
	int outq = 0;
	ioctl(fd, SIOCOUTQ, &outq);
	totals[i] = sent - outq;
	close(fd);
	return NULL;
}

static void *cps_thread(void *arg)
{
	long i = (long)arg;
	while (!stop) {
		int fd = dial();
		if (fd < 0) continue;
		char k;
		if (send_all(fd, hello, hello_len) == 0 && recv(fd, &k, 1, 0) == 1) totals[i]++;
		struct linger lg = { 1, 0 };  /* RST: keep TIME_WAIT from exhausting loopback ports */
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(fd);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc >= 4 && !strcmp(argv[1], "member")) {
		port = atoi(argv[2]);
		build_hello(argv[3]);  /* the member only needs its length */
		return member();
	}
	if (argc < 6) { fprintf(stderr, "usage: see the comment at the top of l4load.c\n"); return 2; }
	port = atoi(argv[2]);
	build_hello(argv[3]);
	seconds = atof(argv[4]);
	int n = atoi(argv[5]);
	if (n < 1 || n > 256) return 2;
	void *(*fn)(void *) = !strcmp(argv[1], "stream") ? stream_conn : cps_thread;
	pthread_t t[256];
	for (long i = 0; i < n; i++) pthread_create(&t[i], NULL, fn, (void *)i);
	double start = now();
	while (now() - start < seconds) usleep(10000);
	stop = 1;
	for (int i = 0; i < n; i++) pthread_join(t[i], NULL);
	double wall = now() - start;
	long long total = 0;
	for (int i = 0; i < n; i++) total += totals[i];
	printf("{\"total\": %lld, \"seconds\": %.3f, \"hello_len\": %zu}\n", total, wall, hello_len);
	return 0;
}
