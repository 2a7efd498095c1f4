/*
 * graph.c - reads the users assigned to one enterprise app through
 * Microsoft Graph.
 *
 * One read makes these requests, in this order:
 *   1. the service principal whose appId is graph.app_id;
 *   2. every page of its appRoleAssignedTo;
 *   3. every page of the direct members of each assigned group (and, with
 *      graph.nested_groups, of each group nested in one), with the user
 *      attributes in $select, so that group members need no further request;
 *   4. the directly assigned users that no group listing returned: in
 *      $batch requests of 20, or by listing the tenant's users when that
 *      takes fewer requests, and then by $batch those the listing missed.
 * Pages are parsed by graph_parse.c one at a time.  A listing requests its
 * next page before it parses the current one (read_listing()), so at most
 * two pages are in memory.  The first request that finally fails ends the
 * read.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "graph.h"
#include "json_arena.h"
#include "log.h"
#include "stop.h"
#include "strmap.h"

#define STRINGIFY_VALUE(x) #x
#define STRINGIFY(x) STRINGIFY_VALUE(x)

#define PERMISSION_APPS GRAPH_PERMISSION_APPS
#define PERMISSION_USERS GRAPH_PERMISSION_USERS
#define PERMISSION_MEMBERS GRAPH_PERMISSION_MEMBERS

/*
 * cJSON memory for a page as a multiple of its JSON text: the block that
 * the page's tree is first given.  A tree that needs more grows the block.
 */
#define TREE_PER_BODY_BYTE 6

/*
 * Group member listings under way at once, each on its own connection: the
 * one being read and the first pages of the next ones.
 */
#define GROUP_LANES 4

/* Ids named one by one in a warning before the rest are only counted. */
#define MAX_IDS_LOGGED 20

/* ---- the reader ---- */

/* A group to expand: assigned to the app, or nested in one. */
struct group {
	char *id;
	char *name;             /* displayName, else the id */
	bool assigned;
	size_t *children;       /* indices of nested groups */
	size_t child_count;
	size_t *users;          /* indices into the set of its member records */
	size_t user_count;
	unsigned visit;         /* last propagation pass that reached it */
};

/* One HTTP client and the credentials of the GET it has under way. */
struct lane {
	struct http_client *http;
	unsigned generation;    /* auth_generation() when its GET was signed */
};

struct reader {
	const struct config *config;
	struct auth *auth;
	struct http_client *http;
	struct identity_set *set;
	struct lane main;       /* every listing but the group member ones */
	struct lane member_lanes[GROUP_LANES]; /* [0].http is http; the others are siblings */
	char *base;             /* graph_url + "/v1.0" */

	struct strmap seen_users;  /* user id -> index of its first record; keys borrowed from set */
	struct group *groups;
	size_t group_count;
	struct strmap group_index; /* group id -> index in groups */
	const char **direct;    /* ids of users assigned directly, unique: keys of direct_index */
	size_t direct_count;
	struct strmap direct_index;
	bool *direct_pending;   /* by index in direct: the record is still to be read */
	struct strmap deleted_users; /* ids whose $batch step returned 404 */
	size_t skipped[GRAPH_PRINCIPAL_OTHER + 1];
	size_t nested_ignored;
	size_t other_members;   /* devices, contacts, service principals in groups */
	long group_pages;       /* pages of group members read so far */
	long requests;
	struct json_arena arena; /* memory for the tree of one listing page */
};

static void reader_release(struct reader *reader)
{
	for (size_t i = 0; i < reader->group_count; i++) {
		free(reader->groups[i].id);
		free(reader->groups[i].name);
		free(reader->groups[i].children);
		free(reader->groups[i].users);
	}
	free(reader->groups);
	free(reader->direct);
	free(reader->direct_pending);
	strmap_release(&reader->seen_users);
	strmap_release(&reader->group_index);
	strmap_release(&reader->direct_index);
	strmap_release(&reader->deleted_users);
	json_arena_release(&reader->arena);
	free(reader->base);
	for (size_t i = 1; i < GROUP_LANES; i++) {
		http_client_add_stats(reader->http, reader->member_lanes[i].http);
		http_client_free(reader->member_lanes[i].http);
	}
}

static const char *plural(size_t count, const char *singular, const char *plural_form)
{
	return count == 1 ? singular : plural_form;
}

/* ---- requests ---- */

/* Writes a random version 4 UUID, sent as client-request-id. */
static void new_request_id(char out[37])
{
	unsigned char bytes[16];

	if (getrandom(bytes, sizeof(bytes), GRND_NONBLOCK) != (ssize_t)sizeof(bytes)) {
		uint64_t seed = (uint64_t)time(NULL) ^ (uint64_t)clock();

		for (size_t i = 0; i < sizeof(bytes); i++) {
			seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
			bytes[i] = (unsigned char)(seed >> 56);
		}
	}
	bytes[6] = (unsigned char)((bytes[6] & 0x0f) | 0x40);
	bytes[8] = (unsigned char)((bytes[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
		 bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14],
		 bytes[15]);
}

/* One request: its method, URL, extra headers and body (POST only). */
struct request {
	const char *method;
	const char *url;
	const char *extra[3];   /* NULL-terminated "Name: value" headers */
	const char *body;
	size_t body_len;
};

/* The headers of one request: credentials, its extra headers, a client-request-id. */
struct request_headers {
	const char *list[16];    /* NULL-terminated */
	char **credentials;
	char client_request_id[64];
};

static enum rs_err build_headers(const struct reader *reader, const struct request *request,
				 struct request_headers *headers)
{
	char uuid[37];
	size_t n = 0;
	enum rs_err err;

	headers->credentials = NULL;
	err = auth_headers(reader->auth, request->method, request->url, &headers->credentials);
	if (err != RS_OK)
		return err;

	for (size_t i = 0; headers->credentials && headers->credentials[i] && n < 8; i++)
		headers->list[n++] = headers->credentials[i];
	for (size_t i = 0; i < 3 && request->extra[i]; i++)
		headers->list[n++] = request->extra[i];
	new_request_id(uuid);
	snprintf(headers->client_request_id, sizeof(headers->client_request_id),
		 "client-request-id: %s", uuid);
	headers->list[n++] = headers->client_request_id;
	headers->list[n] = NULL;
	return RS_OK;
}

/* Sends request once on http with the current credential headers. */
static enum rs_err send_once(struct reader *reader, struct http_client *http,
			     const struct request *request, struct http_response *response)
{
	struct request_headers headers;
	enum rs_err err;

	memset(response, 0, sizeof(*response));
	err = build_headers(reader, request, &headers);
	if (err != RS_OK)
		return err;

	reader->requests++;
	if (strcmp(request->method, "POST") == 0)
		err = http_post(http, request->url, headers.list, request->body,
				request->body_len, response);
	else
		err = http_get(http, request->url, headers.list, response);
	auth_headers_free(headers.credentials);
	return err;
}

/*
 * Sends request; after a 401 the credential decides whether a new token
 * can help, and if so the request is repeated once with it.  *response
 * contains the final response whatever its status.
 */
static enum rs_err send_request(struct reader *reader, const struct request *request,
				struct http_response *response)
{
	enum rs_err err = send_once(reader, reader->http, request, response);

	if (err == RS_OK && response->status == 401 &&
	    auth_handle_unauthorized(reader->auth, response)) {
		log_msg(LOG_INFO, "%s %.*s returned 401: trying once more with a new access token",
			request->method, (int)strcspn(request->url, "?"), request->url);
		http_response_release(response);
		err = send_once(reader, reader->http, request, response);
	}
	return err;
}

/* ---- paged listings ---- */

struct listing {
	const char *name;        /* "app role assignments", "members of group Sales" */
	const char *permission;  /* named in a 403 hint */
	enum rs_err (*on_page)(struct reader *reader, void *context, const char *where,
			       const struct http_response *page, struct page_ids *ids,
			       char **next_link);
	void *context;
	const char *extra;       /* one extra request header, or NULL */
	bool allow_not_found;    /* a 404 sets not_found */
	bool not_found;
	long pages;
	struct lane *lane;       /* where its pages are requested; NULL for reader->main */
	bool first_started;      /* the first page is already under way on the lane */
	const char *first_url;   /* set by read_listing(): every next link keeps its path */
};

/* Returns the path of url, after its origin, or "" when it has none. */
static const char *url_path(const char *url, size_t *len)
{
	const char *scheme_end = strstr(url, "://");
	const char *path = scheme_end ? strchr(scheme_end + 3, '/') : NULL;

	if (!path) {
		*len = 0;
		return "";
	}
	*len = strcspn(path, "?#");
	return path;
}

/*
 * True when next has the path of the listing's first page.  Graph's next
 * link only adds a $skiptoken to the query, so a link to another path (a
 * proxy's rewrite) would mix other objects into the listing.
 */
static bool same_listing_path(const struct listing *listing, const char *next)
{
	size_t first_len, next_len;
	const char *first = url_path(listing->first_url, &first_len);
	const char *path = url_path(next, &next_len);

	return first_len > 0 && first_len == next_len && strncasecmp(first, path, first_len) == 0;
}

static struct lane *listing_lane(struct reader *reader, const struct listing *listing)
{
	return listing->lane ? listing->lane : &reader->main;
}

/* Checks the next link of a page; frees it and fails when it must not be followed. */
static enum rs_err check_next_link(const struct reader *reader, const struct listing *listing,
				   const struct strmap *followed, char **next)
{
	if (!http_same_origin(reader->config->graph.graph_url, *next)) {
		log_msg(LOG_ERROR, "%s page %ld: rejected the @odata.nextLink %.300s because it is "
			"not on %s", listing->name, listing->pages, *next,
			reader->config->graph.graph_url);
	} else if (!same_listing_path(listing, *next)) {
		log_msg(LOG_ERROR, "%s page %ld: rejected the @odata.nextLink %.300s because its "
			"path differs from the listing's, %.300s", listing->name, listing->pages,
			*next, listing->first_url);
	} else if (strmap_get(followed, *next, NULL)) {
		log_msg(LOG_ERROR, "%s page %ld: repeated @odata.nextLink %.300s", listing->name,
			listing->pages, *next);
	} else {
		return RS_OK;
	}
	free(*next);
	*next = NULL;
	return RS_ERR_PROTOCOL;
}

/* Starts the GET of url without waiting for it; collect_page() collects it. */
static enum rs_err start_get(struct reader *reader, const struct listing *listing,
			     const char *url)
{
	struct request request = { "GET", url, { listing->extra, NULL }, NULL, 0 };
	struct lane *lane = listing_lane(reader, listing);
	struct request_headers headers;
	enum rs_err err = build_headers(reader, &request, &headers);

	if (err != RS_OK)
		return err;
	lane->generation = auth_generation(reader->auth);
	err = http_get_start(lane->http, url, headers.list);
	if (err == RS_OK)
		reader->requests++;
	auth_headers_free(headers.credentials);
	return err;
}

/*
 * Collects the GET of url that start_get() began.  After a 401 it is sent
 * once more when another request renewed the token since it was signed,
 * or when the credential decides that a new token can help, as
 * send_request() does.
 */
static enum rs_err finish_get(struct reader *reader, const struct listing *listing,
			      const char *url, struct http_response *response)
{
	struct request request = { "GET", url, { listing->extra, NULL }, NULL, 0 };
	struct lane *lane = listing_lane(reader, listing);
	enum rs_err err = http_get_finish(lane->http, response);

	if (err != RS_OK || response->status != 401)
		return err;
	if (auth_generation(reader->auth) == lane->generation &&
	    !auth_handle_unauthorized(reader->auth, response))
		return err;

	log_msg(LOG_INFO, "GET %.*s returned 401: trying once more with a new access token",
		(int)strcspn(url, "?"), url);
	http_response_release(response);
	return send_once(reader, lane->http, &request, response);
}

/*
 * Collects the page of url and counts it when its status is 200.  A 404 on
 * any page of a listing that allows it sets not_found, because a group
 * deleted while its pages are read returns 404 on the next one.  A 404 on a
 * later page of another listing is temporary, because the listing worked a
 * moment ago.  Any other status is logged and returned as an error.
 */
static enum rs_err collect_page(struct reader *reader, struct listing *listing,
				const char *url, struct http_response *response)
{
	enum rs_err err = finish_get(reader, listing, url, response);

	if (err != RS_OK)
		return err;
	if (response->status == 404 && listing->allow_not_found) {
		listing->not_found = true;
		graph_report_error(response, "GET", url, NULL);
		return RS_OK;
	}
	if (response->status == 404 && listing->pages > 0) {
		log_msg(LOG_ERROR, "%s page %ld returned 404 after page 1 was read: the listing "
			"was deleted or its next link expired during the read; run again",
			listing->name, listing->pages + 1);
		return RS_ERR_TEMPFAIL;
	}
	if (response->status == 403 && listing->allow_not_found && reader->group_pages > 0) {
		graph_report_error(response, "GET", url, NULL);
		log_msg(LOG_ERROR, "%s returned 403 while the members of other groups were read: "
			"the group's membership is probably hidden; grant the application "
			"permission Member.Read.Hidden with admin consent, or assign the app to its "
			"members another way", listing->name);
		return RS_ERR_PERMISSION;
	}
	if (response->status != 200)
		return graph_report_error(response, "GET", url, listing->permission);
	listing->pages++;
	if (listing->allow_not_found)
		reader->group_pages++;
	return RS_OK;
}

/*
 * Hands a 200 page to the listing, which stores the page's next link in
 * *next_link, and checks in pages that the page is new.  The page's cJSON
 * tree is allocated from the reader's arena.
 */
static enum rs_err handle_page(struct reader *reader, struct listing *listing,
			       struct page_log *pages, const struct http_response *response,
			       char **next_link)
{
	const char *request_id = http_response_request_id(response);
	char where[IDENTITY_MAX_TEXT + 256];
	struct page_ids ids = { 0, 0 };
	enum rs_err err;

	snprintf(where, sizeof(where), "%s page %ld (request id %.100s)", listing->name,
		 listing->pages, request_id ? request_id : "none");
	json_arena_begin(&reader->arena, response->body_len * TREE_PER_BODY_BYTE + 65536);
	err = listing->on_page(reader, listing->context, where, response, &ids, next_link);
	json_arena_end(&reader->arena);
	if (err == RS_OK)
		err = page_log_note(pages, where, listing->pages, &ids, *next_link != NULL,
				    "Microsoft");
	return err;
}

/*
 * Requests the next page before the current one is parsed, when a scan of
 * its text finds an @odata.nextLink that passes every check.  Returns the
 * link requested, or NULL when none was: follow_next() then decides on the
 * parsed link and logs why it is rejected.
 */
static char *prefetch_next(struct reader *reader, const struct listing *listing,
			   const struct strmap *followed, const struct http_response *response)
{
	char *link = graph_scan_next_link(response->body, response->body_len);

	if (link && (listing->pages >= GRAPH_MAX_PAGES ||
		     !http_same_origin(reader->config->graph.graph_url, link) ||
		     !same_listing_path(listing, link) || strmap_get(followed, link, NULL) ||
		     start_get(reader, listing, link) != RS_OK)) {
		free(link);
		link = NULL;
	}
	return link;
}

/*
 * Checks the parsed next link *next against the one that prefetch_next()
 * requested, or requests it now when none was.  Frees *next and fails when
 * it must not be followed.
 */
static enum rs_err follow_next(struct reader *reader, struct listing *listing,
			       const struct strmap *followed, const char *prefetched, char **next)
{
	enum rs_err err;

	if (prefetched && *next && strcmp(prefetched, *next) == 0)
		return RS_OK;
	if (prefetched) {
		log_msg(LOG_ERROR, "%s page %ld: the @odata.nextLink found before parsing, %.300s, "
			"differs from the parsed one, %.300s", listing->name, listing->pages,
			prefetched, *next ? *next : "none");
		err = RS_ERR_PROTOCOL;
	} else if (!*next) {
		return RS_OK;
	} else if (listing->pages >= GRAPH_MAX_PAGES) {
		log_msg(LOG_ERROR, "%s: more than %d pages", listing->name, GRAPH_MAX_PAGES);
		err = RS_ERR_PROTOCOL;
	} else {
		err = check_next_link(reader, listing, followed, next);
		if (err == RS_OK)
			err = start_get(reader, listing, *next);
	}
	if (err != RS_OK) {
		free(*next);
		*next = NULL;
	}
	return err;
}

/*
 * Reads every page of a listing, following @odata.nextLink from first_url.
 * The next page is requested as soon as its link is found, before the
 * current page is parsed, so that Graph prepares it meanwhile.
 */
static enum rs_err read_listing(struct reader *reader, struct listing *listing,
				const char *first_url)
{
	struct strmap followed = { 0 };
	struct page_log pages = { 0 };
	char *url = strdup(first_url);
	enum rs_err err = RS_ERR_INTERNAL;

	listing->first_url = first_url;
	if (url)
		err = listing->first_started ? RS_OK : start_get(reader, listing, url);

	while (err == RS_OK && url) {
		struct http_response response;
		char *prefetched = NULL;
		char *next = NULL;

		if (!strmap_put(&followed, url, 0)) {
			err = RS_ERR_INTERNAL;
			break;
		}

		err = collect_page(reader, listing, url, &response);
		if (err == RS_OK && response.status == 200) {
			prefetched = prefetch_next(reader, listing, &followed, &response);
			err = handle_page(reader, listing, &pages, &response, &next);
		}
		if (err == RS_OK)
			err = follow_next(reader, listing, &followed, prefetched, &next);

		http_response_release(&response);
		free(prefetched);
		free(url);
		url = next;
	}

	http_get_cancel(listing_lane(reader, listing)->http);
	free(url);
	strmap_release(&followed);
	page_log_release(&pages);
	return err;
}

/* Builds base + prefix + id (percent-encoded) + suffix. */
static char *build_url(const struct reader *reader, const char *prefix, const char *id,
		       const char *suffix)
{
	char *escaped = id ? curl_easy_escape(NULL, id, 0) : NULL;
	char *url = NULL;

	if (id && !escaped)
		return NULL;
	if (asprintf(&url, "%s%s%s%s", reader->base, prefix, escaped ? escaped : "", suffix) < 0)
		url = NULL;
	curl_free(escaped);
	return url;
}

/* ---- 1. the service principal ---- */

/* Returns the $filter value "appId eq '<id>'" with quotes doubled, as OData escapes them. */
static char *app_id_filter(const char *app_id)
{
	size_t len = strlen(app_id);
	char *filter = malloc(2 * len + sizeof("appId eq ''"));
	char *p = filter;

	if (!filter)
		return NULL;
	p += sprintf(p, "appId eq '");
	for (const char *c = app_id; *c; c++) {
		*p++ = *c;
		if (*c == '\'')
			*p++ = '\'';
	}
	strcpy(p, "'");
	return filter;
}

static char *service_principal_url(const struct reader *reader)
{
	char *filter = app_id_filter(reader->config->graph.app_id);
	char *url = filter ? build_url(reader, "/servicePrincipals?$filter=", filter,
				       "&$select=id,appId,displayName,appRoleAssignmentRequired")
			   : NULL;

	free(filter);
	return url;
}

static enum rs_err explain_missing_app(const struct config *config)
{
	log_msg(LOG_ERROR, "no enterprise app (service principal) with appId %s in tenant %s: "
		"check graph.app_id, which is the Application (client) ID of the app users are "
		"assigned to", config->graph.app_id, config->graph.tenant_id);
	return RS_ERR_CONFIG;
}

static void warn_assignment_optional(const struct graph_service_principal *sp)
{
	if (sp->assignment_required_known && sp->assignment_required)
		return;
	log_msg(LOG_WARN, "enterprise app %s (service principal %s) does not require assignment "
		"(appRoleAssignmentRequired is %s): every user of the tenant can sign in to it, "
		"and the roster holds only the users and groups assigned to it; set \"Assignment "
		"required?\" to Yes in its properties to make the two agree",
		sp->display_name ? sp->display_name : sp->id, sp->id,
		sp->assignment_required_known ? "false" : "absent");
}

/* Finds the service principal of graph.app_id; RS_ERR_CONFIG when there is none. */
static enum rs_err find_service_principal(struct reader *reader,
					  struct graph_service_principal *sp)
{
	char *url = service_principal_url(reader);
	struct request request = { "GET", url, { NULL }, NULL, 0 };
	struct http_response response;
	size_t count = 0;
	enum rs_err err;

	memset(sp, 0, sizeof(*sp));
	if (!url)
		return RS_ERR_INTERNAL;
	err = send_request(reader, &request, &response);
	if (err == RS_OK && response.status != 200)
		err = graph_report_error(&response, "GET", url, PERMISSION_APPS);
	else if (err == RS_OK)
		err = graph_parse_service_principal_list(response.body, response.body_len, sp,
							 &count);
	if (err == RS_OK && count == 0)
		err = explain_missing_app(reader->config);
	if (err == RS_OK && count > 1) {
		log_msg(LOG_ERROR, "%zu service principals have appId %s, expected one",
			count, reader->config->graph.app_id);
		err = RS_ERR_PROTOCOL;
	}
	/* A proxy that drops the $filter would hand over another app's assignments. */
	if (err == RS_OK && (!sp->app_id || strcasecmp(sp->app_id, reader->config->graph.app_id))) {
		log_msg(LOG_ERROR, "the service principal returned for appId %s has appId %s: the "
			"$filter was not applied, so the read stops (check any proxy between "
			"rostersync and Microsoft Graph)", reader->config->graph.app_id,
			sp->app_id ? sp->app_id : "(none)");
		err = RS_ERR_PROTOCOL;
	}
	if (err != RS_OK)
		graph_service_principal_release(sp);

	http_response_release(&response);
	free(url);
	return err;
}

/* ---- 2. the app role assignments ---- */

/* Adds a group to expand unless present; *index is its position. */
static enum rs_err add_group(struct reader *reader, const char *id, const char *name,
			     bool assigned, size_t *index)
{
	struct group *grown;
	struct group *group;

	if (strmap_get(&reader->group_index, id, index)) {
		reader->groups[*index].assigned |= assigned;
		return RS_OK;
	}
	if (reader->group_count >= GRAPH_MAX_GROUPS) {
		log_msg(LOG_ERROR, "more than %d groups to expand", GRAPH_MAX_GROUPS);
		return RS_ERR_PROTOCOL;
	}
	grown = realloc(reader->groups, (reader->group_count + 1) * sizeof(*grown));
	if (!grown)
		return RS_ERR_INTERNAL;
	reader->groups = grown;
	group = &grown[reader->group_count];
	memset(group, 0, sizeof(*group));
	group->id = strdup(id);
	group->name = strdup(name ? name : id);
	group->assigned = assigned;
	if (!group->id || !group->name || !strmap_put(&reader->group_index, id,
						      reader->group_count)) {
		free(group->id);
		free(group->name);
		return RS_ERR_INTERNAL;
	}
	*index = reader->group_count++;
	return RS_OK;
}

static enum rs_err add_direct_user(struct reader *reader, const char *id)
{
	size_t known = reader->direct_index.count;
	const char **grown;
	const char *key;

	key = strmap_put(&reader->direct_index, id, reader->direct_count);
	if (!key)
		return RS_ERR_INTERNAL;
	if (reader->direct_index.count == known)
		return RS_OK;

	grown = realloc(reader->direct, (reader->direct_count + 1) * sizeof(*grown));
	if (!grown)
		return RS_ERR_INTERNAL;
	reader->direct = grown;
	grown[reader->direct_count++] = key;
	return RS_OK;
}

static enum rs_err record_assignment(struct reader *reader, const struct graph_assignment *item)
{
	size_t index;

	switch (item->type) {
	case GRAPH_PRINCIPAL_USER:
		return add_direct_user(reader, item->principal_id);
	case GRAPH_PRINCIPAL_GROUP:
		return add_group(reader, item->principal_id, item->display_name, true, &index);
	default:
		reader->skipped[item->type]++;
		log_msg(LOG_DEBUG, "skipped the assignment of %s %s (%s)",
			item->type == GRAPH_PRINCIPAL_SERVICE_PRINCIPAL ? "service principal" :
			"principal of an unknown type", item->principal_id,
			item->display_name ? item->display_name : "no display name");
		return RS_OK;
	}
}

static enum rs_err on_assignments_page(struct reader *reader, void *context, const char *where,
				       const struct http_response *page, struct page_ids *ids,
				       char **next_link)
{
	struct graph_assignment *items = NULL;
	size_t count = 0;
	enum rs_err err;

	(void)context;
	err = graph_parse_assignments(where, page->body, page->body_len, &items, &count,
				      next_link);
	for (size_t i = 0; err == RS_OK && i < count; i++) {
		/*
		 * A principal with several app roles is listed once per role,
		 * so two pages can list the same principals.  The loop check
		 * therefore compares the assignments' own ids.
		 */
		page_ids_add(ids, items[i].id ? items[i].id : items[i].principal_id);
		err = record_assignment(reader, &items[i]);
	}
	log_msg(LOG_DEBUG, "%s: %zu assignments", where, count);
	graph_assignments_free(items, count);
	return err;
}

static void log_assignment_counts(const struct reader *reader, long pages)
{
	size_t groups = reader->group_count;

	log_msg(LOG_INFO, "read the app role assignments: %ld %s, %zu %s, %zu %s",
		pages, plural((size_t)pages, "page", "pages"), reader->direct_count,
		plural(reader->direct_count, "user", "users"), groups,
		plural(groups, "group", "groups"));
	if (reader->skipped[GRAPH_PRINCIPAL_SERVICE_PRINCIPAL])
		log_msg(LOG_INFO, "skipped %zu service %s assigned to the app, because only users "
			"hold seats", reader->skipped[GRAPH_PRINCIPAL_SERVICE_PRINCIPAL],
			plural(reader->skipped[GRAPH_PRINCIPAL_SERVICE_PRINCIPAL], "principal",
			       "principals"));
	/* Graph documents User, Group and ServicePrincipal only. */
	if (reader->skipped[GRAPH_PRINCIPAL_OTHER])
		log_msg(LOG_WARN, "skipped %zu %s whose principalType is not User, Group or "
			"ServicePrincipal; their principals get no seat, and a member they held "
			"is unassigned", reader->skipped[GRAPH_PRINCIPAL_OTHER],
			plural(reader->skipped[GRAPH_PRINCIPAL_OTHER], "assignment", "assignments"));
}

static char *assignments_url(const struct reader *reader, const char *sp_id, long top)
{
	char suffix[160];

	snprintf(suffix, sizeof(suffix), "/appRoleAssignedTo?$select=id,principalId,principalType,"
		 "principalDisplayName&$top=%ld", top);
	return build_url(reader, "/servicePrincipals/", sp_id, suffix);
}

static enum rs_err read_assignments(struct reader *reader, const char *sp_id)
{
	struct listing listing = { "app role assignments", PERMISSION_APPS, on_assignments_page,
				   NULL, NULL, false, false, 0, NULL, false, NULL };
	char *url = assignments_url(reader, sp_id, GRAPH_PAGE_SIZE);
	enum rs_err err;

	if (!url)
		return RS_ERR_INTERNAL;
	err = read_listing(reader, &listing, url);
	if (err == RS_OK)
		log_assignment_counts(reader, listing.pages);
	free(url);
	return err;
}

/* ---- 3. group members ---- */

static bool append_index(size_t **items, size_t *count, size_t value)
{
	size_t *grown = realloc(*items, (*count + 1) * sizeof(**items));

	if (!grown)
		return false;
	grown[(*count)++] = value;
	*items = grown;
	return true;
}

/* Adds a user record to the set and remembers the first record of each user. */
static enum rs_err add_user_record(struct reader *reader, const struct identity *user,
				   bool direct, const char *group_name, size_t *index)
{
	struct identity record = *user;
	char *groups[1] = { (char *)group_name };
	enum rs_err err;

	record.direct = direct;
	record.groups = group_name ? groups : NULL;
	record.group_count = group_name ? 1 : 0;
	*index = reader->set->count;
	err = identity_set_add(reader->set, &record);
	if (err == RS_OK && !strmap_put_borrowed(&reader->seen_users,
						  reader->set->items[*index].external_id, *index))
		err = RS_ERR_INTERNAL;
	return err;
}

struct member_context {
	struct reader *reader;
	size_t group;            /* index in reader->groups */
	struct strmap *nested_seen; /* nested groups counted while they are ignored */
	size_t users;
	size_t nested;
};

static enum rs_err on_member_user(void *context, const struct identity *user)
{
	struct member_context *members = context;
	struct reader *reader = members->reader;
	struct group *group = &reader->groups[members->group];
	size_t index;
	enum rs_err err;

	err = add_user_record(reader, user, false, group->assigned ? group->name : NULL, &index);
	if (err == RS_OK && reader->config->graph.nested_groups &&
	    !append_index(&reader->groups[members->group].users,
			  &reader->groups[members->group].user_count, index))
		err = RS_ERR_INTERNAL;
	members->users++;
	return err;
}

static enum rs_err on_member_group(void *context, const char *id, const char *display_name)
{
	struct member_context *members = context;
	struct reader *reader = members->reader;
	size_t child;
	enum rs_err err;

	members->nested++;
	if (!reader->config->graph.nested_groups) {
		/* An assigned group's members count through its own assignment. */
		if (strmap_get(&reader->group_index, id, &child) && reader->groups[child].assigned)
			return RS_OK;
		if (!strmap_get(members->nested_seen, id, NULL))
			reader->nested_ignored++;
		return strmap_put(members->nested_seen, id, 0) ? RS_OK : RS_ERR_INTERNAL;
	}
	err = add_group(reader, id, display_name, false, &child);
	if (err == RS_OK && !append_index(&reader->groups[members->group].children,
					  &reader->groups[members->group].child_count, child))
		err = RS_ERR_INTERNAL;
	return err;
}

static void on_member_other(void *context, const char *type, const char *id)
{
	struct member_context *members = context;

	members->reader->other_members++;
	log_msg(LOG_DEBUG, "skipped member %s of type %s in group %s", id, type,
		members->reader->groups[members->group].id);
}

static enum rs_err on_members_page(struct reader *reader, void *context, const char *where,
				   const struct http_response *page, struct page_ids *ids,
				   char **next_link)
{
	const struct graph_object_sink sink = { on_member_user, on_member_group, on_member_other,
						context, NULL, ids };

	(void)reader;
	return graph_parse_objects(where, page->body, page->body_len, false, &sink, next_link);
}

static enum rs_err explain_missing_group(const struct group *group)
{
	if (group->assigned)
		log_msg(LOG_ERROR, "group %s (%s) assigned to the app was not found, so its "
			"members cannot be read and the read is incomplete; if the group was "
			"deleted, remove its assignment from the enterprise app, else run again "
			"once the directory has caught up", group->name, group->id);
	else
		log_msg(LOG_ERROR, "group %s (%s) nested in an assigned group was not found, so its "
			"members cannot be read and the read is incomplete; if the group was "
			"deleted, remove it from the group that holds it, else run again once the "
			"directory has caught up", group->name, group->id);
	return RS_ERR_UNAVAILABLE;
}

static char *members_url(const struct reader *reader, const char *group_id, long top)
{
	char suffix[256];

	snprintf(suffix, sizeof(suffix), "/members?$select=%s&$top=%ld", GRAPH_USER_SELECT, top);
	return build_url(reader, "/groups/", group_id, suffix);
}

static enum rs_err read_group_members(struct reader *reader, size_t index,
				      struct strmap *nested_seen)
{
	struct member_context members = { reader, index, nested_seen, 0, 0 };
	char name[IDENTITY_MAX_TEXT + 400];
	struct listing listing = { name, PERMISSION_MEMBERS, on_members_page, &members, NULL,
				   true, false, 0, &reader->member_lanes[index % GROUP_LANES], true, NULL };
	char *url = members_url(reader, reader->groups[index].id, GRAPH_PAGE_SIZE);
	enum rs_err err;

	if (!url)
		return RS_ERR_INTERNAL;
	snprintf(name, sizeof(name), "members of group %s (%s)", reader->groups[index].name,
		 reader->groups[index].id);
	err = read_listing(reader, &listing, url);
	free(url);
	if (err == RS_OK && listing.not_found)
		return explain_missing_group(&reader->groups[index]);
	if (err == RS_OK)
		log_msg(LOG_INFO, "read the %s: %ld %s, %zu %s, %zu nested %s", name, listing.pages,
			plural((size_t)listing.pages, "page", "pages"), members.users,
			plural(members.users, "user", "users"), members.nested,
			plural(members.nested, "group", "groups"));
	return err;
}

/*
 * Labels the members of groups nested in each assigned group with the
 * assigned group's name, through any depth.  visit numbers keep each pass
 * from entering a group twice, so cycles end.
 */
static enum rs_err label_nested_members(struct reader *reader)
{
	size_t *stack = malloc((reader->group_count + 1) * sizeof(*stack));
	unsigned pass = 0;
	enum rs_err err = stack ? RS_OK : RS_ERR_INTERNAL;

	for (size_t a = 0; err == RS_OK && a < reader->group_count; a++) {
		size_t depth = 0;

		if (!reader->groups[a].assigned)
			continue;
		pass++;
		reader->groups[a].visit = pass;
		stack[depth++] = a;
		while (err == RS_OK && depth > 0) {
			struct group *group = &reader->groups[stack[--depth]];

			for (size_t u = 0; err == RS_OK && group != &reader->groups[a] &&
			     u < group->user_count; u++)
				err = identity_add_group(&reader->set->items[group->users[u]],
							 reader->groups[a].name);
			for (size_t c = 0; c < group->child_count; c++) {
				struct group *child = &reader->groups[group->children[c]];

				if (child->visit == pass)
					continue;
				child->visit = pass;
				stack[depth++] = group->children[c];
			}
		}
	}
	free(stack);
	return err;
}

/*
 * Requests the first member page of group index on its lane, and creates
 * the lane's HTTP client the first time.
 */
static enum rs_err start_members(struct reader *reader, size_t index)
{
	struct lane *lane = &reader->member_lanes[index % GROUP_LANES];
	struct listing listing = { .lane = lane };
	enum rs_err err = RS_OK;
	char *url;

	if (!lane->http)
		err = http_client_sibling(reader->http, &lane->http);
	if (err != RS_OK)
		return err;

	url = members_url(reader, reader->groups[index].id, GRAPH_PAGE_SIZE);
	if (!url)
		return RS_ERR_INTERNAL;
	err = start_get(reader, &listing, url);
	free(url);
	return err;
}

/*
 * Reads the member listings of every group in order.  While one is read,
 * the first pages of the next GROUP_LANES - 1 are already requested, each
 * on its own connection, so one round trip serves several groups.
 */
static enum rs_err read_all_members(struct reader *reader)
{
	struct strmap nested_seen = { 0 };
	enum rs_err err = RS_OK;
	size_t started = 0;

	for (size_t i = 0; err == RS_OK && i < reader->group_count; i++) {
		while (err == RS_OK && started < reader->group_count && started < i + GROUP_LANES)
			err = start_members(reader, started++);
		if (err == RS_OK)
			err = read_group_members(reader, i, &nested_seen);
	}
	strmap_release(&nested_seen);
	return err;
}

static enum rs_err read_groups(struct reader *reader)
{
	enum rs_err err = read_all_members(reader);

	if (err == RS_OK && reader->config->graph.nested_groups)
		err = label_nested_members(reader);
	if (err != RS_OK)
		return err;

	if (reader->nested_ignored > 0)
		log_msg(LOG_INFO, "ignored %zu nested %s in assigned groups, because Microsoft Entra "
			"ID grants app access only to direct members of an assigned group; set "
			"graph.nested_groups: true to count their members too", reader->nested_ignored,
			plural(reader->nested_ignored, "group", "groups"));
	if (reader->config->graph.nested_groups && reader->group_count > 0)
		log_msg(LOG_INFO, "expanded %zu %s, nested ones included", reader->group_count,
			plural(reader->group_count, "group", "groups"));
	if (reader->other_members > 0)
		log_msg(LOG_INFO, "skipped group members that are not users (devices, contacts, "
			"service principals): %zu", reader->other_members);
	return RS_OK;
}

/* ---- 4. directly assigned users ---- */

/*
 * True for a directly assigned user whose record the read still needs: one
 * not met in a group, nor earlier in this listing.  Sets *index to its
 * index in reader->direct.
 */
static bool find_pending_user(const struct reader *reader, const char *id, size_t *index)
{
	return strmap_get(&reader->direct_index, id, index) && reader->direct_pending[*index];
}

static bool wants_direct_user(void *context, const char *id)
{
	size_t index;

	return find_pending_user(context, id, &index);
}

static enum rs_err on_direct_user(void *context, const struct identity *user)
{
	struct reader *reader = context;
	size_t index;

	if (!find_pending_user(reader, user->external_id, &index))
		return RS_OK;
	reader->direct_pending[index] = false;
	return add_user_record(reader, user, true, NULL, &index);
}

/* Builds the $batch body that GETs each of ids with the user $select. */
static char *batch_body(const char *const *ids, size_t count)
{
	cJSON *root = cJSON_CreateObject();
	cJSON *requests = cJSON_AddArrayToObject(root, "requests");
	char *text = NULL;
	bool ok = requests != NULL;

	for (size_t i = 0; ok && i < count; i++) {
		cJSON *request = cJSON_CreateObject();
		char *escaped = curl_easy_escape(NULL, ids[i], 0);
		char number[24];
		char *url = NULL;

		snprintf(number, sizeof(number), "%zu", i + 1);
		ok = request && escaped &&
		     asprintf(&url, "/users/%s?$select=%s", escaped, GRAPH_USER_SELECT) >= 0 &&
		     cJSON_AddStringToObject(request, "id", number) &&
		     cJSON_AddStringToObject(request, "method", "GET") &&
		     cJSON_AddStringToObject(request, "url", url);
		if (request && !cJSON_AddItemToArray(requests, request)) {
			cJSON_Delete(request);
			ok = false;
		}
		curl_free(escaped);
		free(url);
	}
	if (ok)
		text = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return text;
}

/* Sends one $batch request for ids and maps the response into *result. */
static enum rs_err send_batch(struct reader *reader, const char *const *ids, size_t count,
			      long number, struct graph_batch_result *result)
{
	char *url = build_url(reader, "/$batch", NULL, "");
	char *body = batch_body(ids, count);
	struct request request = { "POST", url, { "Content-Type: application/json", NULL },
				   body, body ? strlen(body) : 0 };
	const struct graph_object_sink sink = { on_direct_user, NULL, NULL, reader, NULL, NULL };
	struct http_response response;
	const char *request_id;
	char where[160];
	enum rs_err err;

	memset(result, 0, sizeof(*result));
	if (!url || !body) {
		free(url);
		cJSON_free(body);
		return RS_ERR_INTERNAL;
	}
	err = send_request(reader, &request, &response);
	if (err == RS_OK && response.status != 200) {
		err = graph_report_error(&response, "POST", url, PERMISSION_USERS);
	} else if (err == RS_OK) {
		request_id = http_response_request_id(&response);
		snprintf(where, sizeof(where), "users $batch %ld (request id %.100s)", number,
			 request_id ? request_id : "none");
		err = graph_parse_batch(where, response.body, response.body_len, ids, count, &sink,
					result);
	}
	http_response_release(&response);
	cJSON_free(body);
	free(url);
	return err;
}

/*
 * Writes the subject of the retry log lines about the steps to send again
 * of $batch number, which requested count users, such as "users $batch 1:
 * 2 of 20 users were throttled or failed (first: 429, request id X)".
 */
static void describe_batch_retry(const struct graph_batch_result *result, long number,
				 size_t count, char *out, size_t size)
{
	if (result->retry_status == 0)
		snprintf(out, size, "users $batch %ld: %zu of %zu users were throttled or failed "
			 "(first: missing from the response)", number, result->retry_count, count);
	else
		snprintf(out, size, "users $batch %ld: %zu of %zu users were throttled or failed "
			 "(first: %ld, request id %s)", number, result->retry_count, count,
			 result->retry_status,
			 result->retry_request_id ? result->retry_request_id : "none");
}

/* Adds the ids whose step returned 404 to the reader's deleted users. */
static enum rs_err note_deleted_users(struct reader *reader,
				      const struct graph_batch_result *result)
{
	for (size_t i = 0; i < result->not_found_count; i++) {
		if (!strmap_put(&reader->deleted_users, result->not_found[i], 0))
			return RS_ERR_INTERNAL;
	}
	return RS_OK;
}

/*
 * Reads the users in ids with one $batch request, and sends the
 * sub-requests that were throttled or failed again in a new $batch, as
 * Graph's throttling guidance recommends.  Each retry waits through
 * http_wait_for_retry(), with the policy and the retry budget of every
 * other request: after the longest Retry-After among the steps, else
 * after backoff.
 */
static enum rs_err read_user_batch(struct reader *reader, const char *const *ids, size_t count,
				   long number)
{
	struct graph_batch_result result;
	const char *const *todo = ids;
	size_t todo_count = count;
	char **retry = NULL;
	size_t retry_count = 0;
	enum rs_err err = RS_OK;

	for (long attempt = 0; err == RS_OK && todo_count > 0; attempt++) {
		char subject[256];
		double retry_after;
		bool throttled;

		err = send_batch(reader, todo, todo_count, number, &result);
		if (err == RS_OK)
			err = note_deleted_users(reader, &result);
		retry_after = result.retry_after;
		/*
		 * NOTE: the status of the first failed step decides, so a mix of
		 * 429 and 503 gives up as 75 or 69 by whichever came first.
		 */
		throttled = result.retry_status == 429;
		describe_batch_retry(&result, number, count, subject, sizeof(subject));
		for (size_t i = 0; i < retry_count; i++)
			free(retry[i]);
		free(retry);
		retry = result.retry;
		retry_count = result.retry_count;
		result.retry = NULL;
		result.retry_count = 0;
		graph_batch_result_release(&result);
		if (err != RS_OK || retry_count == 0)
			break;

		/* Like a plain request: a rate limit that did not clear is temporary. */
		err = http_wait_for_retry(reader->http, subject, attempt + 1, retry_after, throttled);
		todo = (const char *const *)retry;
		todo_count = retry_count;
	}
	for (size_t i = 0; i < retry_count; i++)
		free(retry[i]);
	free(retry);
	return err;
}

static enum rs_err read_users_by_batch(struct reader *reader, const char *const *pending,
				       size_t count)
{
	long batches = 0;
	enum rs_err err = RS_OK;

	for (size_t start = 0; err == RS_OK && start < count; start += GRAPH_BATCH_SIZE) {
		size_t n = count - start < GRAPH_BATCH_SIZE ? count - start : GRAPH_BATCH_SIZE;

		err = read_user_batch(reader, pending + start, n, ++batches);
	}
	if (err == RS_OK)
		log_msg(LOG_INFO, "read %zu directly assigned %s in %ld $batch %s", count,
			plural(count, "user", "users"), batches, plural((size_t)batches, "request",
									"requests"));
	return err;
}

static enum rs_err on_tenant_users_page(struct reader *reader, void *context, const char *where,
					const struct http_response *page, struct page_ids *ids,
					char **next_link)
{
	const struct graph_object_sink sink = { on_direct_user, NULL, NULL, reader,
						wants_direct_user, ids };

	(void)context;
	return graph_parse_objects(where, page->body, page->body_len, true, &sink, next_link);
}

static size_t unlisted_count(const struct reader *reader)
{
	size_t count = 0;

	for (size_t i = 0; i < reader->direct_count; i++)
		count += reader->direct_pending[i];
	return count;
}

static enum rs_err read_users_by_listing(struct reader *reader, size_t count)
{
	struct listing listing = { "users of the tenant", PERMISSION_USERS, on_tenant_users_page,
				   NULL, NULL, false, false, 0, NULL, false, NULL };
	char *url = build_url(reader, "/users?$select=", NULL,
			      GRAPH_USER_SELECT "&$top=" STRINGIFY(GRAPH_PAGE_SIZE));
	enum rs_err err;

	if (!url)
		return RS_ERR_INTERNAL;
	err = read_listing(reader, &listing, url);
	free(url);
	if (err == RS_OK)
		log_msg(LOG_INFO, "read %zu of %zu directly assigned users by listing the tenant's "
			"users: %ld %s", count - unlisted_count(reader), count, listing.pages,
			plural((size_t)listing.pages, "page", "pages"));
	return err;
}

/*
 * Collects into pending the directly assigned users that the reads so far
 * did not return, and returns how many there are.
 */
static size_t collect_unlisted(const struct reader *reader, const char **pending)
{
	size_t count = 0;

	for (size_t i = 0; i < reader->direct_count; i++) {
		if (reader->direct_pending[i])
			pending[count++] = reader->direct[i];
	}
	return count;
}

/*
 * Reads by id the users that the listing of the tenant did not return.  A
 * listing can miss users (a replica behind, a page lost on the way), so a
 * user counts as deleted only after a 404 for its id, as with $batch alone.
 */
static enum rs_err read_unlisted_users(struct reader *reader, const char **pending)
{
	size_t count = collect_unlisted(reader, pending);

	if (count == 0)
		return RS_OK;
	log_msg(LOG_INFO, "the listing of the tenant's users did not return %zu directly "
		"assigned %s; reading %s by id", count, plural(count, "user", "users"),
		count == 1 ? "it" : "them");
	return read_users_by_batch(reader, pending, count);
}

/*
 * Counts the tenant's users with $count, which needs ConsistencyLevel:
 * eventual.  Returns false, after a warning, when Graph does not return
 * a count.  The count only chooses how users are read.
 */
static bool count_tenant_users(struct reader *reader, long long *count, enum rs_err *err)
{
	char *url = build_url(reader, "/users?$count=true&$top=1&$select=id", NULL, "");
	struct request request = { "GET", url, { "ConsistencyLevel: eventual", NULL }, NULL, 0 };
	struct http_response response;
	bool counted = false;

	*err = url ? send_request(reader, &request, &response) : RS_ERR_INTERNAL;
	if ((*err == RS_ERR_TEMPFAIL || *err == RS_ERR_UNAVAILABLE) && !stop_signal()) {
		log_msg(LOG_WARN, "counting the tenant's users failed (see above), so the assigned "
			"users are read by id");
		*err = RS_OK;
		free(url);
		return false;
	}
	if (*err == RS_OK && response.status == 200)
		counted = graph_parse_count(response.body, response.body_len, count) == RS_OK;
	if (*err == RS_OK && response.status != 200)
		log_msg(LOG_WARN, "counting the tenant's users returned %ld, so the assigned users "
			"are read by id", response.status);
	else if (*err == RS_OK && !counted)
		log_msg(LOG_WARN, "counting the tenant's users (%s) returned no whole number in "
			"@odata.count, so the assigned users are read by id", url);
	if (*err == RS_OK)
		http_response_release(&response);
	free(url);
	return counted;
}

/*
 * Decides how to read count users by id: $batch takes count / 20 requests,
 * a listing of all users takes tenant / 999.  The count request is only
 * worth it when more than two $batch requests are needed.
 */
static enum rs_err choose_listing(struct reader *reader, size_t count, bool *listing)
{
	size_t batches = (count + GRAPH_BATCH_SIZE - 1) / GRAPH_BATCH_SIZE;
	long long tenant = 0;
	enum rs_err err = RS_OK;

	*listing = false;
	if (batches <= 2 || !count_tenant_users(reader, &tenant, &err))
		return err;
	*listing = (unsigned long long)(tenant / GRAPH_PAGE_SIZE + 1) < batches;
	log_msg(LOG_DEBUG, "%zu users to read by id in a tenant of %lld users: %s", count, tenant,
		*listing ? "listing the tenant's users" : "$batch requests");
	return RS_OK;
}

/*
 * Records each pending user that the read did not return, and warns about
 * it.  Such a user was deleted while its assignment is still listed, so the
 * plan unassigns its member.  A user counts as not found only after a 404
 * for its id.  Any other gap fails the read, because nothing shows that the
 * user is gone.
 */
static enum rs_err check_users_not_found(const struct reader *reader)
{
	size_t missing = 0;
	enum rs_err err = RS_OK;

	for (size_t i = 0; err == RS_OK && i < reader->direct_count; i++) {
		const char *id = reader->direct[i];

		if (!reader->direct_pending[i])
			continue;
		if (!strmap_get(&reader->deleted_users, id, NULL)) {
			log_msg(LOG_ERROR, "user %s is assigned to the app, but no $batch response "
				"returned it or a 404 for it", id);
			return RS_ERR_PROTOCOL;
		}
		if (++missing <= MAX_IDS_LOGGED)
			log_msg(LOG_WARN, "user %s is assigned to the app but was not found in the "
				"directory, perhaps deleted: it gets no new seat", id);
		err = identity_set_add_not_found(reader->set, id);
	}
	if (missing > MAX_IDS_LOGGED)
		log_msg(LOG_WARN, "%zu assigned users in all were not found in the directory and "
			"get no seat", missing);
	return err;
}

static enum rs_err read_direct_users(struct reader *reader)
{
	const char **pending = calloc(reader->direct_count + 1, sizeof(*pending));
	size_t count = 0;
	bool listing = false;
	enum rs_err err;

	reader->direct_pending = calloc(reader->direct_count + 1, sizeof(bool));
	err = pending && reader->direct_pending ? RS_OK : RS_ERR_INTERNAL;
	for (size_t i = 0; err == RS_OK && i < reader->direct_count; i++) {
		size_t index;

		if (strmap_get(&reader->seen_users, reader->direct[i], &index)) {
			reader->set->items[index].direct = true;
		} else {
			reader->direct_pending[i] = true;
			pending[count++] = reader->direct[i];
		}
	}
	if (err == RS_OK && count > 0)
		err = choose_listing(reader, count, &listing);
	if (err == RS_OK && count > 0 && listing)
		err = read_users_by_listing(reader, count);
	if (err == RS_OK && count > 0 && listing)
		err = read_unlisted_users(reader, pending);
	else if (err == RS_OK && count > 0)
		err = read_users_by_batch(reader, pending, count);
	if (err == RS_OK)
		err = check_users_not_found(reader);
	free(pending);
	return err;
}

/* ---- the whole read ---- */

static enum rs_err reader_init(struct reader *reader, const struct config *config,
			       struct auth *auth, struct http_client *http,
			       struct identity_set *set)
{
	memset(reader, 0, sizeof(*reader));
	json_arena_init(&reader->arena);
	reader->config = config;
	reader->auth = auth;
	reader->http = http;
	reader->main.http = http;
	reader->member_lanes[0].http = http;
	reader->set = set;
	if (asprintf(&reader->base, "%s/v1.0", config->graph.graph_url) < 0) {
		reader->base = NULL;
		return RS_ERR_INTERNAL;
	}
	return RS_OK;
}

static void log_service_principal(const struct graph_service_principal *sp)
{
	log_msg(LOG_INFO, "found enterprise app %s: service principal %s, assignment %s",
		sp->display_name ? sp->display_name : "without a name", sp->id,
		sp->assignment_required_known && sp->assignment_required ? "required" :
		"not required");
	warn_assignment_optional(sp);
}

enum rs_err graph_read(const struct config *config, struct auth *auth,
		       struct http_client *http, struct identity_set *set)
{
	struct graph_service_principal sp = { 0 };
	struct reader reader;
	enum rs_err err = reader_init(&reader, config, auth, http, set);

	if (err == RS_OK)
		err = find_service_principal(&reader, &sp);
	if (err == RS_OK) {
		log_service_principal(&sp);
		err = read_assignments(&reader, sp.id);
	}
	if (err == RS_OK)
		err = read_groups(&reader);
	if (err == RS_OK)
		err = read_direct_users(&reader);
	if (err == RS_OK)
		log_msg(LOG_INFO, "read %zu user %s from Microsoft Entra ID in %ld %s",
			set->count, plural(set->count, "record", "records"), reader.requests,
			plural((size_t)reader.requests, "request", "requests"));

	graph_service_principal_release(&sp);
	reader_release(&reader);
	return err;
}

/* ---- single requests for `rostersync test` ---- */

enum rs_err graph_find_app(const struct config *config, struct auth *auth,
			   struct http_client *http, struct graph_service_principal *sp)
{
	struct reader reader;
	enum rs_err err = reader_init(&reader, config, auth, http, NULL);

	memset(sp, 0, sizeof(*sp));
	if (err == RS_OK)
		err = find_service_principal(&reader, sp);
	reader_release(&reader);
	return err;
}

enum rs_err graph_get(const struct config *config, struct auth *auth, struct http_client *http,
		      const char *path, const char *permission, struct http_response *out)
{
	struct reader reader;
	struct request request = { "GET", NULL, { NULL }, NULL, 0 };
	char *url = NULL;
	enum rs_err err = reader_init(&reader, config, auth, http, NULL);

	memset(out, 0, sizeof(*out));
	if (err == RS_OK && asprintf(&url, "%s%s", reader.base, path) < 0) {
		url = NULL;
		err = RS_ERR_INTERNAL;
	}
	request.url = url;
	if (err == RS_OK)
		err = send_request(&reader, &request, out);
	if (err == RS_OK && out->status != 200)
		err = graph_report_error(out, "GET", url, permission);
	free(url);
	reader_release(&reader);
	return err;
}
