/*
 * server.c - the libuv side of community-server: listening, connections,
 * keep-alive and pipelining, timeouts, backpressure, the worker pool and
 * graceful shutdown. Request semantics live in app.c.
 *
 * A connection handles one request at a time. When a request is complete
 * the connection stops reading (uv_read_stop) until its response has been
 * written: a client cannot queue unbounded work or make the server buffer
 * unbounded input, and responses to pipelined requests go out in order.
 * Bytes that arrived after the request (the next pipelined ones) wait in
 * the connection's input buffer.
 *
 *   IDLE --first byte--> READING --complete--> WORKING (uv_queue_work)
 *     ^                                         |
 *     +----------- WRITING <--------------------+
 *   any state --error/close/timeout--> LINGER (FIN sent, input drained) --> closed
 */
#include "server.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "jlog.h"

enum { C_IDLE, C_READING, C_WORKING, C_WRITING, C_LINGER };

#define READ_CHUNK 65536
#define LINGER_MS 2000

typedef struct server server;

/* Open connections of one peer address (the per-client cap). */
typedef struct peer_count {
    struct peer_count *next;
    int n;
    char key[INET6_ADDRSTRLEN + 4];
} peer_count;

#define PEER_BUCKETS 1024

typedef struct conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_write_t wreq;
    uv_write_t creq; /* "100 Continue" */
    uv_shutdown_t sreq;
    uv_work_t work;
    server *srv;
    cmh_parser *parser;
    char *in; /* unparsed bytes after a complete request (pipelining) */
    size_t in_len;
    cmh_exchange *ex;
    cmh_buf whead;
    int state;
    int handles; /* open libuv handles (tcp, timer) */
    bool reading, closing, work_pending, close_after;
    bool pw_slot;         /* holds one of the --password-workers slots */
    struct conn *pw_next; /* in server.pw_queue */
    char peer[64];
    peer_count *pc; /* this connection's entry in server.peers */
    struct conn *prev, *next;
    /* Server-sent events of a streamed exchange: the worker queues them
     * (sse_q, under sse_mu) and wakes the loop (sse_async), which writes
     * them in order, the head first. A client that goes away (EOF, a
     * failed write) sets sse_gone: the next event stops the operation. */
    uv_async_t sse_async;
    uv_write_t sse_wreq;
    uv_mutex_t sse_mu;
    cmh_buf sse_q, sse_w; /* queued by the worker / being written */
    bool sse_open;        /* sse_async and sse_mu exist */
    bool sse_started;     /* the head was queued */
    bool sse_gone;        /* under sse_mu */
    bool sse_writing, sse_ended;
} conn;

struct server {
    uv_loop_t *loop;
    uv_tcp_t listener;
    uv_signal_t sigterm, sigint;
    uv_timer_t deadline;
    const cmh_config *cfg;
    cmh_app *app;
    cmh_limits limits;
    conn *conns;
    int n_conns;
    peer_count *peers[PEER_BUCKETS];
    int pending_work;
    /* argon2id work: at most cfg->password_workers in the pool at once;
     * the others wait here (FIFO) without holding a worker thread */
    int pw_running;
    conn *pw_head, *pw_tail;
    bool draining, stopped;
    char rbuf[READ_CHUNK];
    bool rbuf_busy;
};

static void close_conn(conn *c);
static void consume(conn *c, const char *data, size_t len);
static void respond(conn *c);
static bool sse_after_work(conn *c);

/* ---- helpers ------------------------------------------------------------ */

/* Every state change goes through here so that the per-state connection
 * gauges stay exact (C_* order matches cmh_gauges.conn_state). */
static void set_state(conn *c, int state)
{
    cmh_gauges *g = cmh_app_gauges(c->srv->app);
    g->conn_state[c->state]--;
    g->conn_state[state]++;
    c->state = state;
}

static void on_timer(uv_timer_t *t);

static void set_timer(conn *c, int ms)
{
    if (c->closing)
        return;
    (void)uv_timer_start(&c->timer, on_timer, (uint64_t)(ms > 0 ? ms : 1), 0);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    server *srv = ((conn *)h->data)->srv;
    /* One shared buffer: read callbacks run one at a time on the loop and
     * copy what they keep. */
    if (srv->rbuf_busy) {
        buf->base = NULL;
        buf->len = 0;
        return;
    }
    srv->rbuf_busy = true;
    buf->base = srv->rbuf;
    buf->len = sizeof srv->rbuf;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void start_reading(conn *c)
{
    if (!c->reading && !c->closing) {
        if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, on_read) == 0)
            c->reading = true;
    }
}

static void stop_reading(conn *c)
{
    if (c->reading) {
        (void)uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    }
}

static void check_drained(server *srv);

/* The per-client key of a peer: the IPv4 address, or the IPv6 address's
 * /64 (one host usually holds a whole /64). */
static void peer_key(const struct sockaddr_storage *ss, char *out, size_t cap)
{
    out[0] = '\0';
    if (ss->ss_family == AF_INET) {
        (void)uv_ip4_name((const struct sockaddr_in *)ss, out, cap);
    } else if (ss->ss_family == AF_INET6) {
        struct sockaddr_in6 a = *(const struct sockaddr_in6 *)ss;
        static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        bool mapped = memcmp(a.sin6_addr.s6_addr, v4mapped, sizeof v4mapped) == 0;
        if (!mapped)
            memset(a.sin6_addr.s6_addr + 8, 0, 8);
        (void)uv_ip6_name(&a, out, cap - 4);
        if (!mapped)
            memcpy(out + strlen(out), "/64", sizeof "/64"); /* room: cap - 4 above */
    }
}

static unsigned peer_bucket(const char *key)
{
    return (unsigned)(cmh_fnv1a(CMH_FNV_SEED, key, strlen(key)) % PEER_BUCKETS);
}

/* Count one more connection for `key`; NULL when the peer is at `cap`
 * (0 = no cap). */
static peer_count *peer_take(server *srv, const char *key, int cap)
{
    peer_count **head = &srv->peers[peer_bucket(key)], *pc = *head;
    while (pc && strcmp(pc->key, key) != 0)
        pc = pc->next;
    if (pc && cap > 0 && pc->n >= cap)
        return NULL;
    if (!pc) {
        pc = cmh_xcalloc(1, sizeof *pc);
        (void)snprintf(pc->key, sizeof pc->key, "%s", key);
        pc->next = *head;
        *head = pc;
    }
    pc->n++;
    return pc;
}

static void peer_release(server *srv, peer_count *pc)
{
    if (!pc || --pc->n > 0)
        return;
    for (peer_count **pp = &srv->peers[peer_bucket(pc->key)]; *pp; pp = &(*pp)->next)
        if (*pp == pc) {
            *pp = pc->next;
            break;
        }
    free(pc);
}

static void maybe_free(conn *c)
{
    if (c->handles > 0 || c->work_pending)
        return;
    server *srv = c->srv;
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    srv->n_conns--;
    peer_release(srv, c->pc);
    cmh_app_gauges(srv->app)->connections--;
    cmh_app_gauges(srv->app)->conn_state[c->state]--;
    cmh_parser_free(c->parser);
    free(c->in);
    cmh_buf_free(&c->whead);
    cmh_buf_free(&c->sse_q);
    cmh_buf_free(&c->sse_w);
    if (c->sse_open)
        uv_mutex_destroy(&c->sse_mu);
    cmh_exchange_free(c->ex);
    free(c);
    check_drained(srv);
}

static void on_close(uv_handle_t *h)
{
    conn *c = h->data;
    c->handles--;
    maybe_free(c);
}

static void close_conn(conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    stop_reading(c);
    (void)uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->tcp, on_close);
    uv_close((uv_handle_t *)&c->timer, on_close);
}

/* Half-close: send FIN after the response, then read and drop whatever
 * the client still sends, until EOF or LINGER_MS. Closing at once with
 * unread input makes the kernel send RST, which can destroy the response
 * before the client reads it. */
static void on_shutdown(uv_shutdown_t *req, int status)
{
    conn *c = req->data;
    if (status < 0 || c->closing) {
        close_conn(c);
        return;
    }
    start_reading(c);
    set_timer(c, LINGER_MS);
}

static void linger_close(conn *c)
{
    if (c->closing || c->state == C_LINGER)
        return;
    set_state(c, C_LINGER);
    stop_reading(c);
    set_timer(c, LINGER_MS);
    c->sreq.data = c;
    if (uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, on_shutdown) != 0)
        close_conn(c);
}

/* ---- timers -------------------------------------------------------------- */

static void on_timer(uv_timer_t *t)
{
    conn *c = t->data;
    switch (c->state) {
        case C_IDLE:
        case C_WRITING:
        case C_LINGER:
            close_conn(c);
            break;
        case C_READING: {
            stop_reading(c);
            c->ex = cmh_app_reject(c->srv->app, 408, "the request was not received in time",
                                   c->peer, cmh_parser_started(c->parser));
            respond(c);
            break;
        }
        default:
            break;
    }
}

/* ---- work ---------------------------------------------------------------- */

static void work_cb(uv_work_t *w)
{
    conn *c = w->data;
    if (c->ex->posting)
        cmh_app_post_work(c->ex);
    else
        cmh_app_work(c->ex);
}

static void after_work_cb(uv_work_t *w, int status);

/* Hand c's exchange to the worker pool (work_pending is already set). */
static void start_work(conn *c)
{
    server *srv = c->srv;
    int rc = uv_queue_work(srv->loop, &c->work, work_cb, after_work_cb);
    if (rc) {
        c->work_pending = false;
        srv->pending_work--;
        if (c->pw_slot) {
            c->pw_slot = false;
            srv->pw_running--;
        }
        cmh_log(CMH_LOG_ERROR, "uv_queue_work failed", "%s", uv_strerror(rc));
        close_conn(c);
        maybe_free(c);
    }
}

/* A password slot was freed: start the first waiting exchange. */
static void pw_release(server *srv)
{
    srv->pw_running--;
    conn *n = srv->pw_head;
    if (!n)
        return;
    srv->pw_head = n->pw_next;
    if (!srv->pw_head)
        srv->pw_tail = NULL;
    n->pw_next = NULL;
    n->pw_slot = true;
    srv->pw_running++;
    start_work(n);
}

static void after_work_cb(uv_work_t *w, int status)
{
    (void)status; /* work is never cancelled */
    conn *c = w->data;
    server *srv = c->srv;
    srv->pending_work--;
    c->work_pending = false;
    if (c->pw_slot) {
        c->pw_slot = false;
        pw_release(srv);
    }
    if (c->ex->stream && !c->ex->posting && sse_after_work(c))
        return;
    if (!c->ex->posting) {
        cmh_app_after_work(c->ex);
        if (c->ex->post_work) {
            /* the Idempotency-Key record is written before the response
             * leaves (also when the client went away) */
            c->ex->posting = true;
            c->work_pending = true;
            srv->pending_work++;
            int rc = uv_queue_work(srv->loop, &c->work, work_cb, after_work_cb);
            if (rc == 0)
                return;
            c->work_pending = false;
            srv->pending_work--;
            cmh_log(CMH_LOG_ERROR, "uv_queue_work failed", "%s", uv_strerror(rc));
        }
    }
    if (c->closing) {
        /* The client went away (or shutdown forced it): the operation ran
         * and committed; only its response is lost. */
        cmh_app_finish(c->ex);
        cmh_exchange_free(c->ex);
        c->ex = NULL;
        maybe_free(c);
        return;
    }
    respond(c);
}

/* ---- server-sent events -------------------------------------------------- */

/* Worker thread: one event of the operation (cm_stream_cb). */
static int sse_on_event(const char *event, const char *data, size_t len, void *payload)
{
    conn *c = payload;
    uv_mutex_lock(&c->sse_mu);
    bool gone = c->sse_gone;
    if (!gone) {
        if (!c->sse_started) {
            c->sse_started = true;
            cmh_app_stream_head(c->ex, &c->sse_q);
        }
        cmh_app_stream_event(&c->sse_q, event, data, len);
    }
    uv_mutex_unlock(&c->sse_mu);
    if (!gone)
        (void)uv_async_send(&c->sse_async);
    return gone ? 1 : 0;
}

/* Loop thread: the client of a stream went away (once counted). */
static void sse_gone(conn *c)
{
    uv_mutex_lock(&c->sse_mu);
    bool was = c->sse_gone;
    c->sse_gone = true;
    uv_mutex_unlock(&c->sse_mu);
    if (!was && !c->sse_ended)
        cmh_app_gauges(c->srv->app)->streams_abandoned_total++;
}

static void sse_flush(conn *c);

static void on_sse_write(uv_write_t *req, int status)
{
    conn *c = req->data;
    c->sse_writing = false;
    c->sse_w.len = 0;
    if (status < 0 || c->closing) {
        sse_gone(c);
        close_conn(c);
        if (c->sse_ended) {
            cmh_exchange_free(c->ex);
            c->ex = NULL;
        }
        return;
    }
    sse_flush(c);
}

/* Loop thread: write what the worker queued; after the last event, close. */
static void sse_flush(conn *c)
{
    if (c->sse_writing || c->closing)
        return;
    uv_mutex_lock(&c->sse_mu);
    cmh_buf t = c->sse_w;
    c->sse_w = c->sse_q;
    c->sse_q = t;
    uv_mutex_unlock(&c->sse_mu);
    if (c->sse_w.len == 0) {
        if (c->sse_ended) {
            /* the whole stream is out: the connection ends it */
            cmh_exchange_free(c->ex);
            c->ex = NULL;
            linger_close(c);
        }
        return;
    }
    uv_buf_t b = uv_buf_init(c->sse_w.p, (unsigned)c->sse_w.len);
    c->sse_wreq.data = c;
    c->sse_writing = true;
    if (uv_write(&c->sse_wreq, (uv_stream_t *)&c->tcp, &b, 1, on_sse_write) != 0) {
        c->sse_writing = false;
        sse_gone(c);
        close_conn(c);
    }
}

static void on_sse_async(uv_async_t *a)
{
    sse_flush(a->data);
}

static void on_sse_closed(uv_handle_t *h)
{
    conn *c = h->data;
    c->handles--;
    maybe_free(c);
}

/* Before the work of a streamed exchange (loop thread). */
static void sse_begin(conn *c)
{
    if (!c->sse_open) {
        uv_mutex_init(&c->sse_mu);
        c->sse_open = true;
    }
    (void)uv_async_init(c->srv->loop, &c->sse_async, on_sse_async);
    c->sse_async.data = c;
    c->handles++;
    c->sse_started = c->sse_gone = c->sse_writing = c->sse_ended = false;
    cmh_app_gauges(c->srv->app)->streams_total++;
    c->ex->on_event = sse_on_event;
    c->ex->on_event_payload = c;
    /* read on, to notice a client that goes away (what it sends is dropped) */
    start_reading(c);
}

/* After the work (loop thread): the async handle closes (the worker is
 * done with it). True when the exchange went out as a stream, which then
 * ends with its last event; false when no event was sent (a failure
 * before the first one): then it is answered as any request. */
static bool sse_after_work(conn *c)
{
    c->sse_async.data = c;
    uv_close((uv_handle_t *)&c->sse_async, on_sse_closed);
    stop_reading(c);
    if (!c->sse_started) {
        c->ex->resp.close = true; /* what the client sent meanwhile was dropped */
        return false;
    }
    cmh_exchange *ex = c->ex;
    uv_mutex_lock(&c->sse_mu);
    cmh_app_stream_end(ex, &c->sse_q);
    uv_mutex_unlock(&c->sse_mu);
    cmh_app_finish(ex);
    c->sse_ended = true;
    if (c->closing) {
        cmh_exchange_free(c->ex);
        c->ex = NULL;
        maybe_free(c);
        return true;
    }
    set_state(c, C_WRITING);
    set_timer(c, c->srv->cfg->write_timeout_ms);
    sse_flush(c);
    return true;
}

static void dispatch(conn *c, cmh_request *req)
{
    server *srv = c->srv;
    (void)snprintf(req->peer, sizeof req->peer, "%s", c->peer);
    c->ex = cmh_app_begin(srv->app, req);
    if (!c->ex->needs_work) {
        respond(c);
        return;
    }
    set_state(c, C_WORKING);
    (void)uv_timer_stop(&c->timer);
    if (c->ex->stream)
        sse_begin(c);
    c->work.data = c;
    c->work_pending = true;
    srv->pending_work++;
    if (cmh_app_password_work(c->ex)) {
        if (srv->pw_running >= srv->cfg->password_workers) {
            /* wait in line; the connection reads nothing meanwhile */
            if (srv->pw_tail)
                srv->pw_tail->pw_next = c;
            else
                srv->pw_head = c;
            srv->pw_tail = c;
            return;
        }
        c->pw_slot = true;
        srv->pw_running++;
    }
    start_work(c);
}

/* ---- writing ------------------------------------------------------------- */

static void on_write(uv_write_t *req, int status)
{
    conn *c = req->data;
    cmh_exchange_free(c->ex);
    c->ex = NULL;
    if (status < 0 || c->closing) {
        close_conn(c);
        return;
    }
    if (c->close_after || c->srv->draining) {
        linger_close(c);
        return;
    }
    set_state(c, C_IDLE);
    if (c->in_len) {
        /* the next pipelined request is already here */
        char *buf = c->in;
        size_t n = c->in_len;
        c->in = NULL;
        c->in_len = 0;
        consume(c, buf, n);
        free(buf);
        return;
    }
    start_reading(c);
    set_timer(c, c->srv->cfg->idle_timeout_ms);
}

static void respond(conn *c)
{
    cmh_exchange *ex = c->ex;
    if (c->srv->draining)
        ex->resp.close = true;
    cmh_app_finish(ex);
    c->close_after = ex->resp.close;
    c->whead.len = 0;
    cmh_app_write_head(ex, &c->whead);
    uv_buf_t bufs[2] = {
        uv_buf_init(c->whead.p, (unsigned)c->whead.len),
        uv_buf_init(ex->resp.body, (unsigned)(ex->resp.head ? 0 : ex->resp.body_len)),
    };
    unsigned nbufs = bufs[1].len ? 2 : 1;
    set_state(c, C_WRITING);
    set_timer(c, c->srv->cfg->write_timeout_ms);
    c->wreq.data = c;
    if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, bufs, nbufs, on_write) != 0) {
        cmh_exchange_free(c->ex);
        c->ex = NULL;
        close_conn(c);
    }
}

static void on_continue_written(uv_write_t *req, int status)
{
    (void)req;
    (void)status;
}

/* ---- reading -------------------------------------------------------------- */

/* Parse bytes; keeps what follows a complete request for later. */
static void consume(conn *c, const char *data, size_t len)
{
    size_t used = 0;
    int r = cmh_parser_feed(c->parser, data, len, &used);
    if (r == CMH_P_MORE) {
        if (cmh_parser_take_continue(c->parser)) {
            static char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
            uv_buf_t b = uv_buf_init(cont, sizeof cont - 1);
            c->creq.data = c;
            (void)uv_write(&c->creq, (uv_stream_t *)&c->tcp, &b, 1, on_continue_written);
        }
        if (cmh_parser_in_message(c->parser)) {
            if (c->state != C_READING) {
                set_state(c, C_READING);
                set_timer(c, c->srv->cfg->read_timeout_ms);
            }
        } else if (c->state != C_IDLE) {
            set_state(c, C_IDLE);
            set_timer(c, c->srv->cfg->idle_timeout_ms);
        }
        start_reading(c);
        return;
    }
    stop_reading(c);
    if (r == CMH_P_DONE) {
        if (used < len) {
            c->in = cmh_xmalloc(len - used);
            memcpy(c->in, data + used, len - used);
            c->in_len = len - used;
        }
        dispatch(c, cmh_parser_take(c->parser));
        return;
    }
    c->ex = cmh_app_reject(c->srv->app, cmh_parser_status(c->parser), cmh_parser_reason(c->parser),
                           c->peer, cmh_parser_started(c->parser));
    respond(c);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    conn *c = s->data;
    server *srv = c->srv;
    if (buf->base == srv->rbuf)
        srv->rbuf_busy = false;
    if (nread == 0)
        return;
    if (nread < 0) { /* EOF or error: nothing is in progress while reading */
        if (c->state == C_WORKING && c->ex && c->ex->stream)
            sse_gone(c); /* ... but a stream: its next event stops it */
        close_conn(c);
        return;
    }
    if (c->state == C_LINGER)
        return; /* drop */
    if (c->state == C_WORKING && c->ex && c->ex->stream)
        return; /* a streamed answer: the connection closes after it */
    consume(c, buf->base, (size_t)nread);
}

/* ---- accepting ------------------------------------------------------------- */

static void free_handle(uv_handle_t *h)
{
    free(h);
}

static void on_connection(uv_stream_t *l, int status)
{
    server *srv = l->data;
    if (status < 0) {
        cmh_log(CMH_LOG_WARN, "accept failed", "%s", uv_strerror(status));
        return;
    }
    conn *c = cmh_xcalloc(1, sizeof *c);
    c->srv = srv;
    (void)uv_tcp_init(srv->loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(l, (uv_stream_t *)&c->tcp) != 0) {
        uv_close((uv_handle_t *)&c->tcp, free_handle);
        return;
    }
    struct sockaddr_storage ss;
    int sl = sizeof ss;
    char key[INET6_ADDRSTRLEN + 4] = "";
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET6)
            (void)uv_ip6_name((struct sockaddr_in6 *)&ss, c->peer, sizeof c->peer);
        else
            (void)uv_ip4_name((struct sockaddr_in *)&ss, c->peer, sizeof c->peer);
        peer_key(&ss, key, sizeof key);
    }
    /* Over a limit: refuse by closing (the tcp handle is the first member,
     * so free_handle frees the conn). The per-client cap keeps one client
     * from holding every slot of --max-connections. */
    cmh_gauges *g = cmh_app_gauges(srv->app);
    if (srv->draining || srv->n_conns >= srv->cfg->max_connections) {
        g->refused_total[0] += !srv->draining;
        uv_close((uv_handle_t *)&c->tcp, free_handle);
        return;
    }
    c->pc = peer_take(srv, key, srv->cfg->max_conn_per_client);
    if (!c->pc) {
        g->refused_total[1]++;
        uv_close((uv_handle_t *)&c->tcp, free_handle);
        return;
    }
    (void)uv_tcp_nodelay(&c->tcp, 1);
    (void)uv_timer_init(srv->loop, &c->timer);
    c->timer.data = c;
    c->handles = 2;
    c->parser = cmh_parser_new(&srv->limits);
    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
    srv->n_conns++;
    g->connections++;
    g->connections_total++;
    c->state = C_IDLE;
    g->conn_state[C_IDLE]++;
    start_reading(c);
    /* the first request must begin within the read timeout */
    set_timer(c, srv->cfg->read_timeout_ms);
}

/* ---- shutdown ------------------------------------------------------------- */

static void stop_loop_handles(server *srv)
{
    if (srv->stopped)
        return;
    srv->stopped = true;
    uv_close((uv_handle_t *)&srv->sigterm, NULL);
    uv_close((uv_handle_t *)&srv->sigint, NULL);
    uv_close((uv_handle_t *)&srv->deadline, NULL);
}

static void check_drained(server *srv)
{
    if (srv->draining && srv->n_conns == 0 && srv->pending_work == 0)
        stop_loop_handles(srv);
}

static void force_close_all(server *srv)
{
    int n = 0;
    for (conn *c = srv->conns; c; c = c->next) {
        n += !c->closing;
        close_conn(c);
    }
    if (n)
        cmh_log(CMH_LOG_WARN, "drain deadline reached", "closed %d connections", n);
}

static void on_deadline(uv_timer_t *t)
{
    force_close_all(t->data);
}

static void on_signal(uv_signal_t *h, int signum)
{
    server *srv = h->data;
    if (srv->draining) {
        cmh_log(CMH_LOG_WARN, "second signal: closing every connection now", NULL);
        force_close_all(srv);
        return;
    }
    srv->draining = true;
    cmh_app_set_draining(srv->app, true);
    cmh_log(CMH_LOG_INFO, "shutting down",
            "signal %d: no new connections; %d open, %d in "
            "flight; deadline %d ms",
            signum, srv->n_conns, srv->pending_work, srv->cfg->shutdown_timeout_ms);
    uv_close((uv_handle_t *)&srv->listener, NULL);
    for (conn *c = srv->conns, *next; c; c = next) {
        next = c->next;
        /* idle keep-alive connections close now; the others after their
         * current response (which says "Connection: close") */
        if (c->state == C_IDLE && !cmh_parser_in_message(c->parser) && !c->in_len)
            close_conn(c);
    }
    (void)uv_timer_start(&srv->deadline, on_deadline, (uint64_t)srv->cfg->shutdown_timeout_ms, 0);
    check_drained(srv);
}

/* ---- entry point ---------------------------------------------------------- */

int cmh_server_run(const cmh_config *cfg, cmh_app *app)
{
    server *srv = cmh_xcalloc(1, sizeof *srv);
    srv->cfg = cfg;
    srv->app = app;
    srv->limits = (cmh_limits){cfg->max_header, cfg->max_headers, cfg->max_body, cfg->max_upload,
                               "/v1/uploads/"};
    srv->loop = uv_default_loop();

    struct sockaddr_storage addr;
    int rc = strchr(cfg->host, ':')
                 ? uv_ip6_addr(cfg->host, cfg->port, (struct sockaddr_in6 *)&addr)
                 : uv_ip4_addr(cfg->host, cfg->port, (struct sockaddr_in *)&addr);
    if (rc) {
        cmh_log(CMH_LOG_ERROR, "bad listen address", "%s: %s", cfg->host, uv_strerror(rc));
        free(srv);
        return 1;
    }
    (void)uv_tcp_init(srv->loop, &srv->listener);
    srv->listener.data = srv;
    rc = uv_tcp_bind(&srv->listener, (struct sockaddr *)&addr, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&srv->listener, 1024, on_connection);
    if (rc) {
        cmh_log(CMH_LOG_ERROR, "cannot listen", "%s:%d: %s", cfg->host, cfg->port, uv_strerror(rc));
        uv_close((uv_handle_t *)&srv->listener, NULL);
        (void)uv_run(srv->loop, UV_RUN_DEFAULT);
        free(srv);
        return 1;
    }
    struct sockaddr_storage bound;
    int bl = sizeof bound;
    int port = cfg->port;
    if (uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&bound, &bl) == 0)
        port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                 : ((struct sockaddr_in *)&bound)->sin_port);
    (void)uv_signal_init(srv->loop, &srv->sigterm);
    (void)uv_signal_init(srv->loop, &srv->sigint);
    srv->sigterm.data = srv->sigint.data = srv;
    (void)uv_signal_start(&srv->sigterm, on_signal, SIGTERM);
    (void)uv_signal_start(&srv->sigint, on_signal, SIGINT);
    (void)uv_timer_init(srv->loop, &srv->deadline);
    srv->deadline.data = srv;

    char url[160];
    (void)snprintf(url, sizeof url, strchr(cfg->host, ':') ? "http://[%s]:%d" : "http://%s:%d",
                   cfg->host, port);
    if (cmh_log_enabled(CMH_LOG_INFO)) {
        cmh_buf b = {0};
        cmh_log_begin(&b, CMH_LOG_INFO, "listening");
        cmh_log_str(&b, "url", url);
        cmh_log_int(&b, "workers", cfg->workers);
        cmh_log_int(&b, "pool_size", cfg->pool_size);
        cmh_log_int(&b, "password_workers", cfg->password_workers);
        cmh_log_str(&b, "version", cm_version_string());
        cmh_log_end(&b);
    }
    (void)uv_run(srv->loop, UV_RUN_DEFAULT);
    cmh_log(CMH_LOG_INFO, "stopped", "drained cleanly");
    rc = uv_loop_close(srv->loop);
    if (rc)
        cmh_log(CMH_LOG_WARN, "loop not closed cleanly", "%s", uv_strerror(rc));
    free(srv);
    return 0;
}
