/*
 * fakeidp.h - internal interfaces of fakeidp, the loopback-only fake
 * identity provider that the end-to-end tests run rostersync against.
 *
 * server.c owns the HTTP daemon (libmicrohttpd, one thread per connection)
 * and the state that all requests share: the dataset store, the fault
 * counters, the rate-limit window and the request log.  For each request it
 * picks a personality, which turns the parsed request into one struct
 * fake_response.  The Okta Management API (okta.c) and recorded exchanges
 * (replay.c) are the personalities today.  Another IdP is one more file that
 * defines a struct personality, plus one line in server_personality().
 *
 * Functions are not thread-safe unless their comment states it.
 */
#ifndef FAKEIDP_H
#define FAKEIDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cJSON.h>

/* ---- buf.c: growing byte buffer ---------------------------------------- */

/*
 * A growing byte buffer, NUL-terminated whenever data is not NULL.  An
 * allocation failure sets failed and turns every later append into a no-op,
 * so a renderer checks failed once at the end.
 */
struct buf {
	char *data;
	size_t len;
	size_t cap;
	bool failed;
};

#define BUF_LIT(b, s) buf_append((b), (s), sizeof(s) - 1)

void buf_init(struct buf *b);
void buf_release(struct buf *b);
void buf_reserve(struct buf *b, size_t extra);
void buf_append(struct buf *b, const void *data, size_t len);
void buf_puts(struct buf *b, const char *s);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_decimal(struct buf *b, long long value);

/* Cuts the content back to its first len bytes (len <= b->len). */
void buf_truncate(struct buf *b, size_t len);

/* Appends s with JSON string escapes but without the quotes. */
void buf_json_chars(struct buf *b, const char *s);

/* Appends s as a quoted JSON string, or null when s is NULL. */
void buf_json_string(struct buf *b, const char *s);

/* Appends the unformatted JSON text of item. */
void buf_json_value(struct buf *b, const cJSON *item);

/*
 * Hands the data over to the caller, who frees it with free(), and leaves b
 * empty.  Returns NULL when an append failed; *len is the byte count.
 */
char *buf_detach(struct buf *b, size_t *len);

/* ---- exchange.c: one request and its response -------------------------- */

struct fake_header {
	char *name;
	char *value;
};

struct fake_param {
	char *name;             /* percent-decoded, '+' read as a space */
	char *value;
};

/* Largest request body kept; the rest is dropped and body_truncated set. */
#define REQUEST_MAX_BODY (1024 * 1024)

struct fake_request {
	char *uri;              /* as received: path and query, still encoded */
	char *method;
	char *path;             /* uri up to '?', still encoded */
	char *query;            /* uri after '?', "" when there is none */
	struct fake_param *params;
	size_t param_count;
	struct fake_header *headers;    /* names lower-cased, arrival order */
	size_t header_count;
	struct buf body;
	bool body_truncated;
	bool started;           /* the access handler has seen the headers */
	bool failed;            /* out of memory while parsing */
};

/* Allocates a request for uri and splits it into path, query and params. */
struct fake_request *request_new(const char *uri);
void request_free(struct fake_request *req);
void request_set_method(struct fake_request *req, const char *method);
void request_add_header(struct fake_request *req, const char *name, const char *value);
void request_append_body(struct fake_request *req, const char *data, size_t len);

/* Returns the first decoded value of query parameter name, or NULL. */
const char *request_param(const struct fake_request *req, const char *name);

/* Returns the first value of header name (any case), or NULL. */
const char *request_header(const struct fake_request *req, const char *name);

/* Returns a percent-decoded copy of the len bytes at s, or NULL (memory). */
char *percent_decode(const char *s, size_t len, bool plus_is_space);

#define PATH_MAX_SEGMENTS 8

/* The decoded segments of a request path; "/a/b%40c" gives "a", "b@c". */
struct fake_path {
	size_t count;
	char *segment[PATH_MAX_SEGMENTS];
};

/* Splits path into decoded segments.  Fails when there are too many. */
bool path_split(const char *path, struct fake_path *out);
void path_release(struct fake_path *path);

struct fake_response {
	unsigned int status;
	struct buf body;
	struct fake_header *headers;    /* in sending order; repeats allowed */
	size_t header_count;
	bool failed;            /* a header could not be stored */
	bool recorded;          /* headers come from a recording: add none */
	bool abort_midway;      /* send half the body, then drop the connection */
	bool chunked;           /* no Content-Length: chunked transfer coding */
	long delay_ms;          /* hold before sending, on top of --latency-ms */
	long stall_ms;          /* hold after half the body was sent */
	const char *fault;      /* kind of the fault that fired, or NULL */
};

void response_init(struct fake_response *resp);
void response_release(struct fake_response *resp);
void response_add_header(struct fake_response *resp, const char *name, const char *value);

/* Returns the first value of header name (any case), or NULL. */
const char *response_header(const struct fake_response *resp, const char *name);

/* Replaces the body with a copy of the len bytes at data. */
void response_set_body(struct fake_response *resp, const char *data, size_t len);

/* Okta's rate-limit headers for one request. */
struct rate_window {
	long limit;
	long remaining;
	time_t reset;           /* epoch seconds at which the window ends */
};

struct dataset;
struct replay;
struct personality;

/* One request and the response being built for it. */
struct fake_exchange {
	const struct fake_request *request;
	const struct dataset *dataset;  /* a reference held until the end */
	struct replay *replay;          /* NULL unless --replay was given */
	const struct personality *personality;
	char origin[320];               /* "http://HOST:PORT" as the client sent it */
	uint64_t number;                /* 1-based sequence number of the request */
	uint64_t seed;                  /* per-process value mixed into ids */
	struct server *server;          /* picks faults for $batch sub-requests */
	struct rate_window rate;
	struct fake_response response;
};

/* Writes a unique id of len - 1 characters from [0-9A-Za-z] into out. */
void exchange_make_id(const struct fake_exchange *ex, const char *prefix, char *out, size_t len);

/* ---- personalities ------------------------------------------------------ */

struct personality {
	const char *name;

	/* Returns the 1-based page that a list request reads, 0 if unknown. */
	int (*page)(const struct fake_request *req);

	/* Fills ex->response for ex->request. */
	void (*handle)(struct fake_exchange *ex);

	/*
	 * Replaces ex->response with an error in this IdP's format.  code and
	 * summary may be NULL for the IdP's usual ones for status.
	 */
	void (*error)(struct fake_exchange *ex, unsigned int status,
		      const char *code, const char *summary);

	/* Adds the headers every response of this IdP has, unless present. */
	void (*decorate)(struct fake_exchange *ex);
};

extern const struct personality okta_personality;
extern const struct personality graph_personality;
extern const struct personality replay_personality;
extern const struct personality oauth_personality;

/* ---- okta.c, okta_render.c: the Okta Management API -------------------- */

/*
 * Checks the SSWS token and the forbidden switch of ex->dataset.  Returns
 * true when the request may go on.  Otherwise ex->response contains the
 * 401 or 403 error.
 */
bool okta_check_access(struct fake_exchange *ex);

/* Decodes an Okta paging cursor of this server; false when it is invalid. */
bool okta_cursor_decode(const char *cursor, char *tag, int *page, unsigned int *sub, char **id);

struct fake_user;
struct fake_group;
struct fake_assignment;

/* Where the rendered objects point their _links. */
struct okta_links {
	const char *origin;
	const char *app_id;
};

void okta_render_app_user(struct buf *b, const struct okta_links *links,
			  const struct fake_assignment *assignment, bool expand_user);
void okta_render_user(struct buf *b, const struct okta_links *links,
		      const struct fake_user *user, bool lifecycle_links);
void okta_render_group_assignment(struct buf *b, const struct okta_links *links,
				  const struct fake_group *group, long priority, bool expand_group);
void okta_render_group(struct buf *b, const struct okta_links *links,
		       const struct fake_group *group);
void okta_render_app(struct buf *b, const struct okta_links *links);

/* Renders Okta's error object; cause may be NULL for an empty errorCauses. */
void okta_render_error(struct buf *b, const char *code, const char *summary,
		       const char *error_id, const char *cause);

/* ---- oauth.c, oauth_jwt.c: OAuth 2.0 token endpoints -------------------- */

struct oauth_settings;

/* True for POST /oauth2/v1/token (Okta) and /{tenant}/oauth2/v2.0/token (Entra). */
bool oauth_path(const char *path);

/* Parses the dataset's "oauth" object; item NULL gives *out NULL. */
bool oauth_settings_parse(const cJSON *item, struct oauth_settings **out,
			  char *err, size_t err_len);
void oauth_settings_free(struct oauth_settings *settings);

enum oauth_issuer { OAUTH_ISSUER_OKTA, OAUTH_ISSUER_ENTRA };

enum oauth_verdict {
	OAUTH_NOT_OAUTH,        /* no "oauth" settings, or no Bearer or DPoP Authorization */
	OAUTH_VALID,
	OAUTH_INVALID_TOKEN,    /* unknown, expired, or issued by the other server */
	OAUTH_INVALID_PROOF,    /* a DPoP-bound token without a valid proof */
	OAUTH_NEED_NONCE,       /* the proof lacks the dataset's api_nonce */
};

/*
 * Checks the Authorization of an API request against the tokens the token
 * endpoint of issuer gave out, with the DPoP proof (signature, htm, htu,
 * ath, key binding, nonce) when the token is DPoP-bound.
 */
enum oauth_verdict oauth_check_api(const struct fake_exchange *ex, enum oauth_issuer issuer);

/* Adds the WWW-Authenticate (and DPoP-Nonce) headers of a 401 for verdict. */
void oauth_add_challenge(struct fake_exchange *ex, enum oauth_verdict verdict);

/* ---- dataset.c, dataset_file.c, dataset_synthetic.c -------------------- */

enum user_field {
	USER_LOGIN,
	USER_EMAIL,
	USER_FIRST_NAME,
	USER_LAST_NAME,
	USER_DISPLAY_NAME,
	USER_STATUS,            /* Okta user status */
	USER_APP_STATUS,        /* AppUser status */
	USER_FIELD_COUNT
};

enum group_field {
	GROUP_NAME,
	GROUP_DESCRIPTION,
	GROUP_FIELD_COUNT
};

struct fault;

/* Settings that apply whatever the users come from. */
struct dataset_control {
	const char *app_id;
	const char *token;      /* NULL: every Authorization is accepted */
	bool forbidden;
	long rate_limit;        /* X-Rate-Limit-Limit, requests per minute */
	bool rate_limit_enforce; /* respond 429 once the window is used up */
	struct fault *faults;
	size_t fault_count;
	struct oauth_settings *oauth;   /* the "oauth" object; NULL when absent */
};

/*
 * Views of one user, group or app assignment of a dataset.  They are valid
 * while the dataset is; read them with the functions below, because the id
 * of a synthetic record lives in the view itself.
 */
struct fake_user {
	const struct dataset *dataset;
	size_t index;
	char synthetic_id[32];
};

struct fake_group {
	const struct dataset *dataset;
	size_t index;
	char synthetic_id[32];
};

struct fake_assignment {
	struct fake_user user;
	bool by_group;          /* scope GROUP rather than USER */
	struct fake_group group; /* the granting group when by_group */
	unsigned int sub;       /* 1 for the second entry of a duplicated user */
};

struct dataset_options {
	const char *path;       /* --data, or NULL */
	long synthetic_users;   /* --synthetic; 0 reads users from path */
	long synthetic_groups;  /* --groups */
	long synthetic_churn;   /* --churn: percent of the users changed */
	bool control_only;      /* the file may contain only settings */
};

struct dataset_store;

/* Creates the store; the dataset itself is read by the first acquire. */
struct dataset_store *dataset_store_new(const struct dataset_options *options);
void dataset_store_free(struct dataset_store *store);

/*
 * Returns the current dataset with a reference taken, after reloading the
 * file when its size, mtime or inode changed.  Returns NULL when the file
 * is missing or invalid, and copies the reason into err.  Thread-safe.
 */
struct dataset *dataset_store_acquire(struct dataset_store *store, char *err, size_t err_len);

/* Drops a reference from dataset_store_acquire().  Thread-safe. */
void dataset_store_release(struct dataset_store *store, struct dataset *ds);

const struct dataset_control *dataset_control(const struct dataset *ds);

/* The app-user list: one entry per assigned user (two when duplicated). */
size_t dataset_assignment_count(const struct dataset *ds);
void dataset_assignment_at(const struct dataset *ds, size_t i, struct fake_assignment *out);

/* The groups assigned to the app, by id; priority is their assignment order. */
size_t dataset_app_group_count(const struct dataset *ds);
void dataset_app_group_at(const struct dataset *ds, size_t i, struct fake_group *out,
			  long *priority);

/* Finds a user by id, or else by login (any case). */
bool dataset_find_user(const struct dataset *ds, const char *key, struct fake_user *out);
bool dataset_find_group(const struct dataset *ds, const char *id, struct fake_group *out);

/* The members of a group, by id. */
size_t dataset_member_count(const struct fake_group *group);
void dataset_member_at(const struct fake_group *group, size_t i, struct fake_user *out);

const char *user_id(const struct fake_user *user);

/* Appends the JSON text of a field; false (nothing appended) when absent. */
bool user_field(const struct fake_user *user, enum user_field field, struct buf *out);

/* Returns the Okta status: "ACTIVE" when absent, NULL when not a string. */
const char *user_status(const struct fake_user *user);

/* Extra profile attributes and the verbatim user object, or NULL. */
const cJSON *user_profile(const struct fake_user *user);
const cJSON *user_raw(const struct fake_user *user);

const char *group_id(const struct fake_group *group);
bool group_field(const struct fake_group *group, enum group_field field, struct buf *out);

/* ---- graph.c, graph_data.c, graph_render.c: Microsoft Graph ------------ */

struct graph_data;

/* True for the paths the Graph personality serves: /v1.0/... and /beta/... */
bool graph_path(const char *path);

/*
 * Checks the Bearer token of a Graph request.  Returns true when the
 * request may go on; otherwise ex->response contains the 401 error.
 */
bool graph_check_access(struct fake_exchange *ex);

/*
 * Reads the dataset's "graph" object (item may be NULL) into *out.  With
 * synthetic_users > 0 the directory is generated, churn_percent of its
 * direct assignments changed, and item may hold only settings.  On failure
 * err contains the reason and *out is NULL.
 */
bool graph_data_load(const cJSON *item, long synthetic_users, long synthetic_groups,
		     long churn_percent, struct graph_data **out, char *err, size_t err_len);
void graph_data_free(struct graph_data *gd);

/* The Graph directory of ds. */
const struct graph_data *dataset_graph(const struct dataset *ds);

/* ---- fault.c ------------------------------------------------------------ */

enum fault_kind {
	FAULT_STATUS,
	FAULT_RATE_LIMIT,
	FAULT_TRUNCATE,
	FAULT_MALFORMED,
	FAULT_BODY,
	FAULT_RESET,
	FAULT_SLOW,
	FAULT_HEADERS,
	FAULT_LOOP,
	FAULT_OVERSIZE,
	FAULT_SLOW_BODY,
	FAULT_LOOP_NEW_CURSOR,
};

/* One entry of the dataset's "faults"; strings point into the dataset JSON. */
struct fault {
	enum fault_kind kind;
	const char *path;       /* prefix of the request path; NULL matches all */
	const char *method;     /* NULL matches all */
	int page;               /* 1-based listing page; 0 matches all */
	long count;             /* times it fires; -1 forever */
	long skip;              /* matching requests let through first */
	unsigned int status;
	const char *error_code;
	const char *error_summary;
	long reset_in;          /* seconds, rate_limit */
	const char *retry_after;
	bool reset_header_repeat;
	const cJSON *body;      /* string or any JSON value, body */
	long delay_ms;
	long long bytes;        /* body size, oversize */
	bool chunked;           /* oversize: send without Content-Length */
	const cJSON *headers;   /* object of string or string-array values */
	long matched;           /* requests that matched path, method and page */
	long fired;
};

/* Parses one fault object.  On failure err names the bad key. */
bool fault_parse(const cJSON *item, struct fault *out, char *err, size_t err_len);

/*
 * Returns the first fault that fires for req on page and counts it, or
 * NULL.  The caller serialises calls, because the counters change.
 */
struct fault *fault_pick(struct fault *faults, size_t count,
			 const struct fake_request *req, int page);

/*
 * Applies the part of f that replaces the normal response.  Returns true
 * when ex->response is complete.  Returns false when the personality must
 * still build the response, and fault_finish() must run after it.
 */
bool fault_respond(struct fake_exchange *ex, const struct fault *f);
void fault_finish(struct fake_exchange *ex, const struct fault *f);

/* ---- replay.c ----------------------------------------------------------- */

/* One --replay file, with the --replay-status and --replay-path after it. */
struct replay_file {
	const char *name;
	unsigned int body_status;   /* 0 means 200 */
	const char *body_path;      /* required for a body-only file */
};

/* Loads the files in order.  Returns NULL with the reason in err. */
struct replay *replay_load(const struct replay_file *files, size_t count,
			   char *err, size_t err_len);
void replay_free(struct replay *replay);

/* ---- reqlog.c ----------------------------------------------------------- */

struct reqlog;

/* Opens path for appending.  Returns NULL with errno set. */
struct reqlog *reqlog_open(const char *path);
void reqlog_close(struct reqlog *log);

/* Appends one JSON line for ex and flushes it.  Thread-safe. */
void reqlog_write(struct reqlog *log, const struct fake_exchange *ex);

/* ---- server.c ----------------------------------------------------------- */

struct server_options {
	unsigned short port;    /* 0 picks a free one */
	long latency_ms;
	struct dataset_store *store;    /* borrowed */
	struct replay *replay;          /* borrowed; NULL without --replay */
	struct reqlog *log;             /* borrowed; NULL without --log */
};

struct server;

/* Starts listening on 127.0.0.1.  Returns NULL after printing why. */
struct server *server_start(const struct server_options *options);
unsigned short server_port(const struct server *srv);

/*
 * Picks the fault for req, a sub-request of ex's $batch, as for a request
 * of its own.  Thread-safe.
 */
struct fault *server_pick_fault(struct fake_exchange *ex, const struct fake_request *req);

/*
 * Stops the daemon, waking held responses and waiting for every connection
 * thread, then frees srv.  Returns the number of responses queued.
 */
uint64_t server_stop(struct server *srv);

#endif
