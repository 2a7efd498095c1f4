/*
 * http.c - the libcurl client and its retry loop.
 *
 * One easy handle per client keeps the connection and TLS session alive
 * across pages.  Every wait (retries and rate-limit pacing) is taken from
 * one budget per client, so a run that keeps failing ends in bounded time.
 * Request headers carry credentials: they are never logged and are wiped
 * before their memory is freed.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "http.h"
#include "log.h"
#include "logline.h"
#include "progress.h"
#include "stop.h"

#define DEFAULT_MAX_BODY ((size_t)64 * 1024 * 1024)
#define DEFAULT_TIMEOUT 30L
#define MAX_CONNECT_TIMEOUT 30L

/* Caps on the response headers kept for one response. */
#define MAX_HEADER_COUNT 1000
#define MAX_HEADER_BYTES ((size_t)1024 * 1024)

/* A URL is cut to this many bytes in log lines. */
#define LOG_URL_MAX 512

/*
 * Maximum number of clients that share one budget: a reader's own client,
 * its token client and its siblings.
 */
#define SHARED_CLIENTS_MAX 8

/*
 * Maximum pause, in seconds, between two turns of the siblings' transfers
 * while a client waits for its own transfer or sleeps before a retry.
 */
#define SIBLING_TURN_SECONDS 0.01

struct pending;

/* The waiting of a client and its siblings: one retry budget and one rate-limit pause. */
struct http_budget {
	double waited;          /* seconds spent waiting to retry */
	double pace_pending;    /* pause to take before the next request */
	double pace_reset;      /* seconds until the limit resets, when pace_pending is cut */
	const char *pace_cut_by; /* the setting that cut pace_pending */
	long long pace_remaining;
	long long pace_limit;   /* -1 when the server sent none */
	struct http_client *clients[SHARED_CLIENTS_MAX]; /* the clients that share it */
	size_t client_count;
};

struct http_client {
	CURL *curl;
	CURLM *multi;           /* runs every transfer, so one connection cache serves all */
	struct pending *pending; /* started by http_get_start(), not collected yet */
	struct http_options options;
	char *ca_file;
	char *proxy;
	char user_agent[128];
	char error_buffer[CURL_ERROR_SIZE];
	struct http_stats stats;
	struct http_budget budget;
	struct http_budget *shared; /* &budget, or the one of the client it is a sibling of */
	uint64_t random_state;
	void (*sleep_fn)(void *context, double seconds);
	void *sleep_context;
	http_renew_fn renew;    /* NULL: retries send the same request again */
	void *renew_context;
};

/* The state of one transfer, shared with the libcurl callbacks. */
struct attempt {
	struct http_response response;
	size_t body_capacity;
	size_t max_body;
	size_t header_bytes;
	bool body_too_large;
	bool headers_too_large;
	bool out_of_memory;
	bool started;       /* added to the multi handle and not removed yet */
	CURLcode code;
};

enum attempt_outcome {
	ATTEMPT_DONE,       /* a response the caller gets, whatever its status */
	ATTEMPT_TRANSIENT,  /* worth retrying */
	ATTEMPT_FAILED,     /* not worth retrying */
};

static void sleep_seconds(void *context, double seconds)
{
	struct timespec left;

	(void)context;
	left.tv_sec = (time_t)seconds;
	left.tv_nsec = (long)((seconds - (double)left.tv_sec) * 1e9);
	while (nanosleep(&left, &left) != 0 && errno == EINTR && !stop_signal())
		continue;
}

static uint64_t random_seed(void)
{
	uint64_t seed = 0;
	struct timespec now;

	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed)) {
		clock_gettime(CLOCK_REALTIME, &now);
		seed = ((uint64_t)now.tv_sec << 30) ^ (uint64_t)now.tv_nsec ^ (uint64_t)getpid();
	}
	return seed ? seed : 0x9e3779b97f4a7c15ULL;
}

/* Returns a uniform value in [0, 1) from a xorshift64* generator. */
static double next_random(struct http_client *client)
{
	uint64_t x = client->random_state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	client->random_state = x;
	return (double)((x * 0x2545f4914f6cdd1dULL) >> 11) / 9007199254740992.0;
}

/* Copies url without its query and fragment, which may carry cursors or ids. */
static void url_for_log(const char *url, char *out, size_t size)
{
	size_t len = strcspn(url, "?#");

	if (len >= size)
		len = size - 1;
	memcpy(out, url, len);
	out[len] = '\0';
}

/* ---- response storage ---- */

static void release_headers(struct http_response *response)
{
	for (size_t i = 0; i < response->header_count; i++) {
		free(response->headers[i].name);
		free(response->headers[i].value);
	}
	free(response->headers);
	response->headers = NULL;
	response->header_count = 0;
}

void http_response_release(struct http_response *response)
{
	if (!response)
		return;
	release_headers(response);
	free(response->body);
	memset(response, 0, sizeof(*response));
}

static bool append_header(struct http_response *response, const char *name, size_t name_len,
			  const char *value, size_t value_len)
{
	struct http_header *headers;
	struct http_header *header;

	headers = realloc(response->headers, (response->header_count + 1) * sizeof(*headers));
	if (!headers)
		return false;
	response->headers = headers;

	header = &headers[response->header_count];
	header->name = strndup(name, name_len);
	header->value = strndup(value, value_len);
	if (!header->name || !header->value) {
		free(header->name);
		free(header->value);
		return false;
	}
	response->header_count++;
	return true;
}

/* Appends an obsolete folded line (RFC 9112 section 5.2) to the last value. */
static bool append_folded(struct http_response *response, const char *text, size_t len)
{
	struct http_header *last;
	size_t old_len;
	char *value;

	if (response->header_count == 0)
		return true;
	last = &response->headers[response->header_count - 1];
	old_len = strlen(last->value);
	value = realloc(last->value, old_len + len + 2);
	if (!value)
		return false;

	value[old_len] = ' ';
	memcpy(value + old_len + 1, text, len);
	value[old_len + len + 1] = '\0';
	last->value = value;
	return true;
}

static void trim_bounds(const char **start, const char **end)
{
	while (*start < *end && (**start == ' ' || **start == '\t'))
		(*start)++;
	while (*end > *start && ((*end)[-1] == ' ' || (*end)[-1] == '\t' ||
				 (*end)[-1] == '\r' || (*end)[-1] == '\n'))
		(*end)--;
}

/* Stores one header line; a status line starts a new response. */
static bool store_header_line(struct attempt *attempt, const char *line, size_t len)
{
	struct http_response *response = &attempt->response;
	const char *start = line;
	const char *end = line + len;
	const char *colon;
	const char *value;
	const char *value_end;

	if (len >= 5 && memcmp(line, "HTTP/", 5) == 0) {
		release_headers(response);
		return true;
	}
	if (len > 0 && (line[0] == ' ' || line[0] == '\t')) {
		trim_bounds(&start, &end);
		return append_folded(response, start, (size_t)(end - start));
	}

	trim_bounds(&start, &end);
	colon = memchr(start, ':', (size_t)(end - start));
	if (!colon || colon == start)
		return true;
	if (response->header_count >= MAX_HEADER_COUNT) {
		attempt->headers_too_large = true;
		return false;
	}

	value = colon + 1;
	value_end = end;
	trim_bounds(&value, &value_end);
	return append_header(response, start, (size_t)(colon - start), value,
			     (size_t)(value_end - value));
}

static size_t on_header(char *data, size_t size, size_t count, void *context)
{
	struct attempt *attempt = context;
	size_t len = size * count;

	attempt->header_bytes += len;
	if (attempt->header_bytes > MAX_HEADER_BYTES) {
		attempt->headers_too_large = true;
		return 0;
	}
	if (!store_header_line(attempt, data, len)) {
		attempt->out_of_memory = !attempt->headers_too_large;
		return 0;
	}
	return len;
}

static bool reserve_body(struct attempt *attempt, size_t needed)
{
	size_t capacity = attempt->body_capacity ? attempt->body_capacity : 16384;
	char *body;

	if (needed <= attempt->body_capacity)
		return true;
	while (capacity < needed)
		capacity *= 2;
	if (capacity > attempt->max_body + 1)
		capacity = attempt->max_body + 1;

	body = realloc(attempt->response.body, capacity);
	if (!body)
		return false;
	attempt->response.body = body;
	attempt->body_capacity = capacity;
	return true;
}

static size_t on_body(char *data, size_t size, size_t count, void *context)
{
	struct attempt *attempt = context;
	struct http_response *response = &attempt->response;
	size_t len = size * count;

	if (len > attempt->max_body - response->body_len) {
		attempt->body_too_large = true;
		return 0;
	}
	if (!reserve_body(attempt, response->body_len + len + 1)) {
		attempt->out_of_memory = true;
		return 0;
	}

	memcpy(response->body + response->body_len, data, len);
	response->body_len += len;
	response->body[response->body_len] = '\0';
	return len;
}

/* ---- client ---- */

static bool configure_handle(struct http_client *client)
{
	const struct http_options *options = &client->options;
	CURL *curl = client->curl;
	long connect_timeout = options->timeout < MAX_CONNECT_TIMEOUT ?
			       options->timeout : MAX_CONNECT_TIMEOUT;
	bool ok = true;

	ok = ok && curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK;
	ok = ok && curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK;
	ok = ok && curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L) == CURLE_OK;
	ok = ok && curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L) == CURLE_OK;
	ok = ok && curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, connect_timeout) == CURLE_OK;
	ok = ok && curl_easy_setopt(curl, CURLOPT_TIMEOUT, options->timeout) == CURLE_OK;
	ok = ok && curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L) == CURLE_OK;
	ok = ok && curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, connect_timeout) == CURLE_OK;
	ok = ok && curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "") == CURLE_OK;
	ok = ok && curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L) == CURLE_OK;
	ok = ok && curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L) == CURLE_OK;
	ok = ok && curl_easy_setopt(curl, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L) == CURLE_OK;
	ok = ok && curl_easy_setopt(curl, CURLOPT_USERAGENT, client->user_agent) == CURLE_OK;
	ok = ok && curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, client->error_buffer) == CURLE_OK;
	ok = ok && curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE,
				    (curl_off_t)options->max_body) == CURLE_OK;
	ok = ok && curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body) == CURLE_OK;
	ok = ok && curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header) == CURLE_OK;
	if (client->ca_file)
		ok = ok && curl_easy_setopt(curl, CURLOPT_CAINFO, client->ca_file) == CURLE_OK;
	if (client->proxy)
		ok = ok && curl_easy_setopt(curl, CURLOPT_PROXY, client->proxy) == CURLE_OK;
	return ok;
}

static void normalise_options(struct http_options *options)
{
	if (options->timeout <= 0)
		options->timeout = DEFAULT_TIMEOUT;
	if (options->max_retries < 0)
		options->max_retries = 0;
	if (options->retry_budget < 0)
		options->retry_budget = 0;
	if (options->max_wait < 1)
		options->max_wait = 1;
	if (options->max_body == 0)
		options->max_body = DEFAULT_MAX_BODY;
}

/*
 * libcurl's OpenSSL backend writes TLS session keys to the file named by
 * SSLKEYLOGFILE, read at its global init: drop the variable before that, so
 * the traffic that carries the API token cannot be decrypted from disk.
 */
static void global_init(void)
{
	static bool done;

	if (done)
		return;
	if (getenv("SSLKEYLOGFILE")) {
		log_msg(LOG_WARN, "ignoring SSLKEYLOGFILE so that TLS session keys are not written to disk");
		unsetenv("SSLKEYLOGFILE");
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	done = true;
}

enum rs_err http_client_new(const struct http_options *options, struct http_client **out)
{
	struct http_client *client;

	*out = NULL;
	global_init();
	client = calloc(1, sizeof(*client));
	if (!client)
		return RS_ERR_INTERNAL;

	client->options = *options;
	normalise_options(&client->options);
	client->ca_file = options->ca_file ? strdup(options->ca_file) : NULL;
	client->proxy = options->proxy ? strdup(options->proxy) : NULL;
	client->options.ca_file = client->ca_file;
	client->options.proxy = client->proxy;
	client->shared = &client->budget;
	client->budget.clients[0] = client;
	client->budget.client_count = 1;
	client->random_state = random_seed();
	client->sleep_fn = sleep_seconds;
	snprintf(client->user_agent, sizeof(client->user_agent), "rostersync/%s libcurl/%s",
		 ROSTERSYNC_VERSION, curl_version_info(CURLVERSION_NOW)->version);

	client->curl = curl_easy_init();
	client->multi = curl_multi_init();
	if (!client->curl || !client->multi || (options->ca_file && !client->ca_file) ||
	    (options->proxy && !client->proxy) || !configure_handle(client)) {
		log_msg(LOG_ERROR, "cannot set up the HTTP client (libcurl %s)",
			curl_version_info(CURLVERSION_NOW)->version);
		http_client_free(client);
		return RS_ERR_INTERNAL;
	}

	*out = client;
	return RS_OK;
}

/* Removes client from the clients of the budget it shares. */
static void leave_budget(struct http_client *client)
{
	struct http_budget *budget = client->shared;

	for (size_t i = 0; i < budget->client_count; i++) {
		if (budget->clients[i] == client) {
			budget->clients[i] = budget->clients[--budget->client_count];
			return;
		}
	}
}

void http_client_free(struct http_client *client)
{
	if (!client)
		return;
	http_get_cancel(client);
	leave_budget(client);
	if (client->multi)
		curl_multi_cleanup(client->multi);
	if (client->curl)
		curl_easy_cleanup(client->curl);
	free(client->ca_file);
	free(client->proxy);
	free(client);
}

enum rs_err http_client_sibling(struct http_client *client, struct http_client **out)
{
	enum rs_err err = http_client_new(&client->options, out);

	if (err != RS_OK)
		return err;
	(*out)->shared = client->shared;
	if (client->shared->client_count < SHARED_CLIENTS_MAX)
		client->shared->clients[client->shared->client_count++] = *out;
	else
		log_msg(LOG_DEBUG, "more than %d HTTP clients share one retry budget; the "
			"transfers of the others are driven only while they are collected",
			SHARED_CLIENTS_MAX);
	http_client_set_sleep(*out, client->sleep_fn, client->sleep_context);
	http_client_set_renew(*out, client->renew, client->renew_context);
	return RS_OK;
}

void http_client_set_renew(struct http_client *client, http_renew_fn renew, void *context)
{
	client->renew = renew;
	client->renew_context = context;
}

void http_client_add_stats(struct http_client *client, const struct http_client *other)
{
	if (!client || !other)
		return;
	client->stats.requests += other->stats.requests;
	client->stats.retries += other->stats.retries;
	client->stats.bytes += other->stats.bytes;
	client->stats.connections += other->stats.connections;
}

struct http_stats http_client_stats(const struct http_client *client)
{
	struct http_stats none = { 0, 0, 0, 0 };

	return client ? client->stats : none;
}

void http_client_set_sleep(struct http_client *client,
			   void (*sleep_fn)(void *context, double seconds), void *context)
{
	client->sleep_fn = sleep_fn ? sleep_fn : sleep_seconds;
	client->sleep_context = sleep_fn ? context : NULL;
}

/*
 * Lets libcurl move on the transfers that the siblings of client have under
 * way (http_get_start()), and returns true while one is still running.
 * libcurl moves a transfer only inside calls on its own multi handle, and
 * its timeout (http.timeout) counts from the start, so a pending GET that
 * no call drives while a sibling sleeps or reads fails with a timeout.
 * A finished transfer stays in its multi handle until its client collects it.
 */
static bool drive_siblings(struct http_client *client)
{
	struct http_budget *budget = client->shared;
	bool running_any = false;

	for (size_t i = 0; i < budget->client_count; i++) {
		struct http_client *other = budget->clients[i];
		int running = 0;

		if (other == client || !other->pending)
			continue;
		curl_multi_perform(other->multi, &running);
		running_any = running_any || running > 0;
	}
	return running_any;
}

/* Sleeps seconds, in short turns while the transfers of siblings are under way. */
static void client_pause(struct http_client *client, double seconds)
{
	while (seconds > 0 && !stop_signal() && drive_siblings(client)) {
		double turn = seconds < SIBLING_TURN_SECONDS ? seconds : SIBLING_TURN_SECONDS;

		client->sleep_fn(client->sleep_context, turn);
		seconds -= turn;
	}
	if (seconds > 0 && !stop_signal())
		client->sleep_fn(client->sleep_context, seconds);
}

/* Waits seconds before a retry, which counts against http.retry_budget. */
static void client_wait(struct http_client *client, double seconds)
{
	client->shared->waited += seconds;
	client_pause(client, seconds);
}

/* ---- request headers ---- */

static void free_header_list(struct curl_slist *list)
{
	for (struct curl_slist *item = list; item; item = item->next)
		explicit_bzero(item->data, strlen(item->data));
	curl_slist_free_all(list);
}

static struct curl_slist *build_header_list(const char *const *headers)
{
	struct curl_slist *list = curl_slist_append(NULL, "Accept: application/json");
	struct curl_slist *grown;

	for (size_t i = 0; list && headers && headers[i]; i++) {
		grown = curl_slist_append(list, headers[i]);
		if (!grown) {
			free_header_list(list);
			return NULL;
		}
		list = grown;
	}
	return list;
}

static void wipe_free(char *text, size_t len)
{
	if (!text)
		return;
	explicit_bzero(text, len);
	free(text);
}

static void renewal_release(struct http_renewal *renewal)
{
	for (size_t i = 0; renewal->headers && renewal->headers[i]; i++)
		wipe_free(renewal->headers[i], strlen(renewal->headers[i]));
	free(renewal->headers);
	wipe_free(renewal->body, renewal->body_len);
	memset(renewal, 0, sizeof(*renewal));
}

/* The caller's lines of list, without the Accept line build_header_list() put first. */
static const char **header_lines(const struct curl_slist *list)
{
	size_t count = 0;
	const char **lines;

	for (const struct curl_slist *item = list ? list->next : NULL; item; item = item->next)
		count++;
	lines = calloc(count + 1, sizeof(*lines));
	if (!lines)
		return NULL;
	count = 0;
	for (const struct curl_slist *item = list ? list->next : NULL; item; item = item->next)
		lines[count++] = item->data;
	return lines;
}

/* ---- one attempt ---- */

static bool status_transient(long status)
{
	return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

static bool curl_code_transient(CURLcode code)
{
	switch (code) {
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_PARTIAL_FILE:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return true;
	default:
		return false;
	}
}

static const char *attempt_message(const struct http_client *client, const struct attempt *attempt)
{
	if (client->error_buffer[0] != '\0')
		return client->error_buffer;
	return curl_easy_strerror(attempt->code);
}

/* Maps a failed transfer that is not worth retrying to an error, and logs it. */
static enum rs_err attempt_error(const struct http_client *client, const struct attempt *attempt,
				 const char *log_url)
{
	if (attempt->body_too_large || attempt->code == CURLE_FILESIZE_EXCEEDED) {
		log_msg(LOG_ERROR, "GET %s failed: response body larger than %zu bytes",
			log_url, client->options.max_body);
		return RS_ERR_PROTOCOL;
	}
	if (attempt->headers_too_large) {
		log_msg(LOG_ERROR, "GET %s failed: more than %d response headers or %zu header bytes",
			log_url, MAX_HEADER_COUNT, MAX_HEADER_BYTES);
		return RS_ERR_PROTOCOL;
	}
	if (attempt->out_of_memory || attempt->code == CURLE_OUT_OF_MEMORY) {
		log_msg(LOG_ERROR, "GET %s failed: out of memory", log_url);
		return RS_ERR_INTERNAL;
	}

	log_msg(LOG_ERROR, "GET %s failed: %s", log_url, attempt_message(client, attempt));
	switch (attempt->code) {
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_SSL_CACERT_BADFILE:
		return RS_ERR_CONFIG;
	case CURLE_BAD_CONTENT_ENCODING:
	case CURLE_WEIRD_SERVER_REPLY:
		return RS_ERR_PROTOCOL;
	default:
		return RS_ERR_UNAVAILABLE;
	}
}

/* One request as the retry loop repeats it. */
struct request {
	const char *method;     /* "GET" or "POST" */
	const char *url;
	const char *body;       /* POST only */
	size_t body_len;
	char log_url[LOG_URL_MAX];
};

/*
 * Sets up the transfer of request and hands it to the multi handle, which
 * sends as much of it as it can without waiting.  finish_attempt() then
 * waits for the response.  A handle that cannot be added fails the attempt
 * with CURLE_FAILED_INIT, and finish_attempt() reports it.
 */
static void start_attempt(struct http_client *client, const struct request *request,
			  struct curl_slist *headers, struct attempt *attempt)
{
	CURL *curl = client->curl;
	int running = 0;

	memset(attempt, 0, sizeof(*attempt));
	attempt->max_body = client->options.max_body;
	client->error_buffer[0] = '\0';

	curl_easy_setopt(curl, CURLOPT_URL, request->url);
	if (request->body) {
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)request->body_len);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request->body);
	} else {
		curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
	}
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, attempt);
	curl_easy_setopt(curl, CURLOPT_HEADERDATA, attempt);

	if (curl_multi_add_handle(client->multi, curl) != CURLM_OK) {
		attempt->code = CURLE_FAILED_INIT;
		return;
	}
	attempt->started = true;
	curl_multi_perform(client->multi, &running);
}

/* Drives the transfer that start_attempt() began until it ends; returns its result. */
static CURLcode wait_for_transfer(struct http_client *client)
{
	CURLcode code = CURLE_OK;
	bool done = false;

	while (!done) {
		int running = 0;
		int queued = 0;
		int poll_ms;
		CURLMsg *message;
		CURLMcode status = curl_multi_perform(client->multi, &running);

		if (status != CURLM_OK)
			return CURLE_FAILED_INIT;
		while ((message = curl_multi_info_read(client->multi, &queued)) != NULL) {
			if (message->msg == CURLMSG_DONE && message->easy_handle == client->curl) {
				code = message->data.result;
				done = true;
			}
		}
		if (!done && running == 0)
			return CURLE_FAILED_INIT;
		if (done)
			break;
		poll_ms = drive_siblings(client) ? (int)(SIBLING_TURN_SECONDS * 1000) : 1000;
		if (curl_multi_poll(client->multi, NULL, 0, poll_ms, NULL) != CURLM_OK)
			return CURLE_FAILED_INIT;
		if (stop_signal())
			return CURLE_ABORTED_BY_CALLBACK;
	}
	return code;
}

/* Waits for the response of the attempt that start_attempt() began and classifies it. */
static enum attempt_outcome finish_attempt(struct http_client *client, struct attempt *attempt)
{
	CURL *curl = client->curl;
	long connects = 0;

	if (attempt->started) {
		attempt->code = wait_for_transfer(client);
		curl_multi_remove_handle(client->multi, curl);
		attempt->started = false;
	}
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);

	client->stats.requests++;
	progress_request();
	client->stats.bytes += (long long)attempt->response.body_len;
	if (curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &connects) == CURLE_OK)
		client->stats.connections += connects;
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &attempt->response.status);

	if (attempt->code != CURLE_OK) {
		bool ours = attempt->body_too_large || attempt->headers_too_large ||
			    attempt->out_of_memory;

		return !ours && curl_code_transient(attempt->code) ? ATTEMPT_TRANSIENT : ATTEMPT_FAILED;
	}
	if (!attempt->response.body) {
		attempt->response.body = calloc(1, 1);
		if (!attempt->response.body) {
			attempt->out_of_memory = true;
			return ATTEMPT_FAILED;
		}
	}
	return status_transient(attempt->response.status) ? ATTEMPT_TRANSIENT : ATTEMPT_DONE;
}

/* ---- retries and pacing ---- */

/*
 * Returns what a failure to reach the proxy adds to its message: curl names
 * the proxy's host and port but not that it is the proxy.  The proxy URL is
 * not printed, because it may carry a password.
 */
static const char *proxy_words(const struct http_client *client, CURLcode code)
{
	if (!client->proxy)
		return "";
	if (code == CURLE_COULDNT_CONNECT || code == CURLE_COULDNT_RESOLVE_PROXY)
		return " (the proxy in http.proxy: check that it runs and accepts connections)";
	return "";
}

/* Writes "returned 503 (request id X)" or "failed: <reason>" for log lines. */
static void describe_failure(const struct http_client *client, const struct attempt *attempt,
			     char *out, size_t size)
{
	const char *request_id;

	if (attempt->code != CURLE_OK) {
		snprintf(out, size, "failed: %s%s", attempt_message(client, attempt),
			 proxy_words(client, attempt->code));
		return;
	}
	request_id = http_response_request_id(&attempt->response);
	if (request_id)
		snprintf(out, size, "returned %ld (request id %.100s)", attempt->response.status,
			 request_id);
	else
		snprintf(out, size, "returned %ld", attempt->response.status);
}

/* Whether a transient failure is retried, and if not, why. */
enum retry_verdict {
	RETRY,              /* wait and send the request again */
	GIVE_UP_RETRIES,    /* http.max_retries retries were made */
	GIVE_UP_BUDGET,     /* the next wait would exceed http.retry_budget */
	GIVE_UP_TOO_LONG,   /* the server requested a wait beyond http.max_wait */
};

/*
 * Decides on retry number retry (1 for the first) after a wait of wait
 * seconds, when the server requested requested seconds (0 for none).
 */
static enum retry_verdict judge_retry(const struct http_client *client, long retry,
				      double requested, double wait)
{
	if (retry > client->options.max_retries)
		return GIVE_UP_RETRIES;
	if (requested > (double)client->options.max_wait)
		return GIVE_UP_TOO_LONG;
	if (client->shared->waited + wait > (double)client->options.retry_budget)
		return GIVE_UP_BUDGET;
	return RETRY;
}

/* Logs why subject is not retried; retries is the number already made. */
static void log_give_up(const struct http_client *client, const char *subject, long retries,
			double wait, double requested, enum retry_verdict verdict)
{
	const char *retries_word = retries == 1 ? "retry" : "retries";

	switch (verdict) {
	case RETRY:
		break;
	case GIVE_UP_RETRIES:
		log_msg(LOG_ERROR, "%s; giving up after %ld %s (http.max_retries)", subject,
			retries, retries_word);
		break;
	case GIVE_UP_BUDGET:
		log_msg(LOG_ERROR, "%s; giving up after %ld %s: waiting %.1f s more would exceed "
			"the retry budget of %ld s (http.retry_budget)", subject, retries,
			retries_word, wait, client->options.retry_budget);
		break;
	case GIVE_UP_TOO_LONG:
		log_msg(LOG_ERROR, "%s; giving up after %ld %s: the server requested a wait of "
			"%.1f s, longer than http.max_wait (%ld s)", subject, retries, retries_word,
			requested, client->options.max_wait);
		break;
	}
}

/*
 * Makes retry number retry of the failure that subject describes: logs it,
 * counts it and waits wait seconds, unless judge_retry() gives up.  Then
 * it logs why and returns RS_ERR_TEMPFAIL for a rate limit, else
 * RS_ERR_UNAVAILABLE.  The line that gives up quotes the body of last (may
 * be NULL), because the IdP's error code or a proxy's error page explains
 * the failure.
 */
static enum rs_err retry_or_give_up(struct http_client *client, const char *subject,
				    const struct http_response *last, long retry,
				    double requested, double wait, bool rate_limited)
{
	enum retry_verdict verdict = judge_retry(client, retry, requested, wait);

	if (verdict != RETRY) {
		struct log_line line = { .len = 0 };

		log_line_add(&line, "%s", subject);
		if (last && last->body_len > 0)
			log_line_add_excerpt(&line, last->body, last->body_len);
		log_give_up(client, line.text, retry - 1, wait, requested, verdict);
		return rate_limited ? RS_ERR_TEMPFAIL : RS_ERR_UNAVAILABLE;
	}

	log_msg(LOG_WARN, "%s; retry %ld of %ld in %.1f s", subject, retry,
		client->options.max_retries, wait);
	client->stats.retries++;
	client_wait(client, wait);
	return RS_OK;
}

enum rs_err http_wait_for_retry(struct http_client *client, const char *subject, long retry,
				double requested, bool rate_limited)
{
	double max_wait = (double)client->options.max_wait;
	double wait;

	if (requested > 0)
		wait = requested < HTTP_MIN_WAIT ? HTTP_MIN_WAIT :
		       requested > max_wait ? max_wait : requested;
	else
		wait = http_retry_wait(NULL, retry, max_wait, time(NULL), next_random(client));
	return retry_or_give_up(client, subject, NULL, retry, requested, wait, rate_limited);
}

/*
 * Returns the wait that a failed response requests through Retry-After, or
 * through X-Rate-Limit-Reset on a 429, without the max_wait cap.  Returns 0
 * when it requests none, because jitter 0 makes the backoff the minimum.
 */
static double requested_wait(const struct attempt *attempt)
{
	double wait;

	if (attempt->code != CURLE_OK)
		return 0;
	wait = http_retry_wait(&attempt->response, 1, 1e12, time(NULL), 0);
	return wait > HTTP_MIN_WAIT ? wait : 0;
}

/*
 * Plans a pause when the response shows the rate limit nearly used up.  A
 * pause that lasts until the limit resets is not a retry and does not draw
 * on http.retry_budget, because the quota comes back after it: a tenant
 * whose read needs many rate-limit windows would otherwise fail every run.
 * A pause cut to http.max_wait ends before the reset and may come again at
 * the next request, so it counts against the budget and stops when the
 * budget is spent.
 */
static void schedule_pace(struct http_client *client, const struct http_response *response)
{
	struct http_budget *shared = client->shared;
	double wait = http_pace_wait(response, time(NULL));
	double budget_left = (double)client->options.retry_budget - shared->waited;
	const char *limit = http_response_header(response, "X-Rate-Limit-Limit", 0);

	shared->pace_pending = 0;
	shared->pace_reset = 0;
	if (wait < HTTP_MIN_WAIT)
		return;
	if (wait > (double)client->options.max_wait) {
		shared->pace_reset = wait;
		shared->pace_cut_by = "http.max_wait";
		wait = (double)client->options.max_wait;
	}
	if (shared->pace_reset > 0 && wait > budget_left) {
		shared->pace_cut_by = "http.retry_budget";
		wait = budget_left;
	}
	if (wait < HTTP_MIN_WAIT) {
		log_msg(LOG_DEBUG, "rate limit nearly used, but the retry budget leaves no time "
			"for a pause cut to http.max_wait");
		return;
	}

	shared->pace_pending = wait;
	shared->pace_remaining = strtoll(http_response_header(response, "X-Rate-Limit-Remaining", 0),
					 NULL, 10);
	shared->pace_limit = limit ? strtoll(limit, NULL, 10) : -1;
}

static void take_pace(struct http_client *client)
{
	struct http_budget *shared = client->shared;
	char left[64];
	char until[96];

	if (shared->pace_pending <= 0)
		return;

	if (shared->pace_limit >= 0)
		snprintf(left, sizeof(left), "%lld of %lld", shared->pace_remaining,
			 shared->pace_limit);
	else
		snprintf(left, sizeof(left), "%lld", shared->pace_remaining);
	if (shared->pace_reset > 0)
		snprintf(until, sizeof(until), "(%s); it resets in %.1f s", shared->pace_cut_by,
			 shared->pace_reset);
	else
		snprintf(until, sizeof(until), "until it resets");
	log_msg(LOG_INFO, "rate limit nearly used (%s requests left); pausing %.1f s %s", left,
		shared->pace_pending, until);

	if (shared->pace_reset > 0)
		client_wait(client, shared->pace_pending);
	else
		client_pause(client, shared->pace_pending);
	shared->pace_pending = 0;
}

/* Logs and rejects a request whose URL is not allowed; fills request->log_url. */
static enum rs_err check_request(struct request *request)
{
	url_for_log(request->url ? request->url : "", request->log_url, sizeof(request->log_url));
	if (!request->url || !http_url_allowed(request->url)) {
		log_msg(LOG_ERROR, "rejected the request to %s: only https:// URLs are allowed, "
			"and http:// for loopback hosts", request->log_url);
		return RS_ERR_CONFIG;
	}
	return RS_OK;
}

/*
 * Asks the client's renewer for the headers and body of the next attempt
 * of request, and puts them in place: *list, request->body, and *body,
 * which keeps a renewed body until the request ends.
 */
static enum rs_err renew_request(struct http_client *client, struct request *request,
				 struct curl_slist **list, struct http_renewal *body)
{
	struct http_renewal renewal = { 0 };
	struct curl_slist *renewed = NULL;
	const char **lines;
	enum rs_err err;

	if (!client->renew)
		return RS_OK;
	lines = header_lines(*list);
	if (!lines)
		return RS_ERR_INTERNAL;
	err = client->renew(client->renew_context, request->method, request->url, lines,
			    &renewal);
	free(lines);

	if (err == RS_OK && renewal.headers) {
		renewed = build_header_list((const char *const *)renewal.headers);
		err = renewed ? RS_OK : RS_ERR_INTERNAL;
	}
	if (renewed) {
		free_header_list(*list);
		*list = renewed;
	}
	if (err == RS_OK && renewal.body) {
		renewal_release(body);
		body->body = renewal.body;
		body->body_len = renewal.body_len;
		renewal.body = NULL;
		request->body = body->body;
		request->body_len = body->body_len;
	}
	renewal_release(&renewal);
	return err;
}

/*
 * Waits before retry number retry of request after the transient failure
 * in *attempt, whose response it releases, or gives up as
 * retry_or_give_up() does.
 */
static enum rs_err retry_attempt(struct http_client *client, const struct request *request,
				 struct attempt *attempt, long retry)
{
	char failure[CURL_ERROR_SIZE + 160];
	char subject[sizeof(failure) + LOG_URL_MAX + 16];
	bool rate_limited = attempt->code == CURLE_OK && attempt->response.status == 429;
	enum rs_err err;
	double requested = requested_wait(attempt);
	double wait = http_retry_wait(attempt->code == CURLE_OK ? &attempt->response : NULL,
				      retry, (double)client->options.max_wait, time(NULL),
				      next_random(client));

	describe_failure(client, attempt, failure, sizeof(failure));
	snprintf(subject, sizeof(subject), "%s %s %s", request->method, request->log_url, failure);
	err = retry_or_give_up(client, subject, attempt->code == CURLE_OK ? &attempt->response : NULL,
			       retry, requested, wait, rate_limited);
	http_response_release(&attempt->response);
	return err;
}

/*
 * Runs request until it gets a response worth returning, retrying transient
 * failures; every retry gets new credentials from the client's renewer.
 * When started is true, the first attempt is already under way in
 * *attempt (http_get_start()); else every attempt starts here.
 */
static enum rs_err run_request(struct http_client *client, const struct request *first,
			       struct curl_slist **list, bool started, struct attempt *attempt,
			       struct http_response *out)
{
	struct request request = *first;
	struct http_renewal body = { 0 };
	enum rs_err err = RS_OK;

	for (long retries = 0;; retries++) {
		enum attempt_outcome outcome;

		if (retries > 0)
			err = renew_request(client, &request, list, &body);
		if (err != RS_OK) {
			log_msg(LOG_ERROR, "%s %s: cannot renew the credentials for a retry",
				request.method, request.log_url);
			break;
		}
		if ((retries > 0 || !started) && stop_signal()) {
			log_msg(LOG_ERROR, "%s %s: not sent, stopped by %s", request.method,
				request.log_url, stop_signal_name());
			err = RS_ERR_TEMPFAIL;
			break;
		}
		if (retries > 0 || !started) {
			take_pace(client);
			start_attempt(client, &request, *list, attempt);
		}
		outcome = finish_attempt(client, attempt);
		if (stop_signal()) {
			log_msg(LOG_ERROR, "%s %s: stopped by %s before the response was read",
				request.method, request.log_url, stop_signal_name());
			http_response_release(&attempt->response);
			err = RS_ERR_TEMPFAIL;
			break;
		}
		if (outcome == ATTEMPT_DONE) {
			*out = attempt->response;
			memset(&attempt->response, 0, sizeof(attempt->response));
			schedule_pace(client, out);
			break;
		}
		if (outcome == ATTEMPT_FAILED) {
			err = attempt_error(client, attempt, request.log_url);
			http_response_release(&attempt->response);
			break;
		}

		err = retry_attempt(client, &request, attempt, retries + 1);
		if (err != RS_OK)
			break;
	}
	renewal_release(&body);
	return err;
}

static enum rs_err perform_request(struct http_client *client, struct request *request,
				   const char *const *headers, struct http_response *out)
{
	struct curl_slist *list;
	struct attempt attempt;
	enum rs_err err;

	memset(out, 0, sizeof(*out));
	http_get_cancel(client);
	err = check_request(request);
	if (err != RS_OK)
		return err;
	list = build_header_list(headers);
	if (!list)
		return RS_ERR_INTERNAL;

	err = run_request(client, request, &list, false, &attempt, out);
	free_header_list(list);
	return err;
}

/* A GET that http_get_start() began and http_get_finish() collects. */
struct pending {
	struct request request;
	char *url;                  /* request.url points here */
	struct curl_slist *headers;
	struct attempt attempt;     /* the transfer writes into it, so it must not move */
};

static void pending_free(struct pending *pending)
{
	if (!pending)
		return;
	http_response_release(&pending->attempt.response);
	free_header_list(pending->headers);
	free(pending->url);
	free(pending);
}

enum rs_err http_get_start(struct http_client *client, const char *url,
			   const char *const *headers)
{
	struct pending *pending;
	enum rs_err err;

	http_get_cancel(client);
	pending = calloc(1, sizeof(*pending));
	if (!pending)
		return RS_ERR_INTERNAL;
	pending->url = url ? strdup(url) : NULL;
	pending->request.method = "GET";
	pending->request.url = pending->url;
	err = check_request(&pending->request);
	if (err == RS_OK && !pending->url)
		err = RS_ERR_INTERNAL;
	if (err == RS_OK) {
		pending->headers = build_header_list(headers);
		if (!pending->headers)
			err = RS_ERR_INTERNAL;
	}
	if (err != RS_OK) {
		pending_free(pending);
		return err;
	}

	take_pace(client);
	start_attempt(client, &pending->request, pending->headers, &pending->attempt);
	client->pending = pending;
	return RS_OK;
}

enum rs_err http_get_finish(struct http_client *client, struct http_response *out)
{
	struct pending *pending = client->pending;
	enum rs_err err;

	memset(out, 0, sizeof(*out));
	if (!pending) {
		log_msg(LOG_ERROR, "no request was started to collect a response from");
		return RS_ERR_INTERNAL;
	}
	client->pending = NULL;
	err = run_request(client, &pending->request, &pending->headers, true, &pending->attempt,
			  out);
	pending_free(pending);
	return err;
}

void http_get_cancel(struct http_client *client)
{
	struct pending *pending = client ? client->pending : NULL;

	if (!pending)
		return;
	client->pending = NULL;
	if (pending->attempt.started)
		curl_multi_remove_handle(client->multi, client->curl);
	curl_easy_setopt(client->curl, CURLOPT_HTTPHEADER, NULL);
	pending_free(pending);
}

enum rs_err http_get(struct http_client *client, const char *url,
		     const char *const *headers, struct http_response *out)
{
	struct request request = { .method = "GET", .url = url };

	return perform_request(client, &request, headers, out);
}

enum rs_err http_post(struct http_client *client, const char *url,
		      const char *const *headers, const char *body, size_t body_len,
		      struct http_response *out)
{
	struct request request = { .method = "POST", .url = url, .body = body ? body : "",
				   .body_len = body ? body_len : 0 };

	return perform_request(client, &request, headers, out);
}
