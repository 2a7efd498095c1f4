/*
 * floor.c - the two lower bounds that the benchmark compares the agent
 * with.  It GETs the same pages the agent reads, one after the other over
 * one libcurl easy handle (so one connection), and does no other work:
 *
 *   floor transfer HEADERS URL...   fetch every page, do not parse it
 *   floor read HEADERS URL...       fetch every page and parse it with cJSON
 *
 * Each URL is the first page of a listing.  The next page comes from the
 * Link header's rel="next" target (Okta), else from "@odata.nextLink" in
 * the body (Microsoft Graph).  HEADERS is a file with one request header
 * per line, such as "Authorization: SSWS <token>".  Like the agent, it
 * sends Accept: application/json and accepts every encoding libcurl
 * supports.
 *
 * On success it prints one line, for example
 *
 *   pages=251 bytes=109318240 connections=1
 *
 * where bytes counts the decoded bodies and connections the connections
 * libcurl opened.  Any status other than 200 or a body that does not parse
 * fails with exit status 1.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

/* A response body, reused for every page so that no page allocates. */
struct body {
	char *data;
	size_t len;
	size_t capacity;
	bool failed;
};

/* What one page transfer leaves behind. */
struct page {
	struct body body;
	char *next;             /* rel="next" target of a Link header, or NULL */
};

struct totals {
	long pages;
	long long bytes;
	long connections;
};

static size_t on_body(char *data, size_t size, size_t count, void *context)
{
	struct body *body = context;
	size_t len = size * count;

	if (body->len + len + 1 > body->capacity) {
		size_t capacity = body->capacity ? body->capacity : 1 << 20;
		char *grown;

		while (capacity < body->len + len + 1)
			capacity *= 2;
		grown = realloc(body->data, capacity);
		if (grown == NULL) {
			body->failed = true;
			return 0;
		}
		body->data = grown;
		body->capacity = capacity;
	}
	memcpy(body->data + body->len, data, len);
	body->len += len;
	body->data[body->len] = '\0';
	return len;
}

/* Keeps the target of a "Link: <URL>; rel="next"" header line. */
static size_t on_header(char *data, size_t size, size_t count, void *context)
{
	struct page *page = context;
	size_t len = size * count;
	char *line;
	char *open;
	char *close;

	if (len < 5 || strncasecmp(data, "link:", 5) != 0)
		return len;
	line = strndup(data, len);
	if (line == NULL)
		return 0;
	open = strchr(line, '<');
	close = open ? strchr(open, '>') : NULL;
	if (close != NULL && strstr(close, "rel=\"next\"") != NULL) {
		free(page->next);
		page->next = strndup(open + 1, (size_t)(close - open - 1));
	}
	free(line);
	return len;
}

/* Returns a copy of the body's "@odata.nextLink" value, or NULL. */
static char *odata_next_link(const struct body *body)
{
	static const char key[] = "\"@odata.nextLink\":\"";
	const char *start = body->len ? strstr(body->data, key) : NULL;
	const char *end;

	if (start == NULL)
		return NULL;
	start += sizeof(key) - 1;
	end = strchr(start, '"');
	return end ? strndup(start, (size_t)(end - start)) : NULL;
}

static bool parse_body(const struct body *body, const char *url)
{
	cJSON *root = cJSON_ParseWithLength(body->data, body->len);

	if (root == NULL) {
		fprintf(stderr, "floor: the body of %s is not valid JSON\n", url);
		return false;
	}
	cJSON_Delete(root);
	return true;
}

/* GETs url into page; returns false after printing why. */
static bool fetch(CURL *curl, const char *url, struct page *page, struct totals *totals)
{
	long status = 0;
	long connects = 0;
	CURLcode code;

	page->body.len = 0;
	free(page->next);
	page->next = NULL;
	curl_easy_setopt(curl, CURLOPT_URL, url);
	code = curl_easy_perform(curl);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &connects);
	totals->connections += connects;
	if (code != CURLE_OK || page->body.failed) {
		fprintf(stderr, "floor: GET %s failed: %s\n", url,
			page->body.failed ? "out of memory" : curl_easy_strerror(code));
		return false;
	}
	if (status != 200) {
		fprintf(stderr, "floor: GET %s returned %ld\n", url, status);
		return false;
	}
	totals->pages++;
	totals->bytes += (long long)page->body.len;
	return true;
}

/* Reads every page of the listing that starts at first_url. */
static bool read_listing(CURL *curl, const char *first_url, bool parse, struct page *page,
			 struct totals *totals)
{
	char *url = strdup(first_url);
	bool ok = url != NULL;

	while (ok && url != NULL) {
		char *next;

		ok = fetch(curl, url, page, totals);
		if (ok && parse)
			ok = parse_body(&page->body, url);
		next = page->next;
		page->next = NULL;
		if (ok && next == NULL)
			next = odata_next_link(&page->body);
		free(url);
		url = next;
	}
	free(url);
	return ok;
}

/* Reads the header lines of path into a curl list; NULL after printing why. */
static struct curl_slist *read_headers(const char *path)
{
	struct curl_slist *list = curl_slist_append(NULL, "Accept: application/json");
	FILE *file = fopen(path, "r");
	char line[4096];

	if (file == NULL) {
		fprintf(stderr, "floor: cannot read %s: %s\n", path, strerror(errno));
		curl_slist_free_all(list);
		return NULL;
	}
	while (list != NULL && fgets(line, sizeof(line), file) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		if (line[0] != '\0')
			list = curl_slist_append(list, line);
	}
	fclose(file);
	return list;
}

int main(int argc, char **argv)
{
	struct totals totals = { 0, 0, 0 };
	struct page page = { { NULL, 0, 0, false }, NULL };
	struct curl_slist *headers;
	bool parse;
	bool ok = true;
	CURL *curl;

	if (argc < 4 || (strcmp(argv[1], "transfer") != 0 && strcmp(argv[1], "read") != 0)) {
		fprintf(stderr, "usage: floor transfer|read HEADERS URL...\n");
		return 64;
	}
	parse = strcmp(argv[1], "read") == 0;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	headers = read_headers(argv[2]);
	curl = curl_easy_init();
	if (headers == NULL || curl == NULL) {
		fprintf(stderr, "floor: cannot set up libcurl\n");
		return 1;
	}
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &page.body);
	curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(curl, CURLOPT_HEADERDATA, &page);

	for (int i = 3; ok && i < argc; i++)
		ok = read_listing(curl, argv[i], parse, &page, &totals);

	curl_easy_cleanup(curl);
	curl_slist_free_all(headers);
	free(page.body.data);
	free(page.next);
	curl_global_cleanup();
	if (!ok)
		return 1;
	printf("pages=%ld bytes=%lld connections=%ld\n", totals.pages, totals.bytes,
	       totals.connections);
	return 0;
}
