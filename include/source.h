/*
 * source.h - reads the configured IdP into a finished identity set.
 *
 * This is the only place that knows which sources exist; run.c calls it
 * and never names Okta or Graph.
 */
#ifndef ROSTERSYNC_SOURCE_H
#define ROSTERSYNC_SOURCE_H

#include "config.h"
#include "error.h"
#include "http.h"
#include "identity.h"

/*
 * Loads the credentials, creates the HTTP client, reads every assignment
 * and finishes the set.  On failure the set is released and the error says
 * why the read is incomplete.  *stats receives the HTTP counters either way.
 */
enum rs_err source_read(const struct config *config, struct identity_set *set,
			struct http_stats *stats);

/* The HTTP settings of config as http_options. */
void source_http_options(const struct config *config, struct http_options *out);

#endif
