/*
 * server.c - the libmicrohttpd glue.  Each connection has its own thread, so
 * a response held for --latency-ms or a slow fault sleeps there while the
 * server goes on accepting and serving other connections.
 *
 * For each request it takes a dataset reference, counts the request in the
 * rate-limit window, picks a fault and lets the personality build the
 * response.  Then it holds the response if requested, sends it and appends
 * it to the request log.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "fakeidp.h"

/* Seconds in one rate-limit window, as Okta's typical per-minute quota. */
#define RATE_WINDOW_SECONDS 60
/* Seconds before an idle keep-alive connection is closed. */
#define CONNECTION_TIMEOUT_SECONDS 60

struct server {
	struct MHD_Daemon *daemon;
	struct server_options options;
	unsigned short port;
	uint64_t seed;

	/* lock guards the fields below and the fault counters of datasets. */
	pthread_mutex_t lock;
	pthread_cond_t stop_cond;       /* broadcast when stopping */
	bool stopping;
	uint64_t next_number;
	uint64_t served;
	time_t window_start;
	long window_used;
};

/* Returns the personality that handles req. */
static const struct personality *server_personality(const struct server *srv,
						    const struct fake_request *req)
{
	if (srv->options.replay != NULL)
		return &replay_personality;
	if (oauth_path(req->path))
		return &oauth_personality;
	if (graph_path(req->path))
		return &graph_personality;
	return &okta_personality;
}

/* Sets ex->origin from the Host header when it looks like host[:port]. */
static void set_origin(struct fake_exchange *ex, const struct server *srv)
{
	const char *host = request_header(ex->request, "host");
	size_t len = host ? strlen(host) : 0;

	if (len == 0 || len > 255 ||
	    strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") != len)
		snprintf(ex->origin, sizeof(ex->origin), "http://127.0.0.1:%u", srv->port);
	else
		snprintf(ex->origin, sizeof(ex->origin), "http://%s", host);
}

/* Counts one request in the current window.  Locked.  Returns true when over. */
static bool count_request(struct server *srv, const struct dataset_control *control,
			  struct rate_window *rate)
{
	time_t now = time(NULL);

	if (srv->window_start == 0 || now >= srv->window_start + RATE_WINDOW_SECONDS) {
		srv->window_start = now;
		srv->window_used = 0;
	}
	srv->window_used++;
	rate->limit = control->rate_limit;
	rate->remaining = control->rate_limit - srv->window_used;
	if (rate->remaining < 0)
		rate->remaining = 0;
	rate->reset = srv->window_start + RATE_WINDOW_SECONDS;
	return control->rate_limit_enforce && srv->window_used > control->rate_limit;
}

static void respond_plain(struct fake_exchange *ex, unsigned int status, const char *message)
{
	response_release(&ex->response);
	ex->response.status = status;
	ex->response.recorded = true;
	buf_printf(&ex->response.body, "fakeidp: %s\n", message);
	response_add_header(&ex->response, "Content-Type", "text/plain; charset=utf-8");
}

/* Builds ex->response for a request when the dataset is valid. */
static void build_response(struct server *srv, struct fake_exchange *ex)
{
	const struct dataset_control *control = dataset_control(ex->dataset);
	const struct fault *fault;
	bool over;
	int page;

	ex->personality = server_personality(srv, ex->request);
	page = ex->personality->page(ex->request);

	pthread_mutex_lock(&srv->lock);
	over = count_request(srv, control, &ex->rate);
	fault = fault_pick(control->faults, control->fault_count, ex->request, page);
	pthread_mutex_unlock(&srv->lock);

	if (fault != NULL && fault_respond(ex, fault)) {
		/* The fault wrote the whole response. */
	} else if (over) {
		ex->personality->error(ex, 429, NULL, NULL);
	} else {
		ex->personality->handle(ex);
		if (fault != NULL)
			fault_finish(ex, fault);
	}
	ex->personality->decorate(ex);
}

/* Sleeps for ms milliseconds without using CPU; returns early on stop. */
static void server_hold(struct server *srv, long ms)
{
	struct timespec deadline;

	if (ms <= 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += ms / 1000;
	deadline.tv_nsec += (ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}

	pthread_mutex_lock(&srv->lock);
	while (!srv->stopping) {
		if (pthread_cond_timedwait(&srv->stop_cond, &srv->lock, &deadline) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&srv->lock);
}

/*
 * A body that a callback sends: cut off half way by a dropped connection,
 * held half way for stall_ms, or sent without a length (chunked).
 */
struct paced_body {
	struct server *srv;
	char *data;
	size_t len;
	bool abort_midway;
	long stall_ms;
	bool stalled;
};

static ssize_t paced_reader(void *cls, uint64_t pos, char *out, size_t max)
{
	struct paced_body *body = cls;
	size_t half = body->len / 2;
	size_t end = body->abort_midway ? half : body->len;
	size_t n;

	if (body->stall_ms > 0 && !body->stalled && pos >= half) {
		body->stalled = true;
		server_hold(body->srv, body->stall_ms);
	}
	if (pos >= end)
		return body->abort_midway ? MHD_CONTENT_READER_END_WITH_ERROR
					  : MHD_CONTENT_READER_END_OF_STREAM;

	n = end - (size_t)pos;
	if (body->stall_ms > 0 && !body->stalled && pos + n > half)
		n = half - (size_t)pos;
	if (n > max)
		n = max;
	memcpy(out, body->data + pos, n);
	return (ssize_t)n;
}

static void paced_free(void *cls)
{
	struct paced_body *body = cls;

	free(body->data);
	free(body);
}

/* Creates the libmicrohttpd response for the body; takes data over. */
static struct MHD_Response *create_response(struct server *srv, const struct fake_response *resp,
					    char *data, size_t len)
{
	struct paced_body *body;
	struct MHD_Response *mhd;

	if (!resp->abort_midway && !resp->chunked && resp->stall_ms <= 0)
		return MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);

	body = calloc(1, sizeof(*body));
	if (body == NULL) {
		free(data);
		return NULL;
	}
	body->srv = srv;
	body->data = data;
	body->len = len;
	body->abort_midway = resp->abort_midway;
	body->stall_ms = resp->stall_ms;
	mhd = MHD_create_response_from_callback(resp->chunked ? MHD_SIZE_UNKNOWN : len, 4096,
						paced_reader, body, paced_free);
	if (mhd == NULL)
		paced_free(body);
	return mhd;
}

static enum MHD_Result send_response(struct server *srv, struct MHD_Connection *conn,
				     struct fake_exchange *ex)
{
	struct fake_response *resp = &ex->response;
	struct MHD_Response *mhd;
	enum MHD_Result result;
	size_t len;
	char *data;

	if (resp->failed || resp->body.failed)
		respond_plain(ex, 500, "out of memory while building the response");
	data = buf_detach(&resp->body, &len);
	mhd = data ? create_response(srv, resp, data, len) : NULL;
	if (mhd == NULL) {
		fprintf(stderr, "fakeidp: cannot create the response for %s\n", ex->request->uri);
		return MHD_NO;
	}
	for (size_t i = 0; i < resp->header_count; i++) {
		if (MHD_add_response_header(mhd, resp->headers[i].name, resp->headers[i].value) != MHD_YES)
			fprintf(stderr, "fakeidp: header %s: %s was rejected by libmicrohttpd\n",
				resp->headers[i].name, resp->headers[i].value);
	}
	result = MHD_queue_response(conn, resp->status, mhd);
	MHD_destroy_response(mhd);

	pthread_mutex_lock(&srv->lock);
	srv->served++;
	pthread_mutex_unlock(&srv->lock);
	return result;
}

static enum MHD_Result server_respond(struct server *srv, struct MHD_Connection *conn,
				      struct fake_request *req)
{
	struct fake_exchange ex;
	struct dataset *ds;
	enum MHD_Result result;
	char reason[600];

	memset(&ex, 0, sizeof(ex));
	response_init(&ex.response);
	ex.request = req;
	ex.replay = srv->options.replay;
	ex.seed = srv->seed;
	ex.server = srv;
	set_origin(&ex, srv);
	pthread_mutex_lock(&srv->lock);
	ex.number = ++srv->next_number;
	pthread_mutex_unlock(&srv->lock);

	ds = dataset_store_acquire(srv->options.store, reason, sizeof(reason));
	ex.dataset = ds;
	if (req->failed)
		respond_plain(&ex, 500, "out of memory while reading the request");
	else if (ds == NULL)
		respond_plain(&ex, 500, reason);
	else
		build_response(srv, &ex);

	server_hold(srv, srv->options.latency_ms + ex.response.delay_ms);
	result = send_response(srv, conn, &ex);
	reqlog_write(srv->options.log, &ex);
	response_release(&ex.response);
	if (ds != NULL)
		dataset_store_release(srv->options.store, ds);
	return result;
}

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
				      const char *value)
{
	(void)kind;
	request_add_header(cls, key, value);
	return MHD_YES;
}

static enum MHD_Result server_access(void *cls, struct MHD_Connection *conn, const char *url,
				     const char *method, const char *version,
				     const char *upload_data, size_t *upload_data_size,
				     void **con_cls)
{
	struct fake_request *req = *con_cls;

	(void)url;
	(void)version;
	if (req == NULL)
		return MHD_NO;
	if (!req->started) {
		req->started = true;
		request_set_method(req, method);
		MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_header, req);
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		request_append_body(req, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	return server_respond(cls, conn, req);
}

/* Creates the request object as soon as the request line is read. */
static void *server_uri_logger(void *cls, const char *uri, struct MHD_Connection *conn)
{
	(void)cls;
	(void)conn;
	return request_new(uri);
}

static void server_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			     enum MHD_RequestTerminationCode code)
{
	(void)cls;
	(void)conn;
	(void)code;
	request_free(*con_cls);
	*con_cls = NULL;
}

static void server_mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	fputs("fakeidp: libmicrohttpd: ", stderr);
	vfprintf(stderr, fmt, ap);
}

static bool server_init_sync(struct server *srv)
{
	pthread_condattr_t attr;
	bool ok;

	if (pthread_mutex_init(&srv->lock, NULL) != 0)
		return false;
	if (pthread_condattr_init(&attr) != 0)
		goto fail;
	ok = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0 &&
	     pthread_cond_init(&srv->stop_cond, &attr) == 0;
	pthread_condattr_destroy(&attr);
	if (ok)
		return true;
fail:
	pthread_mutex_destroy(&srv->lock);
	return false;
}

static struct MHD_Daemon *start_daemon(struct server *srv)
{
	struct sockaddr_in addr;

	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_port = htons(srv->options.port);
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

	return MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
				MHD_USE_POLL | MHD_USE_ERROR_LOG,
				srv->options.port, NULL, NULL, server_access, srv,
				MHD_OPTION_EXTERNAL_LOGGER, server_mhd_log, srv,
				MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
				MHD_OPTION_URI_LOG_CALLBACK, server_uri_logger, srv,
				MHD_OPTION_NOTIFY_COMPLETED, server_completed, srv,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)CONNECTION_TIMEOUT_SECONDS,
				MHD_OPTION_END);
}

struct server *server_start(const struct server_options *options)
{
	struct server *srv = calloc(1, sizeof(*srv));
	const union MHD_DaemonInfo *info;

	if (srv == NULL || !server_init_sync(srv)) {
		fprintf(stderr, "fakeidp: out of memory\n");
		free(srv);
		return NULL;
	}
	srv->options = *options;
	srv->seed = ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid();
	srv->daemon = start_daemon(srv);
	if (srv->daemon == NULL) {
		fprintf(stderr, "fakeidp: cannot listen on 127.0.0.1:%u: %s\n", options->port,
			strerror(errno));
		server_stop(srv);
		return NULL;
	}
	info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
	srv->port = info ? info->port : options->port;
	return srv;
}

unsigned short server_port(const struct server *srv)
{
	return srv->port;
}

struct fault *server_pick_fault(struct fake_exchange *ex, const struct fake_request *req)
{
	const struct dataset_control *control = dataset_control(ex->dataset);
	int page = ex->personality->page(req);
	struct fault *fault;

	pthread_mutex_lock(&ex->server->lock);
	fault = fault_pick(control->faults, control->fault_count, req, page);
	pthread_mutex_unlock(&ex->server->lock);
	return fault;
}

uint64_t server_stop(struct server *srv)
{
	uint64_t served;

	if (srv == NULL)
		return 0;
	pthread_mutex_lock(&srv->lock);
	srv->stopping = true;
	pthread_cond_broadcast(&srv->stop_cond);
	pthread_mutex_unlock(&srv->lock);
	if (srv->daemon != NULL)
		MHD_stop_daemon(srv->daemon);
	served = srv->served;
	pthread_cond_destroy(&srv->stop_cond);
	pthread_mutex_destroy(&srv->lock);
	free(srv);
	return served;
}
