/*
 * source.c - picks the configured IdP and reads it into a finished set.
 */
#include <string.h>

#include "auth.h"
#include "graph.h"
#include "log.h"
#include "okta.h"
#include "source.h"

void source_http_options(const struct config *config, struct http_options *out)
{
	memset(out, 0, sizeof(*out));
	out->timeout = config->http.timeout;
	out->max_retries = config->http.max_retries;
	out->retry_budget = config->http.retry_budget;
	out->max_wait = config->http.max_wait;
	out->ca_file = config->http.ca_file;
	out->proxy = config->http.proxy;
	out->max_body = 0;
}

/*
 * Reads Okta or Microsoft Graph with the credential of config.  Token
 * requests get their own HTTP client, so that fetching a token never
 * cancels a page request that the reader has under way.
 */
static enum rs_err read_idp(const struct config *config, struct identity_set *set,
			    struct http_stats *stats)
{
	struct http_options options;
	struct http_client *http = NULL;
	struct http_client *token_http = NULL;
	struct auth *auth = NULL;
	enum rs_err err;

	source_http_options(config, &options);
	err = http_client_new(&options, &http);
	if (err == RS_OK)
		err = http_client_sibling(http, &token_http);
	if (err == RS_OK)
		err = auth_new(config, token_http, &auth);
	if (err != RS_OK)
		goto out;
	auth_attach(auth, http);

	if (config->source == CONFIG_SOURCE_GRAPH)
		err = graph_read(config, auth, http, set);
	else
		err = okta_read(config, auth, http, set);
	if (err == RS_OK)
		err = identity_set_finish(set);

out:
	http_client_add_stats(http, token_http);
	*stats = http_client_stats(http);
	auth_free(auth);
	http_client_free(token_http);
	http_client_free(http);
	return err;
}

enum rs_err source_read(const struct config *config, struct identity_set *set,
			struct http_stats *stats)
{
	enum rs_err err;

	memset(stats, 0, sizeof(*stats));
	switch (config->source) {
	case CONFIG_SOURCE_OKTA:
	case CONFIG_SOURCE_GRAPH:
		err = read_idp(config, set, stats);
		break;
	default:
		log_msg(LOG_ERROR, "unknown source %d in the configuration", (int)config->source);
		err = RS_ERR_INTERNAL;
		break;
	}

	if (err != RS_OK)
		identity_set_release(set);
	return err;
}
