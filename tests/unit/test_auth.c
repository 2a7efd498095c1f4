/*
 * test_auth.c - credential headers, token requests, token caching and the
 * explanation of token errors.
 *
 * Token requests go to a small HTTP server on 127.0.0.1 that records each
 * request and sends canned responses in order.  Recorded token error bodies
 * are read from $ROSTERSYNC_FIXTURES/graph and okta (default
 * ../shared/fixtures); the tests that need them skip when they are absent.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "unit.h"
#include "capture.h"

#include "auth.h"
#include "config.h"
#include "http.h"
#include "jwt.h"
#include "log.h"
#include "oauth.h"
#include "secret.h"

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

#define CLIENT_SECRET "s3cr+et/va=lue&x"
#define ACCESS_TOKEN "eyJ0eXAi.access-token-value.sig"

/* ---- a loopback token server ---- */

#define MAX_REQUESTS 16

struct token_server {
	int listen_fd;
	int port;
	pthread_t thread;
	char replies[8][4096];    /* sent in order; the last one repeats */
	size_t reply_count;
	char heads[MAX_REQUESTS][4096];   /* request line and headers */
	char bodies[MAX_REQUESTS][4096];
	size_t request_count;
};

static size_t content_length(const char *head)
{
	const char *field = strcasestr(head, "\r\nContent-Length:");

	return field ? strtoul(field + 17, NULL, 10) : 0;
}

/* Reads one request into head and body; false at the end of the connection. */
static bool read_request(int fd, char *head, size_t head_size, char *body, size_t body_size)
{
	char buffer[8192];
	size_t len = 0;
	char *end;
	size_t head_len;
	size_t body_len;

	buffer[0] = '\0';
	while ((end = strstr(buffer, "\r\n\r\n")) == NULL) {
		ssize_t got = recv(fd, buffer + len, sizeof(buffer) - len - 1, 0);

		if (got <= 0)
			return false;
		len += (size_t)got;
		buffer[len] = '\0';
	}
	head_len = (size_t)(end - buffer) + 4;
	snprintf(head, head_size, "%.*s", (int)head_len, buffer);
	body_len = content_length(head);
	while (len < head_len + body_len && len < sizeof(buffer) - 1) {
		ssize_t got = recv(fd, buffer + len, sizeof(buffer) - len - 1, 0);

		if (got <= 0)
			return false;
		len += (size_t)got;
	}
	snprintf(body, body_size, "%.*s", (int)body_len, buffer + head_len);
	return true;
}

static void *token_server_main(void *context)
{
	struct token_server *server = context;
	char head[4096];
	char body[4096];
	int fd;

	while ((fd = accept(server->listen_fd, NULL, NULL)) >= 0) {
		while (read_request(fd, head, sizeof(head), body, sizeof(body))) {
			size_t n = server->request_count;
			const char *reply = server->replies[n < server->reply_count ? n :
							    server->reply_count - 1];

			if (n < MAX_REQUESTS) {
				snprintf(server->heads[n], sizeof(server->heads[n]), "%s", head);
				snprintf(server->bodies[n], sizeof(server->bodies[n]), "%s", body);
			}
			server->request_count++;
			if (send(fd, reply, strlen(reply), MSG_NOSIGNAL) < 0)
				break;
		}
		close(fd);
	}
	return NULL;
}

/* Adds the next reply: status, extra header lines (each ending in CRLF) and body. */
static void add_reply(struct token_server *server, int status, const char *headers,
		      const char *body)
{
	assert_true(server->reply_count < COUNT(server->replies));
	snprintf(server->replies[server->reply_count++], sizeof(server->replies[0]),
		 "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n%sContent-Length: %zu\r\n\r\n%s",
		 status, headers ? headers : "", strlen(body), body);
}

static void token_server_start(struct token_server *server)
{
	struct sockaddr_in address = { 0 };
	socklen_t length = sizeof(address);

	memset(server, 0, sizeof(*server));
	server->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(server->listen_fd >= 0);
	address.sin_family = AF_INET;
	address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(server->listen_fd, (struct sockaddr *)&address, sizeof(address)), 0);
	assert_int_equal(listen(server->listen_fd, 8), 0);
	assert_int_equal(getsockname(server->listen_fd, (struct sockaddr *)&address, &length), 0);
	server->port = ntohs(address.sin_port);
	assert_int_equal(pthread_create(&server->thread, NULL, token_server_main, server), 0);
}

static void token_server_stop(struct token_server *server)
{
	shutdown(server->listen_fd, SHUT_RDWR);
	close(server->listen_fd);
	pthread_join(server->thread, NULL);
}

/* ---- fixtures ---- */

/* A Graph config pointing at the loopback server, with the secret in a file. */
struct graph_fixture {
	struct token_server server;
	struct config config;
	char dir[64];
	char secret_path[128];
	char login_url[64];
	char graph_url[64];
	struct http_client *http;
	struct auth *auth;
	double now;
};

static double fake_clock(void *context)
{
	return *(const double *)context;
}

static void write_file(const char *path, const char *text)
{
	FILE *file = fopen(path, "w");

	assert_non_null(file);
	assert_true(fputs(text, file) >= 0);
	assert_int_equal(fclose(file), 0);
	assert_int_equal(chmod(path, 0600), 0);
}

static void graph_fixture_start(struct graph_fixture *fixture)
{
	struct http_options options = { 5, 0, 0, 1, NULL, NULL, 0 };

	memset(fixture, 0, sizeof(*fixture));
	token_server_start(&fixture->server);
	snprintf(fixture->dir, sizeof(fixture->dir), "/tmp/rs-auth-XXXXXX");
	assert_non_null(mkdtemp(fixture->dir));
	snprintf(fixture->secret_path, sizeof(fixture->secret_path), "%s/secret", fixture->dir);
	write_file(fixture->secret_path, CLIENT_SECRET "\n");
	snprintf(fixture->login_url, sizeof(fixture->login_url), "http://127.0.0.1:%d",
		 fixture->server.port);
	snprintf(fixture->graph_url, sizeof(fixture->graph_url), "http://127.0.0.1:%d",
		 fixture->server.port);

	fixture->config.path = "test.yaml";
	fixture->config.tenant = "test";
	fixture->config.source = CONFIG_SOURCE_GRAPH;
	fixture->config.graph.tenant_id = "contoso.example";
	fixture->config.graph.client_id = "11111111-2222-3333-4444-555555555555";
	fixture->config.graph.client_secret_file = fixture->secret_path;
	fixture->config.graph.login_url = fixture->login_url;
	fixture->config.graph.graph_url = fixture->graph_url;
	assert_int_equal(http_client_new(&options, &fixture->http), RS_OK);
}

static void graph_fixture_new_auth(struct graph_fixture *fixture)
{
	assert_int_equal(auth_new(&fixture->config, fixture->http, &fixture->auth), RS_OK);
	auth_set_clock(fixture->auth, fake_clock, &fixture->now);
}

static void graph_fixture_stop(struct graph_fixture *fixture)
{
	char path[160];

	auth_free(fixture->auth);
	http_client_free(fixture->http);
	token_server_stop(&fixture->server);
	unlink(fixture->secret_path);
	snprintf(path, sizeof(path), "%s", fixture->dir);
	rmdir(path);
}

/* Calls auth_headers() with the log captured, expecting err; *logged is freed by the caller. */
static char **headers_logged(struct auth *auth, const char *url, enum rs_err expected,
			     char **logged)
{
	struct capture capture;
	char **headers = NULL;
	enum rs_err err;

	capture_start(&capture);
	err = auth_headers(auth, "GET", url, &headers);
	*logged = capture_stop(&capture);
	if (err != expected)
		fail_msg("auth_headers returned %s, expected %s:\n%s", err_name(err),
			 err_name(expected), *logged);
	return headers;
}

#define TOKEN_OK "{\"token_type\":\"Bearer\",\"expires_in\":3599,\"ext_expires_in\":3599," \
		 "\"access_token\":\"" ACCESS_TOKEN "\"}"

/* ---- API token ---- */

static void api_token_header(void **state)
{
	struct secret *token = secret_new("00abc-DEF_123", 13);
	struct auth *auth = NULL;
	char **headers = NULL;

	(void)state;
	assert_int_equal(auth_new_api_token(token, "okta.api_token_file (test)", &auth), RS_OK);
	assert_int_equal(auth_headers(auth, "GET", "https://a.example/api/v1/apps", &headers), RS_OK);
	assert_string_equal(headers[0], "Authorization: SSWS 00abc-DEF_123");
	assert_null(headers[1]);
	assert_false(auth_uses_oauth(auth));
	assert_false(auth_invalidate(auth));
	auth_headers_free(headers);
	auth_free(auth);
	secret_free(token);
}

static void api_token_rejects_unsafe_bytes(void **state)
{
	static const char *const tokens[] = { "abc\r\nX-Evil: 1", "ab c", "", "t\xc3\xa9st" };

	(void)state;
	for (size_t i = 0; i < COUNT(tokens); i++) {
		struct secret *token = secret_new(tokens[i], strlen(tokens[i]));
		struct auth *auth = NULL;
		struct capture capture;
		char *logged;

		capture_start(&capture);
		assert_int_equal(auth_new_api_token(token, "okta.api_token_file (test)", &auth), RS_ERR_CONFIG);
		logged = capture_stop(&capture);
		assert_null(auth);
		expect_logged(logged, "check okta.api_token_file (test)");
		if (tokens[i][0] != '\0')
			assert_null(strstr(logged, tokens[i]));
		free(logged);
		secret_free(token);
	}
}

/* ---- Entra client secret ---- */

static void graph_secret_token_request(void **state)
{
	struct graph_fixture fixture;
	char expected_body[512];
	char **headers;
	char *logged;

	(void)state;
	graph_fixture_start(&fixture);
	add_reply(&fixture.server, 200, NULL, TOKEN_OK);
	graph_fixture_new_auth(&fixture);
	assert_true(auth_uses_oauth(fixture.auth));

	headers = headers_logged(fixture.auth, "https://graph.example/v1.0/users", RS_OK, &logged);
	assert_string_equal(headers[0], "Authorization: Bearer " ACCESS_TOKEN);
	assert_null(headers[1]);
	auth_headers_free(headers);
	graph_fixture_stop(&fixture);

	assert_int_equal(fixture.server.request_count, 1);
	assert_non_null(strstr(fixture.server.heads[0],
			       "POST /contoso.example/oauth2/v2.0/token HTTP/1.1\r\n"));
	assert_non_null(strstr(fixture.server.heads[0],
			       "\r\nContent-Type: application/x-www-form-urlencoded\r\n"));
	snprintf(expected_body, sizeof(expected_body),
		 "client_id=11111111-2222-3333-4444-555555555555"
		 "&scope=http%%3A%%2F%%2F127.0.0.1%%3A%d%%2F.default"
		 "&client_secret=s3cr%%2Bet%%2Fva%%3Dlue%%26x"
		 "&grant_type=client_credentials", fixture.server.port);
	assert_string_equal(fixture.server.bodies[0], expected_body);

	expect_logged(logged, "fetched an access token from http://127.0.0.1:");
	expect_logged(logged, "valid for 3599 s");
	assert_null(strstr(logged, ACCESS_TOKEN));
	assert_null(strstr(logged, "s3cr"));
	free(logged);
}

static void graph_token_cached_until_expiry(void **state)
{
	struct graph_fixture fixture;
	char **headers;
	char *logged;

	(void)state;
	graph_fixture_start(&fixture);
	add_reply(&fixture.server, 200, NULL, TOKEN_OK);
	graph_fixture_new_auth(&fixture);

	fixture.now = 100;
	headers = headers_logged(fixture.auth, "https://g.example/a", RS_OK, &logged);
	auth_headers_free(headers);
	free(logged);

	/* 3599 s minus the 60 s margin: still cached 3538 s later, not 3540 s later. */
	fixture.now = 100 + 3538;
	headers = headers_logged(fixture.auth, "https://g.example/b", RS_OK, &logged);
	auth_headers_free(headers);
	free(logged);
	assert_int_equal(fixture.server.request_count, 1);

	fixture.now = 100 + 3540;
	headers = headers_logged(fixture.auth, "https://g.example/c", RS_OK, &logged);
	auth_headers_free(headers);
	free(logged);
	graph_fixture_stop(&fixture);
	assert_int_equal(fixture.server.request_count, 2);
}

static void graph_short_token_margin(void **state)
{
	struct graph_fixture fixture;
	char **headers;
	char *logged;

	(void)state;
	graph_fixture_start(&fixture);
	add_reply(&fixture.server, 200, NULL,
		  "{\"token_type\":\"bearer\",\"expires_in\":\"10\",\"access_token\":\"short\"}");
	graph_fixture_new_auth(&fixture);

	headers = headers_logged(fixture.auth, "https://g.example/a", RS_OK, &logged);
	assert_string_equal(headers[0], "Authorization: Bearer short");
	auth_headers_free(headers);
	free(logged);

	/* A 10 s token is replaced after half its lifetime. */
	fixture.now = 4.9;
	headers = headers_logged(fixture.auth, "https://g.example/a", RS_OK, &logged);
	auth_headers_free(headers);
	free(logged);
	assert_int_equal(fixture.server.request_count, 1);
	fixture.now = 5.1;
	headers = headers_logged(fixture.auth, "https://g.example/a", RS_OK, &logged);
	auth_headers_free(headers);
	free(logged);
	graph_fixture_stop(&fixture);
	assert_int_equal(fixture.server.request_count, 2);
}

static void graph_invalidate_only_once(void **state)
{
	struct graph_fixture fixture;
	char **headers;
	char *logged;

	(void)state;
	graph_fixture_start(&fixture);
	add_reply(&fixture.server, 200, NULL, TOKEN_OK);
	graph_fixture_new_auth(&fixture);

	headers = headers_logged(fixture.auth, "https://g.example/a", RS_OK, &logged);
	auth_headers_free(headers);
	free(logged);
	assert_true(auth_invalidate(fixture.auth));
	headers = headers_logged(fixture.auth, "https://g.example/a", RS_OK, &logged);
	auth_headers_free(headers);
	free(logged);
	assert_int_equal(fixture.server.request_count, 2);
	assert_false(auth_invalidate(fixture.auth));
	graph_fixture_stop(&fixture);
}

static void graph_token_bad_responses(void **state)
{
	static const struct {
		const char *body;
		const char *message;
	} cases[] = {
		{ "[]", "the token response is not a JSON object" },
		{ "{\"token_type\":\"Bearer\",\"expires_in\":3600}", "has no valid access_token" },
		{ "{\"token_type\":\"Bearer\",\"access_token\":\"a b\"}", "has no valid access_token" },
		{ "{\"access_token\":\"abc\"}", "has no valid token_type" },
		{ "{\"token_type\":\"Bearer\",\"access_token\":\"abc\",\"expires_in\":-5}",
		  "invalid expires_in" },
		{ "{\"token_type\":\"mac\",\"access_token\":\"abc\"}",
		  "returned token_type \"mac\", expected Bearer" },
	};

	(void)state;
	for (size_t i = 0; i < COUNT(cases); i++) {
		struct graph_fixture fixture;
		char **headers;
		char *logged;

		graph_fixture_start(&fixture);
		add_reply(&fixture.server, 200, NULL, cases[i].body);
		graph_fixture_new_auth(&fixture);
		headers = headers_logged(fixture.auth, "https://g.example/a", RS_ERR_PROTOCOL,
					 &logged);
		assert_null(headers);
		expect_logged(logged, cases[i].message);
		free(logged);
		graph_fixture_stop(&fixture);
	}
}

/* ---- token errors ---- */

static bool fixture_path(const char *kind, const char *name, char *out, size_t size)
{
	const char *root = getenv("ROSTERSYNC_FIXTURES");
	struct stat info;

	if (root == NULL || *root == '\0')
		root = "../shared/fixtures";
	snprintf(out, size, "%s/%s/%s", root, kind, name);
	if (stat(out, &info) == 0)
		return true;
	print_message("skipped: recorded response %s not found (set ROSTERSYNC_FIXTURES)\n", out);
	return false;
}

static char *read_text(const char *path)
{
	FILE *file = fopen(path, "rb");
	char *text;
	long size;

	assert_non_null(file);
	assert_int_equal(fseek(file, 0, SEEK_END), 0);
	size = ftell(file);
	assert_true(size >= 0);
	rewind(file);
	text = calloc(1, (size_t)size + 1);
	assert_non_null(text);
	assert_int_equal(fread(text, 1, (size_t)size, file), (size_t)size);
	fclose(file);
	return text;
}

/* Runs a Graph token request that gets status and body; returns the log. */
static char *graph_token_error(int status, const char *body, enum rs_err expected)
{
	struct graph_fixture fixture;
	char **headers;
	char *logged;

	graph_fixture_start(&fixture);
	add_reply(&fixture.server, status, "request-id: req-77\r\n", body);
	graph_fixture_new_auth(&fixture);
	headers = headers_logged(fixture.auth, "https://g.example/a", expected, &logged);
	assert_null(headers);
	graph_fixture_stop(&fixture);
	assert_null(strstr(logged, "s3cr"));
	return logged;
}

struct error_case {
	const char *file;      /* recorded body, or NULL to use body */
	const char *body;
	int status;
	const char *messages[3];
};

static void graph_token_errors_explained(void **state)
{
	static const struct error_case cases[] = {
		{ "token-error-7000215-invalid-secret.json", NULL, 401,
		  { "returned 401 invalid_client: AADSTS7000215: Invalid client "
		    "secret provided.", "the secret's Value, not its Secret ID",
		    "[trace id 00000000-0000-0000-0000-0000000000a1, correlation id "
		    "00000000-0000-0000-0000-0000000000b1]" } },
		{ "token-error-700016-app-not-found.json", NULL, 400,
		  { "unauthorized_client: AADSTS700016: Application with", "check graph.client_id",
		    "trace id 00000000-0000-0000-0000-0000000000a2" } },
		{ "token-error-90002-tenant-not-found.json", NULL, 400,
		  { "invalid_tenant: AADSTS90002: Tenant", "check graph.tenant_id, and graph.cloud",
		    "correlation id 00000000-0000-0000-0000-0000000000b3" } },
		{ "token-error-invalid-scope.json", NULL, 400,
		  { "invalid_scope: AADSTS70011: The provided value", "check graph.graph_url and graph.cloud",
		    "trace id 0000aaaa-11bb-cccc-dd33-eeeeee333333" } },
		{ NULL, "{\"error\":\"invalid_client\",\"error_description\":\"AADSTS7000222: The "
		  "provided client secret keys are expired.\\r\\nTrace ID: t-1\",\"error_codes\":"
		  "[7000222],\"trace_id\":\"t-1\",\"correlation_id\":\"c-1\"}", 401,
		  { "invalid_client: AADSTS7000222: The provided", "the client secret has expired: create a new one",
		    "[trace id t-1, correlation id c-1]" } },
		{ NULL, "{\"error\":\"invalid_grant\",\"error_description\":\"AADSTS65001: The user "
		  "or administrator has not consented.\",\"error_codes\":[65001]}", 400,
		  { "invalid_grant: AADSTS65001: The user", "grant admin consent for the application permissions",
		    "[request id req-77]" } },
		{ NULL, "{\"error\":\"invalid_client\",\"error_codes\":[700027],\"trace_id\":\"t\"}",
		  401, { "invalid_client (AADSTS700027);", "upload the certificate in graph.certificate_file",
			 "[trace id t]" } },
		{ NULL, "{\"error\":\"invalid_client\",\"error_codes\":[700024]}", 400,
		  { "invalid_client (AADSTS700024);", "check that this machine's clock is correct", NULL } },
		{ NULL, "{\"error\":\"consent_required\"}", 400,
		  { "returned 400 consent_required;", "grant admin consent", NULL } },
	};

	(void)state;
	for (size_t i = 0; i < COUNT(cases); i++) {
		char path[512];
		char *body = NULL;
		char *logged;

		if (cases[i].file != NULL) {
			if (!fixture_path("graph", cases[i].file, path, sizeof(path)))
				continue;
			body = read_text(path);
		}
		logged = graph_token_error(cases[i].status, body ? body : cases[i].body,
					   RS_ERR_PERMISSION);
		for (size_t j = 0; j < COUNT(cases[i].messages) && cases[i].messages[j]; j++)
			expect_logged(logged, cases[i].messages[j]);
		free(logged);
		free(body);
	}
}

static void graph_token_error_results(void **state)
{
	char *logged;

	(void)state;
	logged = graph_token_error(400, "{\"error\":\"temporarily_unavailable\"}",
				   RS_ERR_UNAVAILABLE);
	expect_logged(logged, "temporarily unavailable: run again later");
	free(logged);

	logged = graph_token_error(400, "{\"error\":\"invalid_request\",\"error_codes\":[90055]}",
				   RS_ERR_TEMPFAIL);
	expect_logged(logged, "throttling token requests");
	free(logged);

	logged = graph_token_error(404, "<html>not here</html>", RS_ERR_CONFIG);
	expect_logged(logged, "returned 404: \"<html>not here</html>\"");
	expect_logged(logged, "check graph.login_url and graph.tenant_id");
	free(logged);

	logged = graph_token_error(400, "", RS_ERR_PROTOCOL);
	expect_logged(logged, "returned 400 with an empty body");
	free(logged);

	/* A gateway's own page for a rejected request is still a rejection. */
	logged = graph_token_error(401, "<html>401 Unauthorized</html>", RS_ERR_PERMISSION);
	expect_logged(logged, "returned 401: \"<html>401 Unauthorized</html>\"");
	free(logged);
	logged = graph_token_error(403, "<html>Forbidden</html>", RS_ERR_PERMISSION);
	expect_logged(logged, "returned 403: \"<html>Forbidden</html>\"");
	free(logged);
}

/* ---- reading what was sent ---- */

/* Returns the decoded value of field name in a form body, or NULL; free it. */
static char *form_field(const char *body, const char *name)
{
	size_t name_len = strlen(name);
	const char *p = body;

	while (p != NULL && *p != '\0') {
		const char *end = strchr(p, '&');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (len > name_len && strncmp(p, name, name_len) == 0 && p[name_len] == '=') {
			int out_len = 0;
			char *raw = curl_easy_unescape(NULL, p + name_len + 1,
						       (int)(len - name_len - 1), &out_len);
			char *value = strndup(raw, (size_t)out_len);

			curl_free(raw);
			return value;
		}
		p = end ? end + 1 : NULL;
	}
	return NULL;
}

/* Returns the value of header name in a recorded request head, or NULL; free it. */
static char *head_field(const char *head, const char *name)
{
	char pattern[64];
	const char *start;

	snprintf(pattern, sizeof(pattern), "\r\n%s: ", name);
	start = strcasestr(head, pattern);
	if (start == NULL)
		return NULL;
	start += strlen(pattern);
	return strndup(start, strcspn(start, "\r"));
}

/*
 * Turns len bytes of base64url at text into padded base64 in place; text
 * must have room for 3 more bytes.  Returns the new length.
 */
static size_t base64url_to_base64(char *text, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (text[i] == '-')
			text[i] = '+';
		else if (text[i] == '_')
			text[i] = '/';
	}
	while (len % 4 != 0)
		text[len++] = '=';
	return len;
}

/* Decodes one base64url part of a JWT into a cJSON object. */
static cJSON *jwt_part(const char *token, int index)
{
	const char *start = token;
	size_t len;
	char *copy;
	unsigned char *bytes;
	cJSON *json;
	int decoded;

	for (int i = 0; i < index; i++) {
		start = strchr(start, '.');
		assert_non_null(start);
		start++;
	}
	len = strcspn(start, ".");
	copy = calloc(1, len + 4);
	bytes = calloc(1, len + 4);
	assert_non_null(copy);
	assert_non_null(bytes);
	memcpy(copy, start, len);
	len = base64url_to_base64(copy, len);
	decoded = EVP_DecodeBlock(bytes, (unsigned char *)copy, (int)len);
	assert_true(decoded > 0);
	json = cJSON_Parse((const char *)bytes);
	assert_non_null(json);
	free(copy);
	free(bytes);
	return json;
}

static const char *json_text(const cJSON *object, const char *name)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, name);

	if (!cJSON_IsString(item))
		fail_msg("JSON member %s is missing or not a string", name);
	return item->valuestring;
}

static double json_number(const cJSON *object, const char *name)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, name);

	if (!cJSON_IsNumber(item))
		fail_msg("JSON member %s is missing or not a number", name);
	return item->valuedouble;
}

/* Writes pkey as a PEM private key file of mode 0600. */
static void write_key(const char *path, EVP_PKEY *pkey)
{
	FILE *file = fopen(path, "w");

	assert_non_null(file);
	assert_int_equal(PEM_write_PrivateKey(file, pkey, NULL, NULL, 0, NULL, NULL), 1);
	assert_int_equal(fclose(file), 0);
	assert_int_equal(chmod(path, 0600), 0);
}

/* Writes a self-signed certificate of pkey; returns its SHA-256 or SHA-1 thumbprint. */
static char *write_certificate(const char *path, EVP_PKEY *pkey, bool sha256)
{
	X509 *x509 = X509_new();
	FILE *file = fopen(path, "w");
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int digest_len = 0;
	char *thumbprint;

	assert_non_null(x509);
	assert_non_null(file);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x509), 7), 1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x509), 0));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x509), 365L * 86400));
	assert_int_equal(X509_set_pubkey(x509, pkey), 1);
	assert_int_equal(X509_NAME_add_entry_by_txt(X509_get_subject_name(x509), "CN", MBSTRING_ASC,
						    (const unsigned char *)"rostersync", -1, -1, 0), 1);
	assert_int_equal(X509_set_issuer_name(x509, X509_get_subject_name(x509)), 1);
	assert_true(X509_sign(x509, pkey, EVP_sha256()) > 0);
	assert_int_equal(PEM_write_X509(file, x509), 1);
	assert_int_equal(fclose(file), 0);
	assert_int_equal(X509_digest(x509, sha256 ? EVP_sha256() : EVP_sha1(), digest, &digest_len), 1);
	thumbprint = jwt_base64url(digest, digest_len);
	X509_free(x509);
	return thumbprint;
}

/* Verifies the signature of a compact JWS with pkey. */
static bool signature_valid(const char *token, EVP_PKEY *pkey, bool pss)
{
	const char *dot = strrchr(token, '.');
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	size_t encoded_len = strlen(dot + 1);
	char *copy = calloc(1, encoded_len + 4);
	unsigned char *signature = calloc(1, encoded_len + 4);
	size_t len = encoded_len;
	int decoded;
	int verified;

	memcpy(copy, dot + 1, encoded_len);
	len = base64url_to_base64(copy, len);
	decoded = EVP_DecodeBlock(signature, (unsigned char *)copy, (int)len);
	assert_true(decoded > 0);
	decoded -= (int)(len - encoded_len);
	assert_int_equal(EVP_DigestVerifyInit(ctx, &pctx, EVP_sha256(), NULL, pkey), 1);
	if (pss) {
		assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
		assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32), 1);
	}
	verified = EVP_DigestVerify(ctx, signature, (size_t)decoded, (const unsigned char *)token,
				    (size_t)(dot - token));
	EVP_MD_CTX_free(ctx);
	free(copy);
	free(signature);
	return verified == 1;
}

/* ---- Entra certificate ---- */

struct certificate_files {
	char certificate[160];
	char key[160];
	EVP_PKEY *pkey;
	char *thumbprint;
};

static void certificate_files_write(struct graph_fixture *fixture, struct certificate_files *files,
				    bool sha256)
{
	files->pkey = EVP_RSA_gen(2048);
	assert_non_null(files->pkey);
	snprintf(files->certificate, sizeof(files->certificate), "%s/app.crt", fixture->dir);
	snprintf(files->key, sizeof(files->key), "%s/app.key", fixture->dir);
	write_key(files->key, files->pkey);
	files->thumbprint = write_certificate(files->certificate, files->pkey, sha256);
	fixture->config.graph.client_secret_file = NULL;
	fixture->config.graph.certificate_file = files->certificate;
	fixture->config.graph.private_key_file = files->key;
}

static void certificate_files_remove(struct certificate_files *files)
{
	unlink(files->certificate);
	unlink(files->key);
	EVP_PKEY_free(files->pkey);
	free(files->thumbprint);
}

static void graph_certificate_assertion(void **state)
{
	static const struct {
		enum config_assertion_algorithm algorithm;
		const char *alg;
		const char *header;
	} cases[] = {
		{ CONFIG_ASSERTION_PS256, "PS256", "x5t#S256" },
		{ CONFIG_ASSERTION_RS256, "RS256", "x5t" },
	};

	(void)state;
	for (size_t i = 0; i < COUNT(cases); i++) {
		struct graph_fixture fixture;
		struct certificate_files files;
		char token_url[160];
		char **headers;
		char *logged;
		char *assertion;
		char *type;
		cJSON *header;
		cJSON *claims;
		bool pss = cases[i].algorithm == CONFIG_ASSERTION_PS256;

		graph_fixture_start(&fixture);
		certificate_files_write(&fixture, &files, pss);
		fixture.config.graph.assertion_algorithm = cases[i].algorithm;
		add_reply(&fixture.server, 200, NULL, TOKEN_OK);
		graph_fixture_new_auth(&fixture);
		headers = headers_logged(fixture.auth, "https://g.example/a", RS_OK, &logged);
		assert_string_equal(headers[0], "Authorization: Bearer " ACCESS_TOKEN);
		auth_headers_free(headers);
		graph_fixture_stop(&fixture);

		assert_null(form_field(fixture.server.bodies[0], "client_secret"));
		type = form_field(fixture.server.bodies[0], "client_assertion_type");
		assert_string_equal(type, "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
		assertion = form_field(fixture.server.bodies[0], "client_assertion");
		assert_non_null(assertion);
		header = jwt_part(assertion, 0);
		claims = jwt_part(assertion, 1);
		snprintf(token_url, sizeof(token_url),
			 "http://127.0.0.1:%d/contoso.example/oauth2/v2.0/token", fixture.server.port);

		assert_string_equal(json_text(header, "alg"), cases[i].alg);
		assert_string_equal(json_text(header, "typ"), "JWT");
		assert_string_equal(json_text(header, cases[i].header), files.thumbprint);
		assert_string_equal(json_text(claims, "aud"), token_url);
		assert_string_equal(json_text(claims, "iss"), fixture.config.graph.client_id);
		assert_string_equal(json_text(claims, "sub"), fixture.config.graph.client_id);
		assert_int_equal(strlen(json_text(claims, "jti")), 36);
		assert_true(json_number(claims, "nbf") == json_number(claims, "iat"));
		assert_true(json_number(claims, "exp") == json_number(claims, "iat") + 300);
		assert_true(signature_valid(assertion, files.pkey, pss));
		assert_null(strstr(logged, assertion));

		cJSON_Delete(header);
		cJSON_Delete(claims);
		free(assertion);
		free(type);
		free(logged);
		certificate_files_remove(&files);
	}
}

static void graph_certificate_wrong_key(void **state)
{
	struct graph_fixture fixture;
	struct certificate_files files;
	EVP_PKEY *other = EVP_RSA_gen(2048);
	struct capture capture;
	char *logged;

	(void)state;
	graph_fixture_start(&fixture);
	certificate_files_write(&fixture, &files, true);
	write_key(files.key, other);
	capture_start(&capture);
	assert_int_equal(auth_new(&fixture.config, fixture.http, &fixture.auth), RS_ERR_CONFIG);
	logged = capture_stop(&capture);
	expect_logged(logged, "graph.private_key_file is not the private key of "
			      "graph.certificate_file");
	assert_null(strstr(logged, "PRIVATE KEY"));
	free(logged);
	graph_fixture_stop(&fixture);
	certificate_files_remove(&files);
	EVP_PKEY_free(other);
	assert_int_equal(fixture.server.request_count, 0);
}

/* ---- Okta service app ---- */

struct okta_fixture {
	struct token_server server;
	struct config config;
	char dir[64];
	char key_path[128];
	char org_url[64];
	EVP_PKEY *pkey;
	struct http_client *http;
	struct auth *auth;
};

static void okta_fixture_start(struct okta_fixture *fixture, bool dpop, bool ec_key)
{
	struct http_options options = { 5, 0, 0, 1, NULL, NULL, 0 };

	memset(fixture, 0, sizeof(*fixture));
	token_server_start(&fixture->server);
	snprintf(fixture->dir, sizeof(fixture->dir), "/tmp/rs-auth-XXXXXX");
	assert_non_null(mkdtemp(fixture->dir));
	snprintf(fixture->key_path, sizeof(fixture->key_path), "%s/okta.pem", fixture->dir);
	fixture->pkey = ec_key ? EVP_EC_gen("P-256") : EVP_RSA_gen(2048);
	assert_non_null(fixture->pkey);
	write_key(fixture->key_path, fixture->pkey);
	snprintf(fixture->org_url, sizeof(fixture->org_url), "http://127.0.0.1:%d",
		 fixture->server.port);

	fixture->config.path = "test.yaml";
	fixture->config.tenant = "test";
	fixture->config.source = CONFIG_SOURCE_OKTA;
	fixture->config.okta.org_url = fixture->org_url;
	fixture->config.okta.app_id = "0oaapp1";
	fixture->config.okta.oauth.client_id = "0oaclient1";
	fixture->config.okta.oauth.private_key_file = fixture->key_path;
	fixture->config.okta.oauth.key_id = "kid-7";
	fixture->config.okta.oauth.dpop = dpop;
	assert_int_equal(http_client_new(&options, &fixture->http), RS_OK);
}

static void okta_fixture_stop(struct okta_fixture *fixture)
{
	auth_free(fixture->auth);
	http_client_free(fixture->http);
	token_server_stop(&fixture->server);
	unlink(fixture->key_path);
	rmdir(fixture->dir);
}

#define DPOP_TOKEN_OK "{\"token_type\":\"DPoP\",\"expires_in\":3600,\"access_token\":\"" \
		      ACCESS_TOKEN "\",\"scope\":\"okta.users.read okta.apps.read okta.groups.read\"}"
#define NONCE_ERROR "{\"error\":\"use_dpop_nonce\",\"error_description\":\"Authorization " \
		    "server requires nonce in DPoP proof.\"}"

/* Checks the form of an Okta token request and its client assertion. */
static void expect_okta_form(const struct okta_fixture *fixture, size_t index, const char *alg)
{
	const char *body = fixture->server.bodies[index];
	char token_url[128];
	char *value;
	char *assertion;
	cJSON *header;
	cJSON *claims;

	value = form_field(body, "grant_type");
	assert_string_equal(value, "client_credentials");
	free(value);
	value = form_field(body, "scope");
	assert_string_equal(value, "okta.apps.read okta.users.read okta.groups.read");
	free(value);
	assert_non_null(strstr(body, "scope=okta.apps.read%20okta.users.read%20okta.groups.read"));
	assert_null(form_field(body, "client_id"));
	assertion = form_field(body, "client_assertion");
	assert_non_null(assertion);

	header = jwt_part(assertion, 0);
	claims = jwt_part(assertion, 1);
	snprintf(token_url, sizeof(token_url), "%s/oauth2/v1/token", fixture->org_url);
	assert_string_equal(json_text(header, "alg"), alg);
	assert_string_equal(json_text(header, "kid"), "kid-7");
	assert_string_equal(json_text(claims, "aud"), token_url);
	assert_string_equal(json_text(claims, "iss"), "0oaclient1");
	assert_string_equal(json_text(claims, "sub"), "0oaclient1");
	assert_true(json_number(claims, "exp") == json_number(claims, "iat") + 300);
	assert_null(cJSON_GetObjectItemCaseSensitive(claims, "nbf"));
	if (strcmp(alg, "RS256") == 0)
		assert_true(signature_valid(assertion, fixture->pkey, false));
	cJSON_Delete(header);
	cJSON_Delete(claims);
	free(assertion);
}

/* Decodes the claims of the DPoP proof in a recorded request head. */
static cJSON *proof_claims(const char *head)
{
	char *proof = head_field(head, "DPoP");
	cJSON *header;
	cJSON *claims;

	assert_non_null(proof);
	header = jwt_part(proof, 0);
	assert_string_equal(json_text(header, "typ"), "dpop+jwt");
	assert_string_equal(json_text(header, "alg"), "ES256");
	assert_null(cJSON_GetObjectItemCaseSensitive(
		cJSON_GetObjectItemCaseSensitive(header, "jwk"), "d"));
	claims = jwt_part(proof, 1);
	cJSON_Delete(header);
	free(proof);
	return claims;
}

static void okta_dpop_nonce_round(void **state)
{
	struct okta_fixture fixture;
	struct capture capture;
	char token_url[128];
	char **headers = NULL;
	char *logged;
	cJSON *claims;
	cJSON *second;

	(void)state;
	okta_fixture_start(&fixture, true, false);
	add_reply(&fixture.server, 400, "DPoP-Nonce: n-1\r\n", NONCE_ERROR);
	add_reply(&fixture.server, 200, "DPoP-Nonce: n-1\r\n", DPOP_TOKEN_OK);
	capture_start(&capture);
	assert_int_equal(auth_new(&fixture.config, fixture.http, &fixture.auth), RS_OK);
	assert_int_equal(auth_headers(fixture.auth, "GET",
				      "https://acme.okta.com/api/v1/apps/0oaapp1/users?limit=500",
				      &headers), RS_OK);
	logged = capture_stop(&capture);

	assert_string_equal(headers[0], "Authorization: DPoP " ACCESS_TOKEN);
	assert_non_null(headers[1]);
	assert_null(headers[2]);
	assert_int_equal(strncmp(headers[1], "DPoP: ", 6), 0);
	claims = jwt_part(headers[1] + 6, 1);
	assert_string_equal(json_text(claims, "htm"), "GET");
	assert_string_equal(json_text(claims, "htu"), "https://acme.okta.com/api/v1/apps/0oaapp1/users");
	assert_string_equal(json_text(claims, "ath"), "rIu7iqIyPNuFRvxYfXPzjNZIV5nEWm1RRusbK9cMTV4");
	assert_null(cJSON_GetObjectItemCaseSensitive(claims, "nonce"));
	cJSON_Delete(claims);
	auth_headers_free(headers);
	okta_fixture_stop(&fixture);

	assert_int_equal(fixture.server.request_count, 2);
	snprintf(token_url, sizeof(token_url), "%s/oauth2/v1/token", fixture.org_url);
	claims = proof_claims(fixture.server.heads[0]);
	assert_string_equal(json_text(claims, "htm"), "POST");
	assert_string_equal(json_text(claims, "htu"), token_url);
	assert_null(cJSON_GetObjectItemCaseSensitive(claims, "nonce"));
	assert_null(cJSON_GetObjectItemCaseSensitive(claims, "ath"));
	second = proof_claims(fixture.server.heads[1]);
	assert_string_equal(json_text(second, "nonce"), "n-1");
	assert_string_not_equal(json_text(second, "jti"), json_text(claims, "jti"));
	cJSON_Delete(claims);
	cJSON_Delete(second);
	expect_okta_form(&fixture, 0, "RS256");
	expect_okta_form(&fixture, 1, "RS256");

	expect_logged(logged, "returned use_dpop_nonce; sending it once more with the nonce");
	expect_logged(logged, "(DPoP, valid for 3600 s)");
	assert_null(strstr(logged, ACCESS_TOKEN));
	free(logged);
	EVP_PKEY_free(fixture.pkey);
}

static void okta_api_nonce_challenge(void **state)
{
	struct okta_fixture fixture;
	struct http_response response = { 0 };
	struct http_header reply_headers[2] = {
		{ "WWW-Authenticate", "DPoP error=\"use_dpop_nonce\"" },
		{ "DPoP-Nonce", "api-n-1" },
	};
	struct capture capture;
	char **headers = NULL;
	char *logged;
	cJSON *claims;

	(void)state;
	okta_fixture_start(&fixture, true, true);
	add_reply(&fixture.server, 200, NULL, DPOP_TOKEN_OK);
	capture_start(&capture);
	assert_int_equal(auth_new(&fixture.config, fixture.http, &fixture.auth), RS_OK);
	assert_int_equal(auth_headers(fixture.auth, "GET", "https://a.example/x", &headers), RS_OK);
	auth_headers_free(headers);

	response.status = 401;
	response.headers = reply_headers;
	response.header_count = 2;
	assert_true(auth_handle_unauthorized(fixture.auth, &response));
	assert_int_equal(auth_headers(fixture.auth, "GET", "https://a.example/x", &headers), RS_OK);
	claims = jwt_part(headers[1] + 6, 1);
	assert_string_equal(json_text(claims, "nonce"), "api-n-1");
	cJSON_Delete(claims);
	auth_headers_free(headers);

	/* The same nonce again cannot help: the token is dropped instead, once. */
	assert_true(auth_handle_unauthorized(fixture.auth, &response));
	assert_false(auth_handle_unauthorized(fixture.auth, &response));
	logged = capture_stop(&capture);
	okta_fixture_stop(&fixture);

	assert_int_equal(fixture.server.request_count, 1);
	expect_okta_form(&fixture, 0, "ES256");
	expect_logged(logged, "the API asked for a DPoP nonce");
	free(logged);
	EVP_PKEY_free(fixture.pkey);
}

static void okta_without_dpop_bearer(void **state)
{
	struct okta_fixture fixture;
	struct capture capture;
	char **headers = NULL;
	char *logged;
	char *proof;

	(void)state;
	okta_fixture_start(&fixture, false, false);
	add_reply(&fixture.server, 200, NULL, TOKEN_OK);
	capture_start(&capture);
	assert_int_equal(auth_new(&fixture.config, fixture.http, &fixture.auth), RS_OK);
	assert_int_equal(auth_headers(fixture.auth, "GET", "https://a.example/x", &headers), RS_OK);
	logged = capture_stop(&capture);
	assert_string_equal(headers[0], "Authorization: Bearer " ACCESS_TOKEN);
	assert_null(headers[1]);
	auth_headers_free(headers);
	okta_fixture_stop(&fixture);

	proof = head_field(fixture.server.heads[0], "DPoP");
	assert_null(proof);
	expect_okta_form(&fixture, 0, "RS256");
	free(logged);
	EVP_PKEY_free(fixture.pkey);
}

static void okta_dpop_token_without_proof(void **state)
{
	struct okta_fixture fixture;
	struct capture capture;
	char **headers = NULL;
	char *logged;

	(void)state;
	okta_fixture_start(&fixture, false, false);
	add_reply(&fixture.server, 200, NULL, DPOP_TOKEN_OK);
	capture_start(&capture);
	assert_int_equal(auth_new(&fixture.config, fixture.http, &fixture.auth), RS_OK);
	assert_int_equal(auth_headers(fixture.auth, "GET", "https://a.example/x", &headers),
			 RS_ERR_PROTOCOL);
	logged = capture_stop(&capture);
	okta_fixture_stop(&fixture);
	expect_logged(logged, "returned token_type \"DPoP\", expected Bearer");
	free(logged);
	EVP_PKEY_free(fixture.pkey);
}

/* Reads the body of interaction index of a recorded exchange as compact JSON. */
static char *exchange_body(const char *path, int index, int *status)
{
	char *text = read_text(path);
	cJSON *root = cJSON_Parse(text);
	cJSON *interaction = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "interactions"), index);
	cJSON *response = cJSON_GetObjectItem(interaction, "response");
	char *body;

	assert_non_null(response);
	*status = (int)json_number(response, "status");
	body = cJSON_PrintUnformatted(cJSON_GetObjectItem(response, "body"));
	cJSON_Delete(root);
	free(text);
	return body;
}

static void okta_token_errors_explained(void **state)
{
	static const struct error_case cases[] = {
		{ "oauth_token_invalid_dpop_proof_missing.exchange.json", NULL, 0,
		  { "returned 400 invalid_dpop_proof: The DPoP proof JWT header is missing.",
		    "set okta.oauth.dpop: true", "[request id req-77]" } },
		{ NULL, "{\"error\":\"invalid_client\",\"error_description\":\"The client_assertion "
		  "signature is invalid.\"}", 401,
		  { "returned 401 invalid_client: The client_assertion signature is invalid.",
		    "that the public key of okta.oauth.private_key_file is registered", NULL } },
		{ NULL, "{\"error\":\"invalid_scope\",\"error_description\":\"The following scopes "
		  "are not allowed: [okta.groups.read]\"}", 400,
		  { "invalid_scope", "in its Okta API Scopes tab", NULL } },
		{ NULL, "{\"error\":\"unauthorized_client\"}", 400,
		  { "unauthorized_client", "Client Credentials grant", NULL } },
		{ NULL, NONCE_ERROR, 400,
		  { "use_dpop_nonce", "asked for a new DPoP nonce again", NULL } },
	};

	(void)state;
	for (size_t i = 0; i < COUNT(cases); i++) {
		struct okta_fixture fixture;
		struct capture capture;
		char path[512];
		char reply_headers[64];
		char **headers = NULL;
		char *body = NULL;
		char *logged;
		int status = cases[i].status;
		/* A nonce asked for again is worth another run; the rest are rejections. */
		enum rs_err expected = cases[i].body && strstr(cases[i].body, "use_dpop_nonce") ?
				       RS_ERR_TEMPFAIL : RS_ERR_PERMISSION;

		if (cases[i].file != NULL) {
			if (!fixture_path("okta", cases[i].file, path, sizeof(path)))
				continue;
			body = exchange_body(path, 0, &status);
		}
		okta_fixture_start(&fixture, false, false);
		snprintf(reply_headers, sizeof(reply_headers), "X-Okta-Request-Id: req-77\r\n");
		add_reply(&fixture.server, status, reply_headers, body ? body : cases[i].body);
		capture_start(&capture);
		assert_int_equal(auth_new(&fixture.config, fixture.http, &fixture.auth), RS_OK);
		assert_int_equal(auth_headers(fixture.auth, "GET", "https://a.example/x", &headers),
				 expected);
		logged = capture_stop(&capture);
		okta_fixture_stop(&fixture);
		for (size_t j = 0; j < COUNT(cases[i].messages) && cases[i].messages[j]; j++)
			expect_logged(logged, cases[i].messages[j]);
		assert_null(strstr(logged, "client_assertion="));
		free(logged);
		free(body);
		EVP_PKEY_free(fixture.pkey);
	}
}

/* Returns the first value of response header name in interaction index, or NULL; free it. */
static char *exchange_header(const char *path, int index, const char *name)
{
	char *text = read_text(path);
	cJSON *root = cJSON_Parse(text);
	cJSON *interaction = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "interactions"), index);
	cJSON *headers = cJSON_GetObjectItem(cJSON_GetObjectItem(interaction, "response"), "headers");
	cJSON *values = cJSON_GetObjectItem(headers, name);
	cJSON *first = cJSON_GetArrayItem(values, 0);
	char *value = cJSON_IsString(first) ? strdup(first->valuestring) : NULL;

	cJSON_Delete(root);
	free(text);
	return value;
}

static void okta_recorded_nonce_round(void **state)
{
	struct okta_fixture fixture;
	struct capture capture;
	char path[512];
	char reply_headers[256];
	char **headers = NULL;
	char *bodies[2];
	char *nonce;
	char *logged;
	cJSON *claims;
	int status[2];

	(void)state;
	if (!fixture_path("okta", "oauth_token_dpop_nonce_then_api_call.exchange.json", path,
			  sizeof(path)))
		return;
	bodies[0] = exchange_body(path, 0, &status[0]);
	bodies[1] = exchange_body(path, 1, &status[1]);
	nonce = exchange_header(path, 0, "dpop-nonce");
	assert_non_null(nonce);
	assert_int_equal(status[0], 400);
	assert_int_equal(status[1], 200);

	okta_fixture_start(&fixture, true, false);
	snprintf(reply_headers, sizeof(reply_headers), "dpop-nonce: %s\r\n", nonce);
	add_reply(&fixture.server, status[0], reply_headers, bodies[0]);
	add_reply(&fixture.server, status[1], reply_headers, bodies[1]);
	capture_start(&capture);
	assert_int_equal(auth_new(&fixture.config, fixture.http, &fixture.auth), RS_OK);
	assert_int_equal(auth_headers(fixture.auth, "GET", "https://test.okta.com/api/v1/users?limit=1",
				      &headers), RS_OK);
	logged = capture_stop(&capture);
	assert_int_equal(strncmp(headers[0], "Authorization: DPoP eyJ", 23), 0);
	assert_int_equal(strncmp(headers[1], "DPoP: ", 6), 0);
	auth_headers_free(headers);
	okta_fixture_stop(&fixture);

	assert_int_equal(fixture.server.request_count, 2);
	claims = proof_claims(fixture.server.heads[1]);
	assert_string_equal(json_text(claims, "nonce"), nonce);
	cJSON_Delete(claims);
	expect_logged(logged, "(DPoP, valid for 3600 s)");
	assert_null(strstr(logged, "eyJraWQi"));
	free(logged);
	free(nonce);
	free(bodies[0]);
	free(bodies[1]);
	EVP_PKEY_free(fixture.pkey);
}

static void okta_bad_key_file(void **state)
{
	struct okta_fixture fixture;
	struct capture capture;
	char *logged;

	(void)state;
	okta_fixture_start(&fixture, true, false);
	write_file(fixture.key_path, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
	capture_start(&capture);
	assert_int_equal(auth_new(&fixture.config, fixture.http, &fixture.auth), RS_ERR_CONFIG);
	logged = capture_stop(&capture);
	expect_logged(logged, "okta.oauth.private_key_file: not a PEM private key");
	free(logged);

	/* A certificate in place of the key is named as such. */
	write_file(fixture.key_path, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
	capture_start(&capture);
	assert_int_equal(auth_new(&fixture.config, fixture.http, &fixture.auth), RS_ERR_CONFIG);
	logged = capture_stop(&capture);
	expect_logged(logged, "; the file contains a CERTIFICATE); expected");
	expect_logged(logged, "\"-----BEGIN EC PRIVATE KEY-----\"");
	free(logged);
	okta_fixture_stop(&fixture);
	EVP_PKEY_free(fixture.pkey);
}

/* ---- form bodies ---- */

static void form_encodes_values(void **state)
{
	struct oauth_form form;

	(void)state;
	oauth_form_init(&form);
	oauth_form_add(&form, "scope", "okta.apps.read okta.users.read");
	oauth_form_add(&form, "a&b", "x=y/z+\xc3\xa9");
	assert_false(form.failed);
	assert_string_equal(form.data, "scope=okta.apps.read%20okta.users.read"
				       "&a%26b=x%3Dy%2Fz%2B%C3%A9");
	assert_int_equal(form.len, strlen(form.data));
	oauth_form_release(&form);
	assert_null(form.data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(api_token_header),
		cmocka_unit_test(api_token_rejects_unsafe_bytes),
		cmocka_unit_test(graph_secret_token_request),
		cmocka_unit_test(graph_token_cached_until_expiry),
		cmocka_unit_test(graph_short_token_margin),
		cmocka_unit_test(graph_invalidate_only_once),
		cmocka_unit_test(graph_token_bad_responses),
		cmocka_unit_test(graph_token_errors_explained),
		cmocka_unit_test(graph_token_error_results),
		cmocka_unit_test(graph_certificate_assertion),
		cmocka_unit_test(graph_certificate_wrong_key),
		cmocka_unit_test(okta_dpop_nonce_round),
		cmocka_unit_test(okta_api_nonce_challenge),
		cmocka_unit_test(okta_without_dpop_bearer),
		cmocka_unit_test(okta_dpop_token_without_proof),
		cmocka_unit_test(okta_token_errors_explained),
		cmocka_unit_test(okta_recorded_nonce_round),
		cmocka_unit_test(okta_bad_key_file),
		cmocka_unit_test(form_encodes_values),
	};

	/* The token server is on 127.0.0.1: keep requests off any proxy. */
	unsetenv("http_proxy");
	unsetenv("all_proxy");
	unsetenv("ALL_PROXY");
	log_configure(LOG_DEBUG, LOG_FORMAT_TEXT);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
