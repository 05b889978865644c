/*
 * hsbench: TLS connections per second for `deno task bench https` (compiled at bench time with
 * gcc -O2 ... -lssl -lcrypto -lpthread). Each of THREADS blocking threads loops until SECONDS
 * have passed: TCP connect, TLS handshake with SNI, "GET PATH" with Connection: close, read to
 * the end, close. Mode "new" never offers a session (every handshake is a full one); mode
 * "resume" offers the thread's previous session. Prints one line:
 *   conns=N errors=E resumed=R p50_us=X p99_us=Y
 * The latency is the whole connection: connect, handshake, request and response.
 *
 * usage: hsbench HOST PORT SNI PATH THREADS SECONDS new|resume
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SAMPLES 400000

static const char *host, *sni, *path;
static int port, seconds, resume;
static SSL_CTX *ctx;
static double deadline;

struct result {
  long conns, errors, resumed, n;
  unsigned int *lat;
};

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int one(SSL_SESSION **session, long *resumed) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  struct sockaddr_in addr = {0};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  inet_pton(AF_INET, host, &addr.sin_addr);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  SSL *ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  SSL_set_tlsext_host_name(ssl, sni);
  if (resume && *session) SSL_set_session(ssl, *session);
  int ok = -1;
  if (SSL_connect(ssl) == 1) {
    if (SSL_session_reused(ssl)) (*resumed)++;
    char req[512];
    int len = snprintf(req, sizeof req,
                       "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", path, sni);
    if (SSL_write(ssl, req, len) == len) {
      char buf[16384];
      int total = 0, n, status_ok = 0;
      while ((n = SSL_read(ssl, buf, sizeof buf)) > 0) {
        if (total == 0 && n >= 12 && memcmp(buf, "HTTP/1.1 200", 12) == 0) status_ok = 1;
        total += n;
      }
      if (status_ok) ok = 0;
    }
    /* A connection that ends without close_notify leaves an unresumable session. */
    SSL_shutdown(ssl);
    if (resume) {
      SSL_SESSION *next = SSL_get1_session(ssl);
      if (next && SSL_SESSION_is_resumable(next)) {
        if (*session) SSL_SESSION_free(*session);
        *session = next;
      } else if (next) {
        SSL_SESSION_free(next);
      }
    }
  }
  SSL_free(ssl);
  close(fd);
  return ok;
}

static void *worker(void *arg) {
  struct result *r = arg;
  SSL_SESSION *session = NULL;
  while (now() < deadline) {
    double t0 = now();
    if (one(&session, &r->resumed) == 0) {
      r->conns++;
      if (r->n < MAX_SAMPLES) r->lat[r->n++] = (unsigned int)((now() - t0) * 1e6);
    } else {
      r->errors++;
    }
  }
  if (session) SSL_SESSION_free(session);
  return NULL;
}

static int cmp(const void *a, const void *b) {
  unsigned int x = *(const unsigned int *)a, y = *(const unsigned int *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  if (argc != 8) {
    fprintf(stderr, "usage: hsbench HOST PORT SNI PATH THREADS SECONDS new|resume\n");
    return 2;
  }
  host = argv[1];
  port = atoi(argv[2]);
  sni = argv[3];
  path = argv[4];
  int threads = atoi(argv[5]);
  seconds = atoi(argv[6]);
  resume = strcmp(argv[7], "resume") == 0;
  ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
  SSL_CTX_set_session_cache_mode(ctx, resume ? SSL_SESS_CACHE_CLIENT : SSL_SESS_CACHE_OFF);
  if (!resume) SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
  pthread_t *tids = calloc(threads, sizeof *tids);
  struct result *results = calloc(threads, sizeof *results);
  deadline = now() + seconds;
  for (int i = 0; i < threads; i++) {
    results[i].lat = malloc(sizeof(unsigned int) * MAX_SAMPLES);
    pthread_create(&tids[i], NULL, worker, &results[i]);
  }
  long conns = 0, errors = 0, resumed = 0, n = 0;
  for (int i = 0; i < threads; i++) {
    pthread_join(tids[i], NULL);
    conns += results[i].conns;
    errors += results[i].errors;
    resumed += results[i].resumed;
    n += results[i].n;
  }
  unsigned int *all = malloc(sizeof(unsigned int) * (n > 0 ? n : 1));
  long k = 0;
  for (int i = 0; i < threads; i++) {
    memcpy(all + k, results[i].lat, sizeof(unsigned int) * results[i].n);
    k += results[i].n;
  }
  qsort(all, n, sizeof *all, cmp);
  unsigned int p50 = n ? all[n / 2] : 0, p99 = n ? all[(long)(n * 0.99)] : 0;
  printf("conns=%ld errors=%ld resumed=%ld p50_us=%u p99_us=%u\n", conns, errors, resumed, p50,
         p99);
  return 0;
}
