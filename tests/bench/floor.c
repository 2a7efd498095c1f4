/*
 * floor.c - the two lower bounds that the benchmark compares the agent
 * with.  It GETs the pages the agent read, one after the other over one
 * libcurl easy handle (so one connection), and does no other work:
 *
 *   floor transfer HEADERS URL...   fetch every page, do not parse it
 *   floor read HEADERS URL...       fetch every page and parse it with cJSON
 *
 * The URLs are every GET of the agent's run, paging cursors included, from
 * the fake IdP's request log; the fake's cursors hold no server state, so a
 * new fake serves the same pages for them.  HEADERS is a file with one
 * request header per line, such as "Authorization: SSWS <token>".  Like the
 * agent, it sends Accept: application/json and accepts every encoding
 * libcurl supports.
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
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

/* A response body, reused for every page so that no page allocates. */
struct body {
	char *data;
	size_t len;
	size_t capacity;
	bool failed;
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

/* GETs url into body; returns false after printing why. */
static bool fetch(CURL *curl, const char *url, struct body *body, struct totals *totals)
{
	long status = 0;
	long connects = 0;
	CURLcode code;

	body->len = 0;
	curl_easy_setopt(curl, CURLOPT_URL, url);
	code = curl_easy_perform(curl);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &connects);
	totals->connections += connects;
	if (code != CURLE_OK || body->failed) {
		fprintf(stderr, "floor: GET %s failed: %s\n", url,
			body->failed ? "out of memory" : curl_easy_strerror(code));
		return false;
	}
	if (status != 200) {
		fprintf(stderr, "floor: GET %s returned %ld\n", url, status);
		return false;
	}
	totals->pages++;
	totals->bytes += (long long)body->len;
	return true;
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
	struct body body = { NULL, 0, 0, false };
	struct curl_slist *headers;
	bool parse;
	bool ok = true;
	CURL *curl;

	if (argc < 4 || (strcmp(argv[1], "transfer") != 0 && strcmp(argv[1], "read") != 0)) {
		fprintf(stderr, "usage: floor transfer|read HEADERS URL...\n");
		return 64;
	}
	parse = strcmp(argv[1], "read") == 0;

	/*
	 * glibc gives the free top of the heap back to the kernel once it
	 * exceeds 128 KiB.  With 1,000,000 users that happened after nearly
	 * every page's cJSON tree: 1.3 million page faults and 1.4 s of system
	 * time that reading a page does not need.  The agent keeps its heap.
	 */
	mallopt(M_TRIM_THRESHOLD, 64 << 20);

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
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);

	for (int i = 3; ok && i < argc; i++) {
		ok = fetch(curl, argv[i], &body, &totals);
		if (ok && parse)
			ok = parse_body(&body, argv[i]);
	}

	curl_easy_cleanup(curl);
	curl_slist_free_all(headers);
	free(body.data);
	curl_global_cleanup();
	if (!ok)
		return 1;
	printf("pages=%ld bytes=%lld connections=%ld\n", totals.pages, totals.bytes,
	       totals.connections);
	return 0;
}
