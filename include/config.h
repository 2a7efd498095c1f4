/*
 * config.h - the per-tenant YAML configuration.
 *
 * config_load() reads one YAML file with libyaml into struct config.  Keys
 * come from one table in config.c (key, type, default, bounds), which is
 * also what docs/config.md and the man page describe.  Anything that is not
 * in the table, a wrong type, a number out of range, a duplicate key, an
 * alias or anchor, a boolean other than true/false, or a missing required
 * key is an error that names file:line:column and the fix.
 *
 * Secrets are not part of struct config: it stores where they come from
 * (a file path or an environment variable name), and config_load_secret()
 * reads them on demand.
 */
#ifndef ROSTERSYNC_CONFIG_H
#define ROSTERSYNC_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include "error.h"
#include "log.h"
#include "secret.h"

enum config_source { CONFIG_SOURCE_OKTA = 0, CONFIG_SOURCE_GRAPH };
enum config_unmanaged { CONFIG_UNMANAGED_KEEP = 0, CONFIG_UNMANAGED_UNASSIGN };
enum config_cloud { CONFIG_CLOUD_GLOBAL = 0, CONFIG_CLOUD_USGOV, CONFIG_CLOUD_CHINA };
enum config_assertion_algorithm { CONFIG_ASSERTION_PS256 = 0, CONFIG_ASSERTION_RS256 };

struct config_okta_oauth {
	char *client_id;        /* NULL when okta.oauth is absent */
	char *private_key_file;
	char *key_id;           /* optional "kid" header value */
	bool dpop;              /* send DPoP proofs (default true) */
};

struct config_okta {
	char *org_url;          /* scheme://host[:port], no trailing slash */
	char *app_id;
	char *api_token_file;   /* at most one of these two is set */
	char *api_token_env;
	struct config_okta_oauth oauth;
};

struct config_graph {
	char *tenant_id;
	char *client_id;
	char *client_secret_file;
	char *client_secret_env;
	char *certificate_file;
	char *private_key_file;
	enum config_assertion_algorithm assertion_algorithm;  /* of the certificate's assertion */
	char *app_id;
	enum config_cloud cloud;
	char *login_url;        /* from cloud unless set; no trailing slash */
	char *graph_url;        /* from cloud unless set; no trailing slash */
	bool nested_groups;
};

struct config {
	char *path;             /* the file this was loaded from */
	char *tenant;           /* [A-Za-z0-9._-], 1..64 chars */
	enum config_source source;
	struct config_okta okta;
	struct config_graph graph;
	struct {
		char *name;
		long seats;     /* 1..10000000 */
	} team;
	struct {
		char *path;
	} roster;
	struct {
		enum config_unmanaged unmanaged_members;
		long max_unassign;         /* 0 disables the count limit */
		long max_unassign_percent; /* 0..100; 0 disables */
	} sync;
	struct {
		long timeout;        /* seconds per request, 1..3600 */
		long max_retries;    /* 0..100 */
		long retry_budget;   /* seconds of waiting per run, 0..86400 */
		long max_wait;       /* longest single wait in seconds, 1..3600 */
		char *ca_file;
		char *proxy;
	} http;
	struct {
		enum log_format format;
		enum log_level level;
	} log;
	struct {
		char *textfile;      /* NULL when not configured */
	} metrics;
};

/*
 * Loads and validates path.  On success *out owns a new struct config.
 * On failure logs one error per problem found, with file:line:column, and
 * returns RS_ERR_CONFIG (RS_ERR_IO is not used: an unreadable config file
 * is a config error too), or RS_ERR_INTERNAL when memory ran out.  *out is
 * NULL on failure.
 */
enum rs_err config_load(const char *path, struct config **out);

void config_free(struct config *config);

/*
 * Reads the IdP credential that the config points at: the Okta API token
 * (okta.api_token_file / okta.api_token_env) or the Graph client secret.
 * A systemd credential named "<tenant>.token" (Okta) or "<tenant>.secret"
 * (Graph) in $CREDENTIALS_DIRECTORY is used when present.  With okta.oauth
 * or graph.certificate_file the credential is the PEM private key instead:
 * "<tenant>.key", else the private_key_file.  A token or client secret that
 * contains a line break or NUL byte is rejected.  Returns RS_ERR_CONFIG
 * with a logged reason when the secret cannot be read.
 */
enum rs_err config_load_secret(const struct config *config, struct secret **out);

/*
 * Writes where config_load_secret() reads the credential, such as "systemd
 * credential acme.token" or "okta.api_token_file (/etc/rostersync/acme.token)",
 * for messages that tell where to fix it.  Reads no secret.
 */
void config_secret_source(const struct config *config, char *buf, size_t size);

/* One row of the key table, for documentation and its tests. */
struct config_key_info {
	const char *path;          /* "sync.max_unassign" */
	const char *type;          /* "mapping", "string", "name", "integer", "boolean", ... */
	const char *default_text;  /* NULL when there is no fixed default */
	long min, max;             /* bounds of an integer, length of a name; else 0 */
	bool required;             /* required whenever its source (or parent mapping) is used */
};

/* Describes key number index, from 0; returns false past the last key. */
bool config_key_describe(size_t index, struct config_key_info *out);

/* "okta" or "graph", as written in the YAML and stored in the roster. */
const char *config_source_name(enum config_source source);

/* "Okta" or "Microsoft Entra ID", for messages to people. */
const char *config_source_title(enum config_source source);

/* The organisation URL (Okta) or tenant id (Graph) of the configured source. */
const char *config_source_org(const struct config *config);
const char *config_source_app(const struct config *config);

#endif
