/*
 * test_config.c - loading and validating configs, and reading the secrets
 * that a config points at.
 *
 * Every config is written to a new file under /tmp.  Error tests capture
 * stderr and look for the exact "FILE:LINE:COLUMN: key: ..." message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit.h"
#include "capture.h"
#include "config.h"

/* Lines 1-9 of a valid Okta config; each test adds lines from 10 on. */
#define HEAD "tenant: acme\n"
#define OKTA "okta:\n" \
	"  org_url: https://acme.okta.com\n" \
	"  app_id: 0oa1example\n" \
	"  api_token_env: OKTA_TOKEN\n"
#define TEAM "team:\n" \
	"  seats: 10\n"
#define ROSTER "roster:\n" \
	"  path: /tmp/acme.db\n"
#define VALID HEAD OKTA TEAM ROSTER

/* Lines 1-8 of a valid Graph config. */
#define GRAPH_HEAD "tenant: contoso\n" \
	"source: graph\n" \
	"graph:\n" \
	"  tenant_id: contoso.onmicrosoft.com\n" \
	"  client_id: 00000000-0000-0000-0000-000000000000\n" \
	"  app_id: 11111111-1111-1111-1111-111111111111\n"
#define GRAPH_TAIL TEAM ROSTER

/* Writes len bytes to a new file under /tmp with mode; path gets its name. */
static void write_file(char *path, const char *prefix, const char *suffix,
		       const char *bytes, size_t len, mode_t mode)
{
	int fd;

	snprintf(path, 64, "/tmp/rostersync-test-%sXXXXXX%s", prefix, suffix);
	fd = mkstemps(path, (int)strlen(suffix));
	assert_true(fd >= 0);
	assert_int_equal(write(fd, bytes, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void write_config(char *path, const char *yaml, mode_t mode)
{
	write_file(path, "config-", ".yaml", yaml, strlen(yaml), mode);
}

static enum rs_err load_logged(const char *path, struct config **config, char **log)
{
	struct capture capture;
	enum rs_err err;

	capture_start(&capture);
	err = config_load(path, config);
	*log = capture_stop(&capture);
	return err;
}

/* Loads yaml, which must be valid and log nothing; the caller frees the config. */
static struct config *load_valid(const char *yaml)
{
	struct config *config = NULL;
	char path[64];
	char *log;

	write_config(path, yaml, 0600);
	if (load_logged(path, &config, &log) != RS_OK)
		fail_msg("config did not load:\n%s", log);
	assert_non_null(config);
	assert_string_equal(config->path, path);
	if (log[0] != '\0')
		fail_msg("a valid config logged:\n%s", log);
	free(log);
	unlink(path);
	return config;
}

static void test_full_okta_config_loads(void **state)
{
	struct config *config;

	(void)state;
	config = load_valid(
		"# every key of an Okta config\n"
		"tenant: acme\n"
		"source: okta\n"
		"okta:\n"
		"  org_url: https://acme.okta.com/\n"
		"  app_id: 0oa1example\n"
		"  api_token_file: /etc/rostersync/acme.token\n"
		"team:\n"
		"  name: Acme Corp\n"
		"  seats: 250\n"
		"roster:\n"
		"  path: /var/lib/rostersync/acme.db\n"
		"sync:\n"
		"  unmanaged_members: unassign\n"
		"  max_unassign: 7\n"
		"  max_unassign_percent: 0\n"
		"http:\n"
		"  timeout: 15\n"
		"  max_retries: 2\n"
		"  retry_budget: 600\n"
		"  max_wait: 60\n"
		"  ca_file: /etc/ssl/certs/ca-certificates.crt\n"
		"  proxy: http://proxy.example:3128\n"
		"log:\n"
		"  format: json\n"
		"  level: debug\n"
		"metrics:\n"
		"  textfile: /tmp/rostersync-acme.prom\n");

	assert_string_equal(config->tenant, "acme");
	assert_int_equal(config->source, CONFIG_SOURCE_OKTA);
	assert_string_equal(config->okta.org_url, "https://acme.okta.com");
	assert_string_equal(config->okta.app_id, "0oa1example");
	assert_string_equal(config->okta.api_token_file, "/etc/rostersync/acme.token");
	assert_null(config->okta.api_token_env);
	assert_null(config->okta.oauth.client_id);
	assert_null(config->okta.oauth.private_key_file);
	assert_null(config->okta.oauth.key_id);
	assert_string_equal(config->team.name, "Acme Corp");
	assert_int_equal(config->team.seats, 250);
	assert_string_equal(config->roster.path, "/var/lib/rostersync/acme.db");
	assert_int_equal(config->sync.unmanaged_members, CONFIG_UNMANAGED_UNASSIGN);
	assert_int_equal(config->sync.max_unassign, 7);
	assert_int_equal(config->sync.max_unassign_percent, 0);
	assert_int_equal(config->http.timeout, 15);
	assert_int_equal(config->http.max_retries, 2);
	assert_int_equal(config->http.retry_budget, 600);
	assert_int_equal(config->http.max_wait, 60);
	assert_string_equal(config->http.ca_file, "/etc/ssl/certs/ca-certificates.crt");
	assert_string_equal(config->http.proxy, "http://proxy.example:3128");
	assert_int_equal(config->log.format, LOG_FORMAT_JSON);
	assert_int_equal(config->log.level, LOG_DEBUG);
	assert_string_equal(config->metrics.textfile,
			    "/tmp/rostersync-acme.prom");
	assert_string_equal(config_source_name(config->source), "okta");
	assert_string_equal(config_source_title(config->source), "Okta");
	assert_string_equal(config_source_org(config), "https://acme.okta.com");
	assert_string_equal(config_source_app(config), "0oa1example");
	config_free(config);
}

static void test_defaults_applied(void **state)
{
	struct config *config;

	(void)state;
	config = load_valid(VALID);

	assert_int_equal(config->source, CONFIG_SOURCE_OKTA);
	assert_string_equal(config->okta.api_token_env, "OKTA_TOKEN");
	assert_null(config->okta.api_token_file);
	assert_string_equal(config->team.name, "acme");
	assert_int_equal(config->sync.unmanaged_members, CONFIG_UNMANAGED_KEEP);
	assert_int_equal(config->sync.max_unassign, 50);
	assert_int_equal(config->sync.max_unassign_percent, 20);
	assert_int_equal(config->http.timeout, 30);
	assert_int_equal(config->http.max_retries, 5);
	assert_int_equal(config->http.retry_budget, 300);
	assert_int_equal(config->http.max_wait, 120);
	assert_null(config->http.ca_file);
	assert_null(config->http.proxy);
	assert_int_equal(config->log.format, LOG_FORMAT_TEXT);
	assert_int_equal(config->log.level, LOG_INFO);
	assert_null(config->metrics.textfile);
	assert_int_equal(config->graph.cloud, CONFIG_CLOUD_GLOBAL);
	assert_false(config->graph.nested_groups);
	config_free(config);
}

static void test_okta_oauth_config_loads(void **state)
{
	struct config *config;

	(void)state;
	config = load_valid(HEAD
		"okta:\n"
		"  org_url: http://127.0.0.1:8443\n"
		"  app_id: 0oa1example\n"
		"  oauth:\n"
		"    client_id: 0oa2example\n"
		"    private_key_file: /etc/rostersync/acme-okta.pem\n"
		"    key_id: kid-1\n"
		TEAM ROSTER);

	assert_string_equal(config->okta.org_url, "http://127.0.0.1:8443");
	assert_string_equal(config->okta.oauth.client_id, "0oa2example");
	assert_string_equal(config->okta.oauth.private_key_file, "/etc/rostersync/acme-okta.pem");
	assert_string_equal(config->okta.oauth.key_id, "kid-1");
	assert_null(config->okta.api_token_file);
	assert_null(config->okta.api_token_env);
	config_free(config);
}

static void test_graph_config_loads(void **state)
{
	struct config *config;

	(void)state;
	config = load_valid(GRAPH_HEAD
		"  client_secret_file: /etc/rostersync/contoso.secret\n"
		"  nested_groups: True\n"
		GRAPH_TAIL);

	assert_int_equal(config->source, CONFIG_SOURCE_GRAPH);
	assert_string_equal(config->graph.tenant_id, "contoso.onmicrosoft.com");
	assert_string_equal(config->graph.client_id, "00000000-0000-0000-0000-000000000000");
	assert_string_equal(config->graph.app_id, "11111111-1111-1111-1111-111111111111");
	assert_string_equal(config->graph.client_secret_file, "/etc/rostersync/contoso.secret");
	assert_true(config->graph.nested_groups);
	assert_int_equal(config->graph.cloud, CONFIG_CLOUD_GLOBAL);
	assert_string_equal(config->graph.login_url, "https://login.microsoftonline.com");
	assert_string_equal(config->graph.graph_url, "https://graph.microsoft.com");
	assert_string_equal(config_source_name(config->source), "graph");
	assert_string_equal(config_source_title(config->source), "Microsoft Entra ID");
	assert_string_equal(config_source_org(config), "contoso.onmicrosoft.com");
	assert_string_equal(config_source_app(config), "11111111-1111-1111-1111-111111111111");
	config_free(config);
}

static void test_graph_cloud_sets_urls(void **state)
{
	struct config *config;

	(void)state;
	config = load_valid(GRAPH_HEAD "  client_secret_env: S\n  cloud: china\n" GRAPH_TAIL);
	assert_int_equal(config->graph.cloud, CONFIG_CLOUD_CHINA);
	assert_string_equal(config->graph.login_url, "https://login.chinacloudapi.cn");
	assert_string_equal(config->graph.graph_url, "https://microsoftgraph.chinacloudapi.cn");
	config_free(config);

	config = load_valid(GRAPH_HEAD "  client_secret_env: S\n  cloud: usgov\n" GRAPH_TAIL);
	assert_string_equal(config->graph.login_url, "https://login.microsoftonline.us");
	assert_string_equal(config->graph.graph_url, "https://graph.microsoft.us");
	config_free(config);
}

static void test_graph_urls_override_cloud(void **state)
{
	struct config *config;

	(void)state;
	config = load_valid(GRAPH_HEAD
		"  certificate_file: /etc/rostersync/contoso.crt\n"
		"  private_key_file: /etc/rostersync/contoso.key\n"
		"  cloud: usgov\n"
		"  login_url: http://localhost:9000/\n"
		"  graph_url: http://[::1]:9001\n"
		"  nested_groups: FALSE\n"
		GRAPH_TAIL);

	assert_string_equal(config->graph.login_url, "http://localhost:9000");
	assert_string_equal(config->graph.graph_url, "http://[::1]:9001");
	assert_string_equal(config->graph.certificate_file, "/etc/rostersync/contoso.crt");
	assert_string_equal(config->graph.private_key_file, "/etc/rostersync/contoso.key");
	assert_false(config->graph.nested_groups);
	config_free(config);
}

static void test_bounds_are_inclusive(void **state)
{
	struct config *config;

	(void)state;
	config = load_valid(HEAD OKTA
		"team:\n  seats: 10000000\n" ROSTER
		"sync:\n  max_unassign: 0\n  max_unassign_percent: 100\n"
		"http:\n  timeout: 3600\n  max_retries: 0\n  retry_budget: 86400\n  max_wait: 1\n");

	assert_int_equal(config->team.seats, 10000000);
	assert_int_equal(config->sync.max_unassign, 0);
	assert_int_equal(config->sync.max_unassign_percent, 100);
	assert_int_equal(config->http.timeout, 3600);
	assert_int_equal(config->http.max_retries, 0);
	assert_int_equal(config->http.retry_budget, 86400);
	assert_int_equal(config->http.max_wait, 1);
	config_free(config);
}

static void test_quoted_strings_accepted(void **state)
{
	struct config *config;

	(void)state;
	config = load_valid("tenant: 'acme'\n" OKTA TEAM ROSTER
		"log:\n  level: \"warn\"\n"
		"metrics:\n  textfile: \"/tmp/x #1.prom\"\n");
	assert_string_equal(config->tenant, "acme");
	assert_int_equal(config->log.level, LOG_WARN);
	assert_string_equal(config->metrics.textfile, "/tmp/x #1.prom");
	config_free(config);
}

static void test_unused_source_section_warns(void **state)
{
	struct config *config = NULL;
	char path[64];
	char expected[128];
	char *log;

	(void)state;
	write_config(path, VALID "graph:\n  cloud: china\n", 0600);
	assert_int_equal(load_logged(path, &config, &log), RS_OK);
	snprintf(expected, sizeof(expected), "warn: %s:10:1: graph: ignored because source is okta",
		 path);
	assert_non_null(strstr(log, expected));
	config_free(config);
	free(log);
	unlink(path);
}

static void test_graph_overrides_warn(void **state)
{
	struct config *config = NULL;
	char path[64];
	char expected[200];
	char *log;

	(void)state;
	write_config(path, GRAPH_HEAD "  client_secret_env: SECRET\n"
		     "  assertion_algorithm: RS256\n"
		     "  cloud: usgov\n"
		     "  login_url: https://login.microsoftonline.com\n" GRAPH_TAIL, 0600);
	assert_int_equal(load_logged(path, &config, &log), RS_OK);
	snprintf(expected, sizeof(expected), "warn: %s:8:3: graph.assertion_algorithm: ignored, "
		 "because only a certificate", path);
	assert_non_null(strstr(log, expected));
	snprintf(expected, sizeof(expected), "warn: %s:9:3: graph.cloud: gives only the URL that "
		 "the config does not set", path);
	assert_non_null(strstr(log, expected));
	config_free(config);
	free(log);

	write_config(path, GRAPH_HEAD "  client_secret_env: SECRET\n"
		     "  graph_url: https://graph.microsoft.us\n" GRAPH_TAIL, 0600);
	assert_int_equal(load_logged(path, &config, &log), RS_OK);
	snprintf(expected, sizeof(expected), "warn: %s:8:3: graph.graph_url: given without "
		 "graph.login_url, which comes from graph.cloud (global)", path);
	assert_non_null(strstr(log, expected));
	config_free(config);
	free(log);
	unlink(path);
}

static void test_missing_config_file_named(void **state)
{
	const char *path = "/tmp/rostersync-test-no-such-config.yaml";
	struct config *config = (struct config *)1;
	char expected[160];
	char *log;

	(void)state;
	assert_int_equal(load_logged(path, &config, &log), RS_ERR_CONFIG);
	assert_null(config);
	snprintf(expected, sizeof(expected), "%s: cannot open the config file: "
		 "No such file or directory", path);
	assert_non_null(strstr(log, expected));
	free(log);
}

static void test_config_over_one_mebibyte(void **state)
{
	size_t size = 1024 * 1024 + 1;
	char *big = malloc(size);
	struct config *config = NULL;
	char expected[160];
	char path[64];
	char *log;

	(void)state;
	assert_non_null(big);
	memset(big, '#', size);
	big[size - 1] = '\n';
	write_file(path, "config-", ".yaml", big, size, 0600);
	assert_int_equal(load_logged(path, &config, &log), RS_ERR_CONFIG);
	assert_null(config);
	snprintf(expected, sizeof(expected), "%s: the file is larger than 1 MiB", path);
	assert_non_null(strstr(log, expected));
	free(log);
	free(big);
	unlink(path);
}

static void test_problem_count_is_capped(void **state)
{
	struct config *config = NULL;
	char yaml[2048] = VALID;
	char path[64];
	char *log;

	(void)state;
	for (int i = 0; i < 25; i++)
		snprintf(yaml + strlen(yaml), sizeof(yaml) - strlen(yaml), "unknown_%d: 1\n", i);
	write_config(path, yaml, 0600);
	assert_int_equal(load_logged(path, &config, &log), RS_ERR_CONFIG);
	assert_non_null(strstr(log, "unknown_19: unknown key"));
	assert_null(strstr(log, "unknown_20: unknown key"));
	assert_non_null(strstr(log, ": 5 more problems not shown"));
	free(log);
	unlink(path);
}

/* ---- secrets ---------------------------------------------------------- */

/* Loads a config that points at a secret; returns the secret's result. */
static enum rs_err load_secret_logged(const char *yaml, struct secret **secret, char **log)
{
	struct config *config = load_valid(yaml);
	struct capture capture;
	enum rs_err err;

	capture_start(&capture);
	err = config_load_secret(config, secret);
	*log = capture_stop(&capture);
	config_free(config);
	return err;
}

static void test_secret_read_from_file(void **state)
{
	struct secret *secret = NULL;
	char token_path[64];
	char yaml[512];
	char *log;

	(void)state;
	write_file(token_path, "token-", "", "00Abc-token\n", 12, 0600);
	snprintf(yaml, sizeof(yaml), HEAD "okta:\n  org_url: https://acme.okta.com\n"
		 "  app_id: 0oa1\n  api_token_file: %s\n" TEAM ROSTER, token_path);

	assert_int_equal(load_secret_logged(yaml, &secret, &log), RS_OK);
	assert_non_null(secret);
	assert_string_equal(secret_value(secret), "00Abc-token");
	assert_non_null(strstr(log, "info: "));
	assert_non_null(strstr(log, "read the Okta API token from okta.api_token_file (/tmp/"));
	assert_null(strstr(log, "warn"));
	secret_free(secret);
	free(log);
	unlink(token_path);
}

static void test_secret_read_from_env(void **state)
{
	struct secret *secret = NULL;
	char *log;

	(void)state;
	setenv("OKTA_TOKEN", "00Env-token", 1);
	assert_int_equal(load_secret_logged(VALID, &secret, &log), RS_OK);
	assert_string_equal(secret_value(secret), "00Env-token");
	secret_free(secret);
	free(log);
	unsetenv("OKTA_TOKEN");
}

static void test_missing_env_secret_names_key(void **state)
{
	struct secret *secret = (struct secret *)1;
	char *log;

	(void)state;
	unsetenv("OKTA_TOKEN");
	assert_int_equal(load_secret_logged(VALID, &secret, &log), RS_ERR_CONFIG);
	assert_null(secret);
	assert_non_null(strstr(log, "environment variable OKTA_TOKEN is not set"));
	assert_non_null(strstr(log, "cannot read the Okta API token from okta.api_token_env "
			       "(environment variable OKTA_TOKEN)"));
	free(log);
}

static void test_credential_preferred_over_env(void **state)
{
	char dir[] = "/tmp/rostersync-test-creds-XXXXXX";
	struct secret *secret = NULL;
	char path[128];
	FILE *file;
	char *log;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/contoso.secret", dir);
	file = fopen(path, "w");
	assert_non_null(file);
	fputs("from-credential\n", file);
	fclose(file);
	chmod(path, 0400);
	setenv("CREDENTIALS_DIRECTORY", dir, 1);
	setenv("GRAPH_SECRET", "from-env", 1);

	assert_int_equal(load_secret_logged(GRAPH_HEAD "  client_secret_env: GRAPH_SECRET\n"
					    GRAPH_TAIL, &secret, &log), RS_OK);
	assert_string_equal(secret_value(secret), "from-credential");
	secret_free(secret);
	free(log);

	unsetenv("CREDENTIALS_DIRECTORY");
	unsetenv("GRAPH_SECRET");
	unlink(path);
	rmdir(dir);
}

static void test_secret_file_mode_warns(void **state)
{
	struct secret *secret = NULL;
	char token_path[64];
	char expected[256];
	char yaml[512];
	char *log;

	(void)state;
	write_file(token_path, "token-", "", "00Abc-token\n", 12, 0644);
	snprintf(yaml, sizeof(yaml), HEAD "okta:\n  org_url: https://acme.okta.com\n"
		 "  app_id: 0oa1\n  api_token_file: %s\n" TEAM ROSTER, token_path);

	assert_int_equal(load_secret_logged(yaml, &secret, &log), RS_OK);
	snprintf(expected, sizeof(expected), "warn: secret file %s is readable by group or others "
		 "(mode 0644): run chmod 600 %s", token_path, token_path);
	assert_non_null(strstr(log, expected));
	secret_free(secret);
	free(log);
	unlink(token_path);
}

static void test_token_with_line_break_rejected(void **state)
{
	struct secret *secret = (struct secret *)1;
	char *log;

	(void)state;
	setenv("OKTA_TOKEN", "00Abc\r\nX-Injected: 1", 1);
	assert_int_equal(load_secret_logged(VALID, &secret, &log), RS_ERR_CONFIG);
	assert_null(secret);
	assert_non_null(strstr(log, "contains a line break or NUL byte"));
	assert_null(strstr(log, "00Abc"));
	assert_null(strstr(log, "Injected"));
	free(log);
	unsetenv("OKTA_TOKEN");
}

static void test_oauth_private_key_read(void **state)
{
	struct secret *secret = NULL;
	char key_path[64];
	char yaml[512];
	const char *pem = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n";
	char *log;

	(void)state;
	write_file(key_path, "key-", ".pem", pem, strlen(pem), 0600);
	snprintf(yaml, sizeof(yaml), HEAD "okta:\n  org_url: https://acme.okta.com\n"
		 "  app_id: 0oa1\n  oauth:\n    client_id: 0oa2\n    private_key_file: %s\n"
		 TEAM ROSTER, key_path);

	assert_int_equal(load_secret_logged(yaml, &secret, &log), RS_OK);
	assert_string_equal(secret_value(secret),
			    "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----");
	secret_free(secret);
	free(log);
	unlink(key_path);
}

static void test_secret_never_logged(void **state)
{
	const char *value = "Zq9-very-secret-value";
	struct secret *secret = NULL;
	char token_path[64];
	char yaml[512];
	char *log;

	(void)state;
	log_configure(LOG_DEBUG, LOG_FORMAT_TEXT);

	write_file(token_path, "token-", "", value, strlen(value), 0644);
	snprintf(yaml, sizeof(yaml), HEAD "okta:\n  org_url: https://acme.okta.com\n"
		 "  app_id: 0oa1\n  api_token_file: %s\n" TEAM ROSTER, token_path);
	assert_int_equal(load_secret_logged(yaml, &secret, &log), RS_OK);
	assert_non_null(strstr(log, "read the Okta API token from"));
	assert_null(strstr(log, value));
	secret_free(secret);
	free(log);

	setenv("OKTA_TOKEN", "Zq9-very-secret-value\nsecond line", 1);
	assert_int_equal(load_secret_logged(VALID, &secret, &log), RS_ERR_CONFIG);
	assert_null(strstr(log, "Zq9"));
	assert_null(strstr(log, "second line"));
	free(log);

	unsetenv("OKTA_TOKEN");
	unlink(token_path);
	log_configure(LOG_INFO, LOG_FORMAT_TEXT);
}

/* ---- the key table and its documentation ------------------------------- */

static char *read_text_file(const char *path)
{
	FILE *file = fopen(path, "rb");
	char *text;
	long size;

	if (file == NULL)
		return NULL;
	fseek(file, 0, SEEK_END);
	size = ftell(file);
	rewind(file);
	text = calloc(1, (size_t)size + 1);
	assert_non_null(text);
	assert_int_equal(fread(text, 1, (size_t)size, file), (size_t)size);
	fclose(file);
	return text;
}

/* Tells whether one line of text contains both needles. */
static bool line_contains_both(const char *text, const char *first, const char *second)
{
	for (const char *hit = strstr(text, first); hit != NULL; hit = strstr(hit + 1, first)) {
		const char *start = hit, *end = strchr(hit, '\n');
		char *line;
		bool found;

		while (start > text && start[-1] != '\n')
			start--;
		if (end == NULL)
			end = hit + strlen(hit);
		line = strndup(start, (size_t)(end - start));
		assert_non_null(line);
		found = strstr(line, second) != NULL;
		free(line);
		if (found)
			return true;
	}
	return false;
}

static void test_docs_list_every_key(void **state)
{
	struct config_key_info info;
	char *docs = read_text_file("docs/config.md");

	(void)state;
	if (docs == NULL)
		skip();
	for (size_t i = 0; config_key_describe(i, &info); i++) {
		char name[160];
		char value[64];

		snprintf(name, sizeof(name), "`%s`", info.path);
		if (strstr(docs, name) == NULL)
			fail_msg("docs/config.md does not describe %s", info.path);
		if (info.default_text == NULL)
			continue;
		snprintf(value, sizeof(value), "`%s`", info.default_text);
		if (!line_contains_both(docs, name, value))
			fail_msg("docs/config.md does not give default %s of %s", info.default_text,
				 info.path);
	}
	free(docs);
}

/*
 * Loads a config file of the repository from a private copy, because a
 * checkout may be writable by its group.
 */
static struct config *load_repository_config(const char *repository_path)
{
	char *text = read_text_file(repository_path);
	struct config *config;

	if (text == NULL)
		return NULL;
	config = load_valid(text);
	free(text);
	return config;
}

static void test_example_configs_load(void **state)
{
	struct config *okta = load_repository_config("config/okta.example.yaml");
	struct config *graph = load_repository_config("config/graph.example.yaml");

	(void)state;
	if (okta == NULL || graph == NULL) {
		config_free(okta);
		config_free(graph);
		skip();
	}
	assert_string_equal(okta->tenant, "acme");
	assert_int_equal(okta->source, CONFIG_SOURCE_OKTA);
	assert_string_equal(okta->okta.api_token_file, "/etc/rostersync/acme.token");
	assert_string_equal(graph->tenant, "contoso");
	assert_int_equal(graph->source, CONFIG_SOURCE_GRAPH);
	assert_string_equal(graph->graph.client_secret_file, "/etc/rostersync/contoso.secret");
	config_free(okta);
	config_free(graph);
}

static void test_key_table_describes_bounds(void **state)
{
	struct config_key_info info;
	bool found = false;

	(void)state;
	for (size_t i = 0; config_key_describe(i, &info); i++) {
		if (strcmp(info.path, "sync.max_unassign_percent") != 0)
			continue;
		found = true;
		assert_string_equal(info.type, "integer");
		assert_string_equal(info.default_text, "20");
		assert_int_equal(info.min, 0);
		assert_int_equal(info.max, 100);
		assert_false(info.required);
	}
	assert_true(found);
}

/* ---- configs that must be rejected ---------------------------------------- */

struct bad_config {
	const char *name;
	const char *yaml;
	const char *position;   /* "LINE:COLUMN", or NULL for the file as a whole */
	const char *message;    /* expected after the position */
	const char *hidden;     /* must not appear in the log, or NULL */
	mode_t mode;            /* 0 means 0600 */
};

static const struct bad_config bad_configs[] = {
	{ "unknown key suggests closest", VALID "sync:\n  max_unasign: 3\n", "11:3",
	  "sync.max_unasign: unknown key; did you mean max_unassign?", NULL, 0 },
	{ "unknown key lists known keys", VALID "colour: red\n", "10:1",
	  "colour: unknown key; the top-level keys are tenant, source, okta, graph, team,", NULL, 0 },
	{ "key in wrong section", VALID "max_retries: 3\n", "10:1",
	  "max_retries: unknown key; did you mean http.max_retries?", NULL, 0 },
	{ "dotted key rejected", VALID "sync.max_unassign: 5\n", "10:1",
	  "sync.max_unassign: a dotted key is not split into sections; write sync: and indent "
	  "max_unassign below it", NULL, 0 },
	{ "mapping where integer belongs", VALID "http:\n  timeout:\n    seconds: 5\n", "12:5",
	  "http.timeout: expected an integer, found a mapping", NULL, 0 },
	{ "scalar where section belongs", VALID "sync: 5\n", "10:7",
	  "sync: expected a mapping, found a single value", NULL, 0 },
	{ "scalar section adds no noise",
	  HEAD "okta: https://acme.okta.com\n" TEAM ROSTER, "2:7",
	  "okta: expected a mapping, found a single value", "is missing", 0 },
	{ "list where string belongs", VALID "metrics:\n  textfile: [a, b]\n", "11:13",
	  "metrics.textfile: expected a single value, found a list", NULL, 0 },
	{ "textfile without .prom", VALID "metrics:\n  textfile: /var/lib/rostersync/acme.db\n",
	  "11:3", "metrics.textfile: \"/var/lib/rostersync/acme.db\" does not end in .prom; "
	  "node_exporter's textfile collector reads only *.prom files", NULL, 0 },
	{ "textfile is the roster",
	  HEAD OKTA TEAM "roster:\n  path: /var/lib/rostersync/acme.prom\n"
	  "metrics:\n  textfile: /var/lib/rostersync/acme.prom\n", "11:3",
	  "metrics.textfile: \"/var/lib/rostersync/acme.prom\" is the roster file", NULL, 0 },
	{ "textfile is the roster by another path",
	  HEAD OKTA TEAM "roster:\n  path: /tmp/rostersync-test-acme.prom\n"
	  "metrics:\n  textfile: /tmp/./rostersync-test-acme.prom\n", "11:3",
	  "metrics.textfile: \"/tmp/./rostersync-test-acme.prom\" is the roster file", NULL, 0 },
	{ "empty section rejected", VALID "sync:\n", "10:6",
	  "sync: the section is empty", NULL, 0 },
	{ "integer above range", VALID "sync:\n  max_unassign_percent: 150\n", "11:25",
	  "sync.max_unassign_percent: 150 is out of range (0..100)", NULL, 0 },
	{ "integer below range", VALID "http:\n  max_wait: 0\n", "11:13",
	  "http.max_wait: 0 is out of range (1..3600)", NULL, 0 },
	{ "negative integer out of range", VALID "sync:\n  max_unassign: -1\n", "11:17",
	  "sync.max_unassign: -1 is out of range (0..10000000)", NULL, 0 },
	{ "integer overflow out of range", VALID "http:\n  timeout: 99999999999999999999999\n",
	  "11:12", "http.timeout: 99999999999999999999999 is out of range (1..3600)", NULL, 0 },
	{ "leading zero is ambiguous octal", VALID "http:\n  max_retries: 010\n", "11:16",
	  "http.max_retries: 010 has a leading zero, which is ambiguous (YAML 1.1 reads it as "
	  "octal)", NULL, 0 },
	{ "plus sign rejected", VALID "http:\n  max_retries: +3\n", "11:16",
	  "http.max_retries: +3 has a '+' sign", NULL, 0 },
	{ "quoted integer rejected", VALID "http:\n  max_retries: \"3\"\n", "11:16",
	  "http.max_retries: \"3\" is quoted, so it is a string", NULL, 0 },
	{ "hexadecimal integer rejected", VALID "http:\n  max_retries: 0x10\n", "11:16",
	  "http.max_retries: \"0x10\" is not a whole decimal number", NULL, 0 },
	{ "fraction rejected as integer", VALID "http:\n  timeout: 1.5\n", "11:12",
	  "http.timeout: \"1.5\" is not a whole decimal number", NULL, 0 },
	{ "duplicate key rejected", VALID "tenant: other\n", "10:1",
	  "tenant: duplicate key (first written at line 1); remove one of them", NULL, 0 },
	{ "duplicate nested key rejected",
	  VALID "sync:\n  max_unassign: 1\n  max_unassign: 2\n", "12:3",
	  "sync.max_unassign: duplicate key (first written at line 11)", NULL, 0 },
	{ "anchor rejected", VALID "sync: &defaults\n  max_unassign: 1\n", "10:7",
	  "anchor &defaults: anchors and aliases are not supported in rostersync configs", NULL, 0 },
	{ "alias rejected", VALID "sync:\n  max_unassign: &n 5\n  max_unassign_percent: *n\n",
	  "12:25", "alias *n: aliases are not supported in rostersync configs", NULL, 0 },
	{ "str tag rejected", VALID "metrics:\n  textfile: !!str /x\n", "11:13",
	  "tag !!str is not supported in rostersync configs", NULL, 0 },
	{ "yes rejected as boolean", VALID "graph:\n  nested_groups: yes\n", "11:18",
	  "graph.nested_groups: yes is ambiguous in YAML; use true or false", NULL, 0 },
	{ "off rejected as boolean", VALID "graph:\n  nested_groups: off\n", "11:18",
	  "graph.nested_groups: off is ambiguous in YAML; use true or false", NULL, 0 },
	{ "quoted boolean rejected", VALID "graph:\n  nested_groups: \"true\"\n", "11:18",
	  "graph.nested_groups: \"true\" is not a boolean; use true or false", NULL, 0 },
	{ "unknown enum word rejected", VALID "log:\n  level: verbose\n", "11:10",
	  "log.level: \"verbose\" is not one of error, warn, info, debug", NULL, 0 },
	{ "unknown source rejected", VALID "source: ldap\n", "10:9",
	  "source: \"ldap\" is not one of okta, graph", NULL, 0 },
	{ "empty value rejected", VALID "metrics:\n  textfile:\n", "11:12",
	  "metrics.textfile: the value is empty; give a value or remove the key", NULL, 0 },
	{ "null value rejected", VALID "metrics:\n  textfile: ~\n", "11:13",
	  "metrics.textfile: the value is null", NULL, 0 },
	{ "missing tenant reported", OKTA TEAM ROSTER, "1:1",
	  "tenant is missing; add tenant: at the top level", NULL, 0 },
	{ "missing seats reported", HEAD OKTA "team:\n  name: Acme\n" ROSTER, "6:1",
	  "team.seats is missing; add seats: under team:", NULL, 0 },
	{ "missing section reported", HEAD OKTA TEAM, "8:1",
	  "roster is missing; add roster: with path below it", NULL, 0 },
	{ "empty file rejected", "", "1:1", "the file is empty", NULL, 0 },
	{ "comment only file rejected", "# nothing here\n", "2:1", "the file is empty", NULL, 0 },
	{ "second document rejected", VALID "---\ntenant: other\n", "10:1",
	  "a second YAML document starts here", NULL, 0 },
	{ "top-level list rejected", "- tenant\n- acme\n", "1:1",
	  "the top level is a list, but a rostersync config is a mapping", NULL, 0 },
	{ "top-level scalar rejected", "acme\n", "1:1",
	  "the top level is a single value, but a rostersync config is a mapping", NULL, 0 },
	{ "non-scalar key rejected", VALID "? [a, b]\n: c\n", "10:3",
	  "a key must be a plain word such as tenant", NULL, 0 },
	{ "syntax error reported", VALID "sync: [1, 2\n", "11:1",
	  "YAML syntax error: did not find expected ',' or ']'", NULL, 0 },
	{ "tab indentation reported", HEAD "team:\n\tseats: 1\n", "3:1",
	  "YAML syntax error: found character that cannot start any token", NULL, 0 },
	{ "invalid utf8 reported", VALID "metrics:\n  textfile: \xff\n", "11:13",
	  "invalid text: invalid leading UTF-8 octet; save the file as UTF-8", NULL, 0 },
	{ "nesting deeper than needed",
	  VALID "okta2:\n  a:\n    b:\n      c:\n        d: 1\n", "14:9",
	  "okta2.a.b.c: nested 5 levels deep, but no rostersync setting is deeper than 3 levels",
	  NULL, 0 },
	{ "group writable config rejected", VALID, NULL,
	  "the file is writable by group or others (mode 0664); run chmod go-w", NULL, 0664 },
	{ "invalid tenant name rejected", "tenant: ac/me\n" OKTA TEAM ROSTER, "1:9",
	  "tenant: \"ac/me\" is not a valid value; use 1 to 64 letters, digits, '.', '_' or '-'",
	  NULL, 0 },
	{ "overlong tenant name rejected",
	  "tenant: a1234567890123456789012345678901234567890123456789012345678901234\n"
	  OKTA TEAM ROSTER, "1:9", "tenant: \"a12345678901234567890123456789012345678901234567890"
	  "123456789...\" is not a valid value", NULL, 0 },
	{ "invalid variable name rejected",
	  HEAD "okta:\n  org_url: https://acme.okta.com\n  app_id: a\n  api_token_env: OKTA-TOKEN\n"
	  TEAM ROSTER, "5:18",
	  "okta.api_token_env: \"OKTA-TOKEN\" is not an environment variable name", NULL, 0 },
	{ "okta without credential rejected",
	  HEAD "okta:\n  org_url: https://acme.okta.com\n  app_id: 0oa1\n" TEAM ROSTER, "2:1",
	  "okta: no credential is configured; set one of api_token_file, api_token_env or oauth",
	  NULL, 0 },
	{ "okta with two credentials rejected",
	  HEAD OKTA "  api_token_file: /etc/rostersync/acme.token\n" TEAM ROSTER, "6:3",
	  "okta.api_token_file: okta.api_token_env is set too; set only one of api_token_file, "
	  "api_token_env or oauth", NULL, 0 },
	{ "oauth without private key rejected",
	  HEAD "okta:\n  org_url: https://acme.okta.com\n  app_id: 0oa1\n  oauth:\n"
	  "    client_id: 0oa2\n" TEAM ROSTER, "5:3",
	  "okta.oauth.private_key_file is missing; add private_key_file: under okta.oauth:",
	  NULL, 0 },
	{ "okta section missing for okta", HEAD TEAM ROSTER, "6:1",
	  "okta is missing; add okta: with org_url and app_id below it", NULL, 0 },
	{ "graph without tenant id rejected",
	  "tenant: contoso\nsource: graph\ngraph:\n  client_id: c\n  app_id: a\n"
	  "  client_secret_env: S\n" GRAPH_TAIL, "3:1",
	  "graph.tenant_id is missing; add tenant_id: under graph:", NULL, 0 },
	{ "graph multi-tenant alias rejected",
	  "tenant: contoso\nsource: graph\ngraph:\n  tenant_id: Organizations\n  client_id: c\n"
	  "  app_id: a\n  client_secret_env: S\n" GRAPH_TAIL, "4:14",
	  "graph.tenant_id: \"Organizations\" is an alias for many tenants", NULL, 0 },
	{ "graph certificate without key rejected",
	  GRAPH_HEAD "  certificate_file: /etc/rostersync/contoso.crt\n" GRAPH_TAIL, "7:3",
	  "graph.certificate_file: graph.private_key_file is missing; a certificate needs its "
	  "private key", NULL, 0 },
	{ "graph with two credentials rejected",
	  GRAPH_HEAD "  client_secret_env: S\n  client_secret_file: /x\n" GRAPH_TAIL, "8:3",
	  "graph.client_secret_file: graph.client_secret_env is set too; set only one of", NULL, 0 },
	{ "graph without credential rejected", GRAPH_HEAD GRAPH_TAIL, "3:1",
	  "graph: no credential is configured; set one of client_secret_file, client_secret_env "
	  "or certificate_file with private_key_file", NULL, 0 },
	{ "plain http off loopback rejected",
	  HEAD "okta:\n  org_url: http://acme.okta.com\n  app_id: a\n  api_token_env: T\n"
	  TEAM ROSTER, "3:12",
	  "okta.org_url: http:// is only accepted for loopback hosts (localhost, 127.0.0.0/8, "
	  "[::1]); use https://", NULL, 0 },
	{ "url with path rejected",
	  GRAPH_HEAD "  client_secret_env: S\n  graph_url: https://graph.microsoft.com/v1.0\n"
	  GRAPH_TAIL, "8:14",
	  "graph.graph_url: the URL has a path, query or fragment (/v1.0); remove it", NULL, 0 },
	{ "url without scheme rejected",
	  HEAD "okta:\n  org_url: acme.okta.com\n  app_id: a\n  api_token_env: T\n"
	  TEAM ROSTER, "3:12",
	  "okta.org_url: \"acme.okta.com\" is not an http(s) URL; write https://host", NULL, 0 },
	{ "url password not echoed",
	  HEAD "okta:\n  org_url: https://admin:hunter2@acme.okta.com\n  app_id: a\n"
	  "  api_token_env: T\n" TEAM ROSTER, "3:12",
	  "okta.org_url: the URL contains a user name or password; remove it", "hunter2", 0 },
	{ "url port out of range",
	  HEAD "okta:\n  org_url: https://acme.okta.com:70000\n  app_id: a\n  api_token_env: T\n"
	  TEAM ROSTER, "3:12", "okta.org_url: the port is invalid; use a number from 1 to 65535",
	  NULL, 0 },
	{ "okta admin url rejected",
	  HEAD "okta:\n  org_url: https://acme-admin.okta.com\n  app_id: a\n  api_token_env: T\n"
	  TEAM ROSTER, "3:12",
	  "okta.org_url: https://acme-admin.okta.com is the admin console; use the org URL without "
	  "-admin (https://acme.okta.com)", NULL, 0 },
	{ "okta admin url in capitals",
	  HEAD "okta:\n  org_url: https://Acme-ADMIN.Okta.com.\n  app_id: a\n  api_token_env: T\n"
	  TEAM ROSTER, "3:12", "okta.org_url: https://Acme-ADMIN.Okta.com. is the admin console",
	  NULL, 0 },
	{ "app id of dots rejected",
	  HEAD "okta:\n  org_url: https://acme.okta.com\n  app_id: ..\n  api_token_env: T\n"
	  TEAM ROSTER, "4:11", "okta.app_id: \"..\" is not a valid value: a name of only dots",
	  NULL, 0 },
	{ "memory roster rejected", HEAD OKTA TEAM "roster:\n  path: \":memory:\"\n", "9:9",
	  "roster.path: \":memory:\" is not a file path: SQLite would read it as an in-memory "
	  "database", NULL, 0 },
	{ "uri roster rejected", HEAD OKTA TEAM "roster:\n  path: file:acme.db\n", "9:9",
	  "roster.path: \"file:acme.db\" is not a file path: SQLite would read it as a URI", NULL, 0 },
	{ "proxy scheme rejected", VALID "http:\n  proxy: ftp://proxy.example:21\n", "11:10",
	  "http.proxy: proxy scheme ftp is not supported", NULL, 0 },
	{ "proxy password not echoed", VALID "http:\n  proxy: http://user:s3cret@\n", "11:10",
	  "http.proxy: the host name is missing or invalid", "s3cret", 0 },
	{ "graph section without source: graph",
	  "tenant: contoso\ngraph:\n  tenant_id: contoso.onmicrosoft.com\n"
	  "  client_id: 00000000-0000-0000-0000-000000000000\n"
	  "  app_id: 11111111-1111-1111-1111-111111111111\n" TEAM ROSTER, "10:1",
	  "okta is missing; add okta: with org_url and app_id below it, or add source: graph to "
	  "read Microsoft Entra ID with the graph: section", NULL, 0 },
	{ "tab indentation", "tenant: acme\nokta:\n\torg_url: https://acme.okta.com\n", "3:1",
	  "YAML syntax error: found character that cannot start any token while scanning for the "
	  "next token (line 3); the line is indented with a tab, which YAML does not allow: indent "
	  "with spaces", NULL, 0 },
	{ "NUL in a value names the key", VALID "http:\n  ca_file: \"/etc/ca\\0.pem\"\n", "11:12",
	  "http.ca_file: the value contains a NUL character; remove it", NULL, 0 },
	{ "empty integer", VALID "sync:\n  max_unassign:\n", "11:16",
	  "sync.max_unassign: the value is empty; give a value or remove the key", NULL, 0 },
	{ "control character in a value", VALID "http:\n  ca_file: \"/etc/ca\\e[31m.pem\"\n", "11:12",
	  "http.ca_file: invalid value: it contains a control character (a line break, tab or "
	  "escape sequence), so write it on one line without them", NULL, 0 },
};

#define BAD_CONFIG_COUNT (sizeof(bad_configs) / sizeof(bad_configs[0]))

static void test_bad_config(void **state)
{
	const struct bad_config *bad = *state;
	struct config *config = (struct config *)1;
	char expected[512];
	char path[64];
	char *log;

	write_config(path, bad->yaml, bad->mode != 0 ? bad->mode : 0600);
	assert_int_equal(load_logged(path, &config, &log), RS_ERR_CONFIG);
	assert_null(config);

	if (bad->position != NULL)
		snprintf(expected, sizeof(expected), "error: %s:%s: %s", path, bad->position,
			 bad->message);
	else
		snprintf(expected, sizeof(expected), "error: %s: %s", path, bad->message);
	if (strstr(log, expected) == NULL)
		fail_msg("expected \"%s\" in:\n%s", expected, log);
	if (bad->hidden != NULL && strstr(log, bad->hidden) != NULL)
		fail_msg("\"%s\" must not be logged:\n%s", bad->hidden, log);
	free(log);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_okta_config_loads),
		cmocka_unit_test(test_defaults_applied),
		cmocka_unit_test(test_okta_oauth_config_loads),
		cmocka_unit_test(test_graph_config_loads),
		cmocka_unit_test(test_graph_cloud_sets_urls),
		cmocka_unit_test(test_graph_urls_override_cloud),
		cmocka_unit_test(test_bounds_are_inclusive),
		cmocka_unit_test(test_quoted_strings_accepted),
		cmocka_unit_test(test_unused_source_section_warns),
		cmocka_unit_test(test_graph_overrides_warn),
		cmocka_unit_test(test_missing_config_file_named),
		cmocka_unit_test(test_config_over_one_mebibyte),
		cmocka_unit_test(test_problem_count_is_capped),
		cmocka_unit_test(test_secret_read_from_file),
		cmocka_unit_test(test_secret_read_from_env),
		cmocka_unit_test(test_missing_env_secret_names_key),
		cmocka_unit_test(test_credential_preferred_over_env),
		cmocka_unit_test(test_secret_file_mode_warns),
		cmocka_unit_test(test_token_with_line_break_rejected),
		cmocka_unit_test(test_oauth_private_key_read),
		cmocka_unit_test(test_secret_never_logged),
		cmocka_unit_test(test_docs_list_every_key),
		cmocka_unit_test(test_key_table_describes_bounds),
		cmocka_unit_test(test_example_configs_load),
	};
	struct CMUnitTest bad_tests[BAD_CONFIG_COUNT];
	int failures;

	for (size_t i = 0; i < BAD_CONFIG_COUNT; i++) {
		bad_tests[i] = (struct CMUnitTest){
			.name = bad_configs[i].name,
			.test_func = test_bad_config,
			.initial_state = (void *)&bad_configs[i],
		};
	}
	unsetenv("CREDENTIALS_DIRECTORY");
	log_configure(LOG_INFO, LOG_FORMAT_TEXT);
	failures = cmocka_run_group_tests_name("config", tests, NULL, NULL);
	failures += _cmocka_run_group_tests("rejected configs", bad_tests, BAD_CONFIG_COUNT, NULL, NULL);
	return failures;
}
