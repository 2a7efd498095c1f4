/*
 * config.c - the per-tenant YAML file, read with libyaml's event API.
 *
 * Loading has three steps.  The events become a small tree of scalars and
 * mappings, which is where anchors, aliases, tags, duplicate keys and deep
 * nesting are rejected.  The tree is then matched against config_keys[],
 * the one table of keys with their types, defaults and bounds, which
 * converts each value into struct config.  Last come the rules that span
 * several keys (which credential, which source) and the derived values.
 *
 * Every problem is collected with its file:line:column and all of them are
 * logged together, so one edit can fix them all.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE     /* asprintf, memrchr */
#endif
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "config.h"
#include "identity.h"

/* Larger files are rejected before parsing. */
#define CONFIG_FILE_MAX (1024 * 1024)

/*
 * Deepest collection kept: the top-level mapping is depth 1 and
 * okta.oauth.client_id sits in a mapping at depth 3.  Depth 4 still gets a
 * precise type error ("expected a string, found a mapping").
 */
#define CONFIG_DEPTH_MAX 4

/* Maximum length of a scalar, in bytes (PATH_MAX on Linux). */
#define CONFIG_VALUE_MAX 4096

/* Problems logged in full; later ones are only counted. */
#define PROBLEMS_SHOWN 20

/* Maximum length of a key path such as "okta.oauth.private_key_file". */
#define KEY_PATH_MAX 128

/* A 1-based position in the file.  Line 0 means the file as a whole. */
struct mark {
	unsigned long line;
	unsigned long column;
};

enum node_kind { NODE_SCALAR, NODE_MAPPING, NODE_SEQUENCE, NODE_INVALID };

struct entry;

/* One YAML value.  NODE_INVALID stands for a value already reported. */
struct node {
	enum node_kind kind;
	struct mark mark;
	char *value;            /* NODE_SCALAR: the text */
	bool quoted;            /* NODE_SCALAR: not written plain */
	struct entry *entries;  /* NODE_MAPPING: keys in file order */
	size_t count;
	size_t capacity;
};

struct entry {
	char *key;
	struct mark mark;
	struct node *value;
};

enum key_type {
	KEY_SECTION,    /* a mapping of further keys */
	KEY_STRING,     /* any non-empty text */
	KEY_NAME,       /* [A-Za-z0-9._-], 1..max characters */
	KEY_ENV_NAME,   /* an environment variable name */
	KEY_INTEGER,    /* decimal, min..max */
	KEY_BOOLEAN,    /* true or false */
	KEY_ENUM,       /* one of words[] */
	KEY_URL,        /* https://host[:port], or http:// on loopback */
	KEY_PROXY,      /* a libcurl proxy URL */
};

/* When a key must be present.  Keys under okta. and graph. count only for that source. */
enum key_need {
	NEED_OPTIONAL,
	NEED_REQUIRED,          /* whenever its source is active */
	NEED_WITH_PARENT,       /* when its parent mapping is present */
};

struct loader;

struct key_spec {
	const char *path;
	enum key_type type;
	enum key_need need;
	size_t offset;                  /* field in struct config */
	const char *default_text;       /* parsed like a value from the file */
	long min, max;                  /* KEY_INTEGER: bounds; KEY_NAME: 1..max chars */
	const char *const *words;       /* KEY_ENUM: NULL-terminated, in enum order */
	/* Extra check of a converted string value, false after adding a problem. */
	bool (*check)(struct loader *loader, const struct key_spec *spec,
		      const char *value, struct mark mark);
};

struct problem {
	struct mark mark;
	size_t order;
	char *text;
};

struct loader {
	const char *file;
	struct config *config;
	struct problem problems[PROBLEMS_SHOWN];
	size_t shown;
	size_t total;
	bool out_of_memory;
	bool syntax_error;
	struct mark root_mark;  /* where the top-level mapping starts */
	struct mark end_mark;   /* end of the document, for missing sections */
	bool *seen;             /* per key: present in the file */
	struct mark *key_marks; /* per key: where its name was written */
	bool *sections_read;    /* per section key: present and a mapping */
};

static bool check_okta_org_url(struct loader *loader, const struct key_spec *spec,
			       const char *value, struct mark mark);
static bool check_roster_path(struct loader *loader, const struct key_spec *spec,
			      const char *value, struct mark mark);
static bool check_tenant_id(struct loader *loader, const struct key_spec *spec,
			    const char *value, struct mark mark);
static bool same_file(const char *a, const char *b);

static const char *const source_words[] = { "okta", "graph", NULL };
static const char *const unmanaged_words[] = { "keep", "unassign", NULL };
static const char *const cloud_words[] = { "global", "usgov", "china", NULL };
static const char *const assertion_words[] = { "PS256", "RS256", NULL };
static const char *const format_words[] = { "text", "json", NULL };
static const char *const level_words[] = { "error", "warn", "info", "debug", NULL };

_Static_assert(sizeof(enum config_source) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(enum config_unmanaged) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(enum config_cloud) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(enum config_assertion_algorithm) == sizeof(int),
	       "enum fields are stored as int");
_Static_assert(sizeof(enum log_format) == sizeof(int), "enum fields are stored as int");
_Static_assert(sizeof(enum log_level) == sizeof(int), "enum fields are stored as int");

#define FIELD(member) offsetof(struct config, member)

/*
 * Every key rostersync reads.  A parent mapping comes before its keys.
 * docs/config.md describes the same rows, and test_config checks that it
 * names every key and default.
 */
static const struct key_spec config_keys[] = {
	{ "tenant", KEY_NAME, NEED_REQUIRED, FIELD(tenant), NULL, 1, 64, NULL, NULL },
	{ "source", KEY_ENUM, NEED_OPTIONAL, FIELD(source), "okta", 0, 0, source_words, NULL },

	{ "okta", KEY_SECTION, NEED_REQUIRED, 0, NULL, 0, 0, NULL, NULL },
	{ "okta.org_url", KEY_URL, NEED_REQUIRED, FIELD(okta.org_url), NULL, 0, 0, NULL,
	  check_okta_org_url },
	{ "okta.app_id", KEY_NAME, NEED_REQUIRED, FIELD(okta.app_id), NULL, 1, 128, NULL, NULL },
	{ "okta.api_token_file", KEY_STRING, NEED_OPTIONAL, FIELD(okta.api_token_file),
	  NULL, 0, 0, NULL, NULL },
	{ "okta.api_token_env", KEY_ENV_NAME, NEED_OPTIONAL, FIELD(okta.api_token_env),
	  NULL, 0, 0, NULL, NULL },
	{ "okta.oauth", KEY_SECTION, NEED_OPTIONAL, 0, NULL, 0, 0, NULL, NULL },
	{ "okta.oauth.client_id", KEY_NAME, NEED_WITH_PARENT, FIELD(okta.oauth.client_id),
	  NULL, 1, 128, NULL, NULL },
	{ "okta.oauth.private_key_file", KEY_STRING, NEED_WITH_PARENT,
	  FIELD(okta.oauth.private_key_file), NULL, 0, 0, NULL, NULL },
	{ "okta.oauth.key_id", KEY_NAME, NEED_OPTIONAL, FIELD(okta.oauth.key_id),
	  NULL, 1, 256, NULL, NULL },
	{ "okta.oauth.dpop", KEY_BOOLEAN, NEED_OPTIONAL, FIELD(okta.oauth.dpop),
	  "true", 0, 0, NULL, NULL },

	{ "graph", KEY_SECTION, NEED_REQUIRED, 0, NULL, 0, 0, NULL, NULL },
	{ "graph.tenant_id", KEY_NAME, NEED_REQUIRED, FIELD(graph.tenant_id), NULL, 1, 253, NULL,
	  check_tenant_id },
	{ "graph.client_id", KEY_NAME, NEED_REQUIRED, FIELD(graph.client_id), NULL, 1, 128, NULL, NULL },
	{ "graph.client_secret_file", KEY_STRING, NEED_OPTIONAL, FIELD(graph.client_secret_file),
	  NULL, 0, 0, NULL, NULL },
	{ "graph.client_secret_env", KEY_ENV_NAME, NEED_OPTIONAL, FIELD(graph.client_secret_env),
	  NULL, 0, 0, NULL, NULL },
	{ "graph.certificate_file", KEY_STRING, NEED_OPTIONAL, FIELD(graph.certificate_file),
	  NULL, 0, 0, NULL, NULL },
	{ "graph.private_key_file", KEY_STRING, NEED_OPTIONAL, FIELD(graph.private_key_file),
	  NULL, 0, 0, NULL, NULL },
	{ "graph.assertion_algorithm", KEY_ENUM, NEED_OPTIONAL, FIELD(graph.assertion_algorithm),
	  "PS256", 0, 0, assertion_words, NULL },
	{ "graph.app_id", KEY_NAME, NEED_REQUIRED, FIELD(graph.app_id), NULL, 1, 128, NULL, NULL },
	{ "graph.cloud", KEY_ENUM, NEED_OPTIONAL, FIELD(graph.cloud), "global", 0, 0, cloud_words, NULL },
	{ "graph.login_url", KEY_URL, NEED_OPTIONAL, FIELD(graph.login_url), NULL, 0, 0, NULL, NULL },
	{ "graph.graph_url", KEY_URL, NEED_OPTIONAL, FIELD(graph.graph_url), NULL, 0, 0, NULL, NULL },
	{ "graph.nested_groups", KEY_BOOLEAN, NEED_OPTIONAL, FIELD(graph.nested_groups),
	  "false", 0, 0, NULL, NULL },

	{ "team", KEY_SECTION, NEED_REQUIRED, 0, NULL, 0, 0, NULL, NULL },
	{ "team.name", KEY_STRING, NEED_OPTIONAL, FIELD(team.name), NULL, 0, 0, NULL, NULL },
	{ "team.seats", KEY_INTEGER, NEED_REQUIRED, FIELD(team.seats), NULL, 1, 10000000, NULL, NULL },

	{ "roster", KEY_SECTION, NEED_REQUIRED, 0, NULL, 0, 0, NULL, NULL },
	{ "roster.path", KEY_STRING, NEED_REQUIRED, FIELD(roster.path), NULL, 0, 0, NULL,
	  check_roster_path },

	{ "sync", KEY_SECTION, NEED_OPTIONAL, 0, NULL, 0, 0, NULL, NULL },
	{ "sync.unmanaged_members", KEY_ENUM, NEED_OPTIONAL, FIELD(sync.unmanaged_members),
	  "keep", 0, 0, unmanaged_words, NULL },
	{ "sync.max_unassign", KEY_INTEGER, NEED_OPTIONAL, FIELD(sync.max_unassign),
	  "50", 0, 10000000, NULL, NULL },
	{ "sync.max_unassign_percent", KEY_INTEGER, NEED_OPTIONAL, FIELD(sync.max_unassign_percent),
	  "20", 0, 100, NULL, NULL },

	{ "http", KEY_SECTION, NEED_OPTIONAL, 0, NULL, 0, 0, NULL, NULL },
	{ "http.timeout", KEY_INTEGER, NEED_OPTIONAL, FIELD(http.timeout), "30", 1, 3600, NULL, NULL },
	{ "http.max_retries", KEY_INTEGER, NEED_OPTIONAL, FIELD(http.max_retries), "5", 0, 100, NULL, NULL },
	{ "http.retry_budget", KEY_INTEGER, NEED_OPTIONAL, FIELD(http.retry_budget),
	  "300", 0, 86400, NULL, NULL },
	{ "http.max_wait", KEY_INTEGER, NEED_OPTIONAL, FIELD(http.max_wait), "120", 1, 3600, NULL, NULL },
	{ "http.ca_file", KEY_STRING, NEED_OPTIONAL, FIELD(http.ca_file), NULL, 0, 0, NULL, NULL },
	{ "http.proxy", KEY_PROXY, NEED_OPTIONAL, FIELD(http.proxy), NULL, 0, 0, NULL, NULL },

	{ "log", KEY_SECTION, NEED_OPTIONAL, 0, NULL, 0, 0, NULL, NULL },
	{ "log.format", KEY_ENUM, NEED_OPTIONAL, FIELD(log.format), "text", 0, 0, format_words, NULL },
	{ "log.level", KEY_ENUM, NEED_OPTIONAL, FIELD(log.level), "info", 0, 0, level_words, NULL },

	{ "metrics", KEY_SECTION, NEED_OPTIONAL, 0, NULL, 0, 0, NULL, NULL },
	{ "metrics.textfile", KEY_STRING, NEED_OPTIONAL, FIELD(metrics.textfile), NULL, 0, 0, NULL, NULL },
};

#define KEY_COUNT (sizeof(config_keys) / sizeof(config_keys[0]))

/* Login and Graph base URLs of the national clouds, in enum config_cloud order. */
static const struct {
	const char *login_url;
	const char *graph_url;
} cloud_urls[] = {
	[CONFIG_CLOUD_GLOBAL] = { "https://login.microsoftonline.com", "https://graph.microsoft.com" },
	[CONFIG_CLOUD_USGOV] = { "https://login.microsoftonline.us", "https://graph.microsoft.us" },
	[CONFIG_CLOUD_CHINA] = { "https://login.chinacloudapi.cn", "https://microsoftgraph.chinacloudapi.cn" },
};

/* ---- problems ---------------------------------------------------------- */

static void add_problem(struct loader *loader, struct mark mark, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Records one problem; the first PROBLEMS_SHOWN are kept for logging. */
static void add_problem(struct loader *loader, struct mark mark, const char *fmt, ...)
{
	struct problem *problem;
	va_list ap;
	char *text = NULL;
	int n;

	loader->total++;
	if (loader->shown == PROBLEMS_SHOWN)
		return;

	va_start(ap, fmt);
	n = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (n < 0) {
		loader->out_of_memory = true;
		return;
	}
	problem = &loader->problems[loader->shown];
	problem->mark = mark;
	problem->order = loader->shown;
	problem->text = text;
	loader->shown++;
}

static int compare_problems(const void *a, const void *b)
{
	const struct problem *pa = a, *pb = b;

	if (pa->mark.line != pb->mark.line)
		return pa->mark.line < pb->mark.line ? -1 : 1;
	if (pa->mark.column != pb->mark.column)
		return pa->mark.column < pb->mark.column ? -1 : 1;
	return pa->order < pb->order ? -1 : pa->order > pb->order;
}

/* Logs the problems in file order and frees them. */
static void report_problems(struct loader *loader)
{
	qsort(loader->problems, loader->shown, sizeof(loader->problems[0]), compare_problems);
	for (size_t i = 0; i < loader->shown; i++) {
		struct problem *problem = &loader->problems[i];

		if (problem->mark.line == 0)
			log_msg(LOG_ERROR, "%s: %s", loader->file, problem->text);
		else
			log_msg(LOG_ERROR, "%s:%lu:%lu: %s", loader->file, problem->mark.line,
				problem->mark.column, problem->text);
		free(problem->text);
		problem->text = NULL;
	}
	if (loader->total > loader->shown)
		log_msg(LOG_ERROR, "%s: %zu more problems not shown; fix the ones above and run again",
			loader->file, loader->total - loader->shown);
	if (loader->out_of_memory)
		log_msg(LOG_ERROR, "%s: out of memory while reading the config", loader->file);
}

static struct mark mark_from_yaml(yaml_mark_t mark)
{
	struct mark result = { mark.line + 1, mark.column + 1 };

	return result;
}

static const struct mark whole_file = { 0, 0 };

/* Copies text into buf for a message, cut with "..." when it is long. */
static const char *shorten(const char *text, char *buf, size_t size)
{
	size_t len = strlen(text);
	size_t cut;

	if (len < size)
		return text;
	cut = size - 4;
	while (cut > 0 && ((unsigned char)text[cut] & 0xc0) == 0x80)
		cut--;
	memcpy(buf, text, cut);
	memcpy(buf + cut, "...", 4);
	return buf;
}

/* ---- reading the file -------------------------------------------------- */

/*
 * Reads the whole config file into *buf.  A missing file, one that is not
 * a regular file (opened without blocking, so a FIFO cannot hang the run)
 * and one that is too large stop loading.  A file writable
 * by group or others is reported but still parsed, so that all problems
 * show at once.
 */
static bool read_config_file(struct loader *loader, char **buf, size_t *len)
{
	struct stat st;
	size_t total = 0;
	bool ok = false;
	int fd = open(loader->file, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	*buf = NULL;
	if (fd < 0) {
		add_problem(loader, whole_file, "cannot open the config file: %s; check the path given with -c",
			    strerror(errno));
		return false;
	}
	if (fstat(fd, &st) != 0) {
		add_problem(loader, whole_file, "cannot stat the config file: %s", strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		add_problem(loader, whole_file, "not a regular file; give the path of a YAML file");
		goto out;
	}
	if (st.st_size > CONFIG_FILE_MAX) {
		add_problem(loader, whole_file, "the file is larger than 1 MiB (%lld bytes); "
			    "a rostersync config is a few dozen lines", (long long)st.st_size);
		goto out;
	}
	if ((st.st_mode & 022) != 0)
		add_problem(loader, whole_file, "the file is writable by group or others (mode %04o); "
			    "run chmod go-w %s", (unsigned)(st.st_mode & 07777), loader->file);

	*buf = malloc(CONFIG_FILE_MAX + 1);
	if (*buf == NULL) {
		loader->out_of_memory = true;
		goto out;
	}
	for (;;) {
		ssize_t n = read(fd, *buf + total, CONFIG_FILE_MAX + 1 - total);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			add_problem(loader, whole_file, "cannot read the config file: %s", strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		total += (size_t)n;
		if (total > CONFIG_FILE_MAX) {
			add_problem(loader, whole_file, "the file is larger than 1 MiB");
			goto out;
		}
	}
	*len = total;
	ok = true;
out:
	if (!ok) {
		free(*buf);
		*buf = NULL;
	}
	close(fd);
	return ok;
}

/* ---- building the tree -------------------------------------------------- */

static void free_node(struct node *node)
{
	if (node == NULL)
		return;
	for (size_t i = 0; i < node->count; i++) {
		free(node->entries[i].key);
		free_node(node->entries[i].value);
	}
	free(node->entries);
	free(node->value);
	free(node);
}

static struct node *new_node(struct loader *loader, enum node_kind kind, yaml_mark_t mark)
{
	struct node *node = calloc(1, sizeof(*node));

	if (node == NULL) {
		loader->out_of_memory = true;
		return NULL;
	}
	node->kind = kind;
	node->mark = mark_from_yaml(mark);
	return node;
}

/*
 * Returns a hint when the indentation of the error's line contains a tab,
 * else "".  libyaml reports such a tab as a character that cannot start a
 * token.
 */
static const char *tab_hint(const char *buf, size_t len, size_t at)
{
	size_t start = at < len ? at : len;

	while (start > 0 && buf[start - 1] != '\n')
		start--;
	for (size_t i = start; i < len && (buf[i] == ' ' || buf[i] == '\t'); i++) {
		if (buf[i] == '\t')
			return "; the line is indented with a tab, which YAML does not allow: "
			       "indent with spaces";
	}
	return "";
}

/* Records libyaml's description of a syntax error. */
static void add_syntax_problem(struct loader *loader, const yaml_parser_t *parser,
			       const char *buf, size_t len)
{
	struct mark mark = mark_from_yaml(parser->problem_mark);
	const char *problem = parser->problem != NULL ? parser->problem : "unknown error";

	loader->syntax_error = true;
	if (parser->error == YAML_MEMORY_ERROR) {
		loader->out_of_memory = true;
		return;
	}
	if (parser->error == YAML_READER_ERROR) {
		/* The reader reports a byte offset, not a line. */
		mark.line = 1;
		mark.column = 1;
		for (size_t i = 0; i < parser->problem_offset && i < len; i++) {
			mark.column++;
			if (buf[i] == '\n') {
				mark.line++;
				mark.column = 1;
			}
		}
		add_problem(loader, mark, "invalid text: %s; save the file as UTF-8", problem);
		return;
	}
	if (parser->context != NULL)
		add_problem(loader, mark, "YAML syntax error: %s %s (line %lu)%s", problem,
			    parser->context, (unsigned long)parser->context_mark.line + 1,
			    tab_hint(buf, len, parser->problem_mark.index));
	else
		add_problem(loader, mark, "YAML syntax error: %s%s", problem,
			    tab_hint(buf, len, parser->problem_mark.index));
}

struct event_reader {
	yaml_parser_t parser;
	const char *buf;
	size_t len;
};

static bool next_event(struct loader *loader, struct event_reader *reader, yaml_event_t *event)
{
	if (yaml_parser_parse(&reader->parser, event))
		return true;
	add_syntax_problem(loader, &reader->parser, reader->buf, reader->len);
	return false;
}

/* Writes tag as "!!str" for the standard tags, as it is usually typed. */
static void add_tag_problem(struct loader *loader, struct mark mark, const yaml_char_t *tag)
{
	const char *text = (const char *)tag;
	const char *standard = "tag:yaml.org,2002:";

	if (strncmp(text, standard, strlen(standard)) == 0)
		add_problem(loader, mark, "tag !!%s is not supported in rostersync configs; remove it "
			    "(quote the value if it must be a string)", text + strlen(standard));
	else
		add_problem(loader, mark, "tag %s is not supported in rostersync configs; remove it",
			    text);
}

static void check_anchor_and_tag(struct loader *loader, struct mark mark,
				 const yaml_char_t *anchor, const yaml_char_t *tag)
{
	if (anchor != NULL)
		add_problem(loader, mark, "anchor &%s: anchors and aliases are not supported in "
			    "rostersync configs; write each value out", (const char *)anchor);
	if (tag != NULL)
		add_tag_problem(loader, mark, tag);
}

static struct node *parse_node(struct loader *loader, struct event_reader *reader,
			       yaml_event_t *event, int depth, const char *path);

/* Reads a scalar, the value of the key at path ("" for the top level). */
static struct node *parse_scalar(struct loader *loader, yaml_event_t *event, const char *path)
{
	struct node *node = new_node(loader, NODE_SCALAR, event->start_mark);
	const char *value = (const char *)event->data.scalar.value;
	size_t len = event->data.scalar.length;

	if (node == NULL)
		return NULL;
	check_anchor_and_tag(loader, node->mark, event->data.scalar.anchor, event->data.scalar.tag);
	if (len > CONFIG_VALUE_MAX) {
		add_problem(loader, node->mark, "%s%sthe value is longer than %d bytes; shorten it",
			    path, path[0] ? ": " : "", CONFIG_VALUE_MAX);
		node->kind = NODE_INVALID;
		return node;
	}
	if (memchr(value, '\0', len) != NULL) {
		add_problem(loader, node->mark, "%s%sthe value contains a NUL character; remove it",
			    path, path[0] ? ": " : "");
		node->kind = NODE_INVALID;
		return node;
	}
	node->value = strndup(value, len);
	if (node->value == NULL) {
		loader->out_of_memory = true;
		free_node(node);
		return NULL;
	}
	node->quoted = event->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
	return node;
}

/*
 * Skips the rest of a collection that is nested too deeply.  The start
 * event has been read; returns false on a syntax error.
 */
static bool skip_collection(struct loader *loader, struct event_reader *reader)
{
	int open = 1;

	while (open > 0) {
		yaml_event_t event;

		if (!next_event(loader, reader, &event))
			return false;
		if (event.type == YAML_MAPPING_START_EVENT || event.type == YAML_SEQUENCE_START_EVENT)
			open++;
		else if (event.type == YAML_MAPPING_END_EVENT || event.type == YAML_SEQUENCE_END_EVENT)
			open--;
		yaml_event_delete(&event);
	}
	return true;
}

static const struct entry *find_entry(const struct node *mapping, const char *key)
{
	for (size_t i = 0; i < mapping->count; i++) {
		if (strcmp(mapping->entries[i].key, key) == 0)
			return &mapping->entries[i];
	}
	return NULL;
}

/*
 * Adds key and value to mapping, or reports the key (path, for messages)
 * as a duplicate; takes value.
 */
static void add_entry(struct loader *loader, struct node *mapping, struct node *key,
		      struct node *value, const char *path)
{
	const struct entry *first = find_entry(mapping, key->value);
	struct entry *entry;

	if (first != NULL) {
		add_problem(loader, key->mark, "%s: duplicate key (first written at line %lu); "
			    "remove one of them", path, first->mark.line);
		free_node(value);
		return;
	}
	if (mapping->count == mapping->capacity) {
		size_t capacity = mapping->capacity == 0 ? 8 : 2 * mapping->capacity;
		struct entry *entries = reallocarray(mapping->entries, capacity, sizeof(*entries));

		if (entries == NULL) {
			loader->out_of_memory = true;
			free_node(value);
			return;
		}
		mapping->entries = entries;
		mapping->capacity = capacity;
	}
	entry = &mapping->entries[mapping->count++];
	entry->key = key->value;
	entry->mark = key->mark;
	entry->value = value;
	key->value = NULL;
}

/*
 * Reads the key and value events of a mapping up to its end.  Returns
 * false on a syntax error or when memory ran out.
 */
static bool parse_mapping_entries(struct loader *loader, struct event_reader *reader,
				  struct node *mapping, int depth, const char *path)
{
	for (;;) {
		char child_path[KEY_PATH_MAX];
		yaml_event_t event;
		struct node *key, *value;

		if (!next_event(loader, reader, &event))
			return false;
		if (event.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&event);
			return true;
		}
		key = parse_node(loader, reader, &event, depth + 1, path);
		if (key == NULL)
			return false;
		if (key->kind != NODE_SCALAR && key->kind != NODE_INVALID)
			add_problem(loader, key->mark, "a key must be a plain word such as tenant, "
				    "not a mapping or a list");
		snprintf(child_path, sizeof(child_path), "%s%s%s", path, path[0] != '\0' ? "." : "",
			 key->kind == NODE_SCALAR ? key->value : "?");

		if (!next_event(loader, reader, &event)) {
			free_node(key);
			return false;
		}
		value = parse_node(loader, reader, &event, depth + 1, child_path);
		if (value == NULL) {
			free_node(key);
			return false;
		}
		if (key->kind == NODE_SCALAR)
			add_entry(loader, mapping, key, value, child_path);
		else
			free_node(value);
		free_node(key);
	}
}

/* Reads the items of a sequence, which no key accepts, only to check them. */
static bool parse_sequence_items(struct loader *loader, struct event_reader *reader, int depth,
				 const char *path)
{
	for (;;) {
		yaml_event_t event;
		struct node *item;

		if (!next_event(loader, reader, &event))
			return false;
		if (event.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&event);
			return true;
		}
		item = parse_node(loader, reader, &event, depth + 1, path);
		if (item == NULL)
			return false;
		free_node(item);
	}
}

static struct node *parse_collection(struct loader *loader, struct event_reader *reader,
				     yaml_event_t *event, int depth, const char *path)
{
	bool is_mapping = event->type == YAML_MAPPING_START_EVENT;
	struct node *node = new_node(loader, is_mapping ? NODE_MAPPING : NODE_SEQUENCE,
				     event->start_mark);
	bool ok;

	if (node == NULL)
		return NULL;
	if (is_mapping)
		check_anchor_and_tag(loader, node->mark, event->data.mapping_start.anchor,
				     event->data.mapping_start.tag);
	else
		check_anchor_and_tag(loader, node->mark, event->data.sequence_start.anchor,
				     event->data.sequence_start.tag);

	if (depth > CONFIG_DEPTH_MAX) {
		add_problem(loader, node->mark, "%s: nested %d levels deep, but no rostersync setting "
			    "is deeper than 3 levels (okta.oauth.client_id); check the indentation",
			    path, depth);
		node->kind = NODE_INVALID;
		ok = skip_collection(loader, reader);
	} else if (is_mapping) {
		ok = parse_mapping_entries(loader, reader, node, depth, path);
	} else {
		ok = parse_sequence_items(loader, reader, depth, path);
	}
	if (!ok || loader->out_of_memory) {
		free_node(node);
		return NULL;
	}
	return node;
}

/*
 * Turns the event just read, and for a collection everything up to its
 * end, into a node; path names it in messages.  Takes over event.  Returns NULL on a syntax error or
 * when memory ran out, after recording the problem.
 */
static struct node *parse_node(struct loader *loader, struct event_reader *reader,
			       yaml_event_t *event, int depth, const char *path)
{
	struct node *node = NULL;

	switch (event->type) {
	case YAML_SCALAR_EVENT:
		node = parse_scalar(loader, event, path);
		break;
	case YAML_MAPPING_START_EVENT:
	case YAML_SEQUENCE_START_EVENT:
		node = parse_collection(loader, reader, event, depth, path);
		break;
	case YAML_ALIAS_EVENT:
		node = new_node(loader, NODE_INVALID, event->start_mark);
		if (node != NULL)
			add_problem(loader, node->mark, "alias *%s: aliases are not supported in "
				    "rostersync configs; write the value out",
				    (const char *)event->data.alias.anchor);
		break;
	default:
		/* libyaml emits only the events above inside a document. */
		node = new_node(loader, NODE_INVALID, event->start_mark);
		if (node != NULL)
			add_problem(loader, node->mark, "unexpected YAML event %d", (int)event->type);
		break;
	}
	yaml_event_delete(event);
	return node;
}

/*
 * Reads the one document of the stream.  Returns its top-level node, or
 * NULL for an empty file, a syntax error or no memory; all are recorded.
 */
static struct node *parse_document(struct loader *loader, struct event_reader *reader)
{
	yaml_event_t event;
	struct node *root;

	if (!next_event(loader, reader, &event))
		return NULL;
	yaml_event_delete(&event);    /* the stream start */

	if (!next_event(loader, reader, &event))
		return NULL;
	if (event.type == YAML_STREAM_END_EVENT) {
		add_problem(loader, mark_from_yaml(event.start_mark), "the file is empty; "
			    "write a mapping with at least tenant, okta (or source: graph and "
			    "graph), team and roster");
		yaml_event_delete(&event);
		return NULL;
	}
	yaml_event_delete(&event);    /* the document start */

	if (!next_event(loader, reader, &event))
		return NULL;
	root = parse_node(loader, reader, &event, 1, "");
	if (root == NULL)
		return NULL;

	if (!next_event(loader, reader, &event))
		goto fail;
	loader->end_mark = mark_from_yaml(event.start_mark);
	yaml_event_delete(&event);    /* the document end */

	if (!next_event(loader, reader, &event))
		goto fail;
	if (event.type == YAML_DOCUMENT_START_EVENT)
		add_problem(loader, mark_from_yaml(event.start_mark), "a second YAML document starts "
			    "here; a rostersync config has one document, so remove the \"---\" "
			    "and what follows or move it to its own file");
	yaml_event_delete(&event);
	return root;
fail:
	free_node(root);
	return NULL;
}

static struct node *parse_config_text(struct loader *loader, const char *buf, size_t len)
{
	struct event_reader reader = { .buf = buf, .len = len };
	struct node *root;

	if (!yaml_parser_initialize(&reader.parser)) {
		loader->out_of_memory = true;
		return NULL;
	}
	yaml_parser_set_input_string(&reader.parser, (const unsigned char *)buf, len);
	root = parse_document(loader, &reader);
	yaml_parser_delete(&reader.parser);
	return root;
}

/* ---- the key table -------------------------------------------------- */

static int key_index(const char *path)
{
	for (size_t i = 0; i < KEY_COUNT; i++) {
		if (strcmp(config_keys[i].path, path) == 0)
			return (int)i;
	}
	return -1;
}

/* Returns the index of a key named in this file, which is always in the table. */
static size_t key_id(const char *path)
{
	int index = key_index(path);

	if (index < 0)
		abort();
	return (size_t)index;
}

/* Returns the length of the parent part of path ("okta.oauth" in "okta.oauth.key_id"). */
static size_t parent_length(const char *path)
{
	const char *dot = strrchr(path, '.');

	return dot == NULL ? 0 : (size_t)(dot - path);
}

static const char *leaf_name(const char *path)
{
	const char *dot = strrchr(path, '.');

	return dot == NULL ? path : dot + 1;
}

static bool is_child_of(const char *path, const char *parent, size_t parent_len)
{
	return parent_length(path) == parent_len && strncmp(path, parent, parent_len) == 0;
}

/* Returns the parent section's index, or -1 for a top-level key. */
static int parent_index(const char *path)
{
	char parent[KEY_PATH_MAX];
	size_t len = parent_length(path);

	if (len == 0)
		return -1;
	snprintf(parent, sizeof(parent), "%.*s", (int)len, path);
	return key_index(parent);
}

/* Levenshtein distance, or SIZE_MAX when a word is too long to compare. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t row[KEY_PATH_MAX + 1];

	if (la > KEY_PATH_MAX || lb > KEY_PATH_MAX)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diagonal = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t above = row[j];
			size_t best = diagonal + (a[i - 1] != b[j - 1]);

			if (above + 1 < best)
				best = above + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diagonal = above;
		}
	}
	return row[lb];
}

/* Appends the names of the keys in section parent to buf, comma separated. */
static void list_section_keys(const char *parent, size_t parent_len, char *buf, size_t size)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < KEY_COUNT && used < size; i++) {
		if (!is_child_of(config_keys[i].path, parent, parent_len))
			continue;
		used += (size_t)snprintf(buf + used, size - used, "%s%s", used > 0 ? ", " : "",
					 leaf_name(config_keys[i].path));
	}
}

/*
 * Reports an unknown key with the best hint: the same name in another
 * section, a close spelling among its neighbours, or the list of them.
 */
static void add_unknown_key_problem(struct loader *loader, const struct entry *entry,
				    const char *parent, const char *path)
{
	size_t parent_len = strlen(parent);
	size_t best_distance = SIZE_MAX;
	const char *best = NULL;
	char known[512];

	if (strchr(entry->key, '.') != NULL && key_index(entry->key) >= 0) {
		add_problem(loader, entry->mark, "%s: a dotted key is not split into sections; "
			    "write %.*s: and indent %s below it", path, (int)parent_length(entry->key),
			    entry->key, leaf_name(entry->key));
		return;
	}
	for (size_t i = 0; i < KEY_COUNT; i++) {
		if (!is_child_of(config_keys[i].path, parent, parent_len) &&
		    strcmp(leaf_name(config_keys[i].path), entry->key) == 0) {
			add_problem(loader, entry->mark, "%s: unknown key; did you mean %s?", path,
				    config_keys[i].path);
			return;
		}
	}
	for (size_t i = 0; i < KEY_COUNT; i++) {
		const char *name = leaf_name(config_keys[i].path);
		size_t distance;

		if (!is_child_of(config_keys[i].path, parent, parent_len))
			continue;
		distance = edit_distance(entry->key, name);
		if (distance < best_distance) {
			best_distance = distance;
			best = name;
		}
	}
	if (best != NULL && best_distance <= 2 && best_distance < strlen(best) / 2) {
		add_problem(loader, entry->mark, "%s: unknown key; did you mean %s?", path, best);
		return;
	}
	list_section_keys(parent, parent_len, known, sizeof(known));
	if (parent_len == 0)
		add_problem(loader, entry->mark, "%s: unknown key; the top-level keys are %s", path, known);
	else
		add_problem(loader, entry->mark, "%s: unknown key; the keys under %s: are %s", path,
			    parent, known);
}

/* ---- converting values -------------------------------------------------- */

static void *field_of(struct loader *loader, const struct key_spec *spec)
{
	return (char *)loader->config + spec->offset;
}

static void store_string(struct loader *loader, const struct key_spec *spec, char *value)
{
	char **field = field_of(loader, spec);

	free(*field);
	*field = value;
}

static bool is_null_word(const char *text)
{
	return strcmp(text, "~") == 0 || strcmp(text, "null") == 0 ||
	       strcmp(text, "Null") == 0 || strcmp(text, "NULL") == 0;
}

/* Rejects an empty value and a plain null, which leave a key without a value. */
static bool check_present(struct loader *loader, const struct key_spec *spec,
			  const struct node *node)
{
	if (node->value[0] == '\0') {
		add_problem(loader, node->mark, "%s: the value is empty; give a value or remove the key",
			    spec->path);
		return false;
	}
	if (!node->quoted && is_null_word(node->value)) {
		add_problem(loader, node->mark, "%s: the value is null; give a value or remove the key",
			    spec->path);
		return false;
	}
	return true;
}

static bool check_name(struct loader *loader, const struct key_spec *spec, const struct node *node)
{
	size_t len = strlen(node->value);
	size_t valid = strspn(node->value, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			      "0123456789._-");
	char buf[64];

	if (valid == len && strspn(node->value, ".") == len && len > 0) {
		add_problem(loader, node->mark, "%s: \"%s\" is not a valid value: a name of only "
			    "dots would be read as a path segment in a URL or a file name",
			    spec->path, node->value);
		return false;
	}
	if (valid == len && len >= (size_t)spec->min && len <= (size_t)spec->max)
		return true;
	add_problem(loader, node->mark, "%s: \"%s\" is not a valid value; use %ld to %ld letters, "
		    "digits, '.', '_' or '-'", spec->path, shorten(node->value, buf, sizeof(buf)),
		    spec->min, spec->max);
	return false;
}

static bool check_env_name(struct loader *loader, const struct key_spec *spec,
			   const struct node *node)
{
	const char *text = node->value;
	size_t len = strlen(text);
	char buf[64];

	if (!isdigit((unsigned char)text[0]) &&
	    strspn(text, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") == len)
		return true;
	add_problem(loader, node->mark, "%s: \"%s\" is not an environment variable name; use letters, "
		    "digits and '_', not starting with a digit", spec->path,
		    shorten(text, buf, sizeof(buf)));
	return false;
}

static bool is_digits(const char *text)
{
	return text[0] != '\0' && strspn(text, "0123456789") == strlen(text);
}

/*
 * Parses a decimal integer as YAML 1.2 writes it.  A leading zero is
 * rejected because YAML 1.1 parsers read 010 as octal 8.
 */
static bool parse_integer(struct loader *loader, const struct key_spec *spec,
			  const struct node *node, long *out)
{
	const char *text = node->value;
	const char *digits = text[0] == '-' ? text + 1 : text;
	char buf[64];
	long value;

	if (node->quoted) {
		add_problem(loader, node->mark, "%s: \"%s\" is quoted, so it is a string; write the "
			    "number without quotes", spec->path, shorten(text, buf, sizeof(buf)));
		return false;
	}
	if (text[0] == '+') {
		add_problem(loader, node->mark, "%s: %s has a '+' sign; write the number without it",
			    spec->path, shorten(text, buf, sizeof(buf)));
		return false;
	}
	if (!is_digits(digits)) {
		add_problem(loader, node->mark, "%s: \"%s\" is not a whole decimal number; write a "
			    "number from %ld to %ld", spec->path, shorten(text, buf, sizeof(buf)),
			    spec->min, spec->max);
		return false;
	}
	if (digits[0] == '0' && digits[1] != '\0') {
		add_problem(loader, node->mark, "%s: %s has a leading zero, which is ambiguous "
			    "(YAML 1.1 reads it as octal); remove the leading zeros", spec->path,
			    shorten(text, buf, sizeof(buf)));
		return false;
	}

	errno = 0;
	value = strtol(text, NULL, 10);
	if (errno == ERANGE || value < spec->min || value > spec->max) {
		add_problem(loader, node->mark, "%s: %s is out of range (%ld..%ld)", spec->path,
			    shorten(text, buf, sizeof(buf)), spec->min, spec->max);
		return false;
	}
	*out = value;
	return true;
}

/*
 * Accepts the YAML 1.2 core schema booleans.  The other YAML 1.1 words
 * (yes, no, on, off, y, n) are rejected rather than guessed.
 */
static bool parse_boolean(struct loader *loader, const struct key_spec *spec,
			  const struct node *node, bool *out)
{
	static const char *const yaml11_words[] = {
		"y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
		"on", "On", "ON", "off", "Off", "OFF", NULL,
	};
	const char *text = node->value;
	char buf[64];

	if (!node->quoted) {
		if (strcmp(text, "true") == 0 || strcmp(text, "True") == 0 || strcmp(text, "TRUE") == 0) {
			*out = true;
			return true;
		}
		if (strcmp(text, "false") == 0 || strcmp(text, "False") == 0 ||
		    strcmp(text, "FALSE") == 0) {
			*out = false;
			return true;
		}
		for (size_t i = 0; yaml11_words[i] != NULL; i++) {
			if (strcmp(text, yaml11_words[i]) == 0) {
				add_problem(loader, node->mark, "%s: %s is ambiguous in YAML; use true "
					    "or false", spec->path, text);
				return false;
			}
		}
	}
	add_problem(loader, node->mark, "%s: %s%s%s is not a boolean; use true or false", spec->path,
		    node->quoted ? "\"" : "", shorten(text, buf, sizeof(buf)), node->quoted ? "\"" : "");
	return false;
}

static bool parse_enum(struct loader *loader, const struct key_spec *spec,
		       const struct node *node, int *out)
{
	char known[128] = "";
	char buf[64];
	size_t used = 0;

	for (int i = 0; spec->words[i] != NULL; i++) {
		if (strcmp(node->value, spec->words[i]) == 0) {
			*out = i;
			return true;
		}
		used += (size_t)snprintf(known + used, sizeof(known) - used, "%s%s",
					 i > 0 ? ", " : "", spec->words[i]);
	}
	add_problem(loader, node->mark, "%s: \"%s\" is not one of %s", spec->path,
		    shorten(node->value, buf, sizeof(buf)), known);
	return false;
}

/* ---- URLs -------------------------------------------------------------- */

struct url_parts {
	char scheme[16];
	const char *authority;   /* after "://" */
	size_t authority_len;
	const char *rest;        /* path, query or fragment after the authority */
};

/* Splits text at "://" and at the first '/', '?' or '#' after it. */
static bool split_url(const char *text, struct url_parts *parts)
{
	const char *sep = strstr(text, "://");
	size_t scheme_len;

	if (sep == NULL)
		return false;
	scheme_len = (size_t)(sep - text);
	if (scheme_len == 0 || scheme_len >= sizeof(parts->scheme))
		return false;
	for (size_t i = 0; i < scheme_len; i++)
		parts->scheme[i] = (char)tolower((unsigned char)text[i]);
	parts->scheme[scheme_len] = '\0';
	parts->authority = sep + 3;
	parts->authority_len = strcspn(parts->authority, "/?#");
	parts->rest = parts->authority + parts->authority_len;
	return true;
}

/* Splits host[:port] or [v6]:port into host, without brackets, and port. */
static bool split_host_port(const char *authority, size_t len, char *host, size_t host_size,
			    const char **port, size_t *port_len, bool *bracketed)
{
	const char *host_start = authority;
	size_t host_len;

	*bracketed = len > 0 && authority[0] == '[';
	if (*bracketed) {
		const char *close = memchr(authority, ']', len);

		if (close == NULL)
			return false;
		host_start = authority + 1;
		host_len = (size_t)(close - host_start);
		*port = close + 1;
	} else {
		const char *colon = memchr(authority, ':', len);

		host_len = colon != NULL ? (size_t)(colon - authority) : len;
		*port = authority + host_len;
	}
	*port_len = (size_t)(authority + len - *port);
	if (*port_len > 0) {
		if (**port != ':')
			return false;
		(*port)++;
		(*port_len)--;
	}
	if (host_len == 0 || host_len >= host_size)
		return false;
	memcpy(host, host_start, host_len);
	host[host_len] = '\0';
	return true;
}

static bool valid_port(const char *port, size_t len)
{
	long value = 0;

	if (len == 0 || len > 5 || strspn(port, "0123456789") < len)
		return false;
	for (size_t i = 0; i < len; i++)
		value = value * 10 + (port[i] - '0');
	return value >= 1 && value <= 65535;
}

static bool valid_host(const char *host, bool bracketed)
{
	unsigned char addr[16];

	if (bracketed)
		return inet_pton(AF_INET6, host, addr) == 1;
	return strspn(host, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-") ==
	       strlen(host) && host[0] != '.' && host[0] != '-';
}

/* Tells whether host is localhost, 127.0.0.0/8 or ::1. */
static bool is_loopback_host(const char *host, bool bracketed)
{
	struct in_addr v4;
	struct in6_addr v6;

	if (bracketed)
		return inet_pton(AF_INET6, host, &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
	if (strcasecmp(host, "localhost") == 0)
		return true;
	return inet_pton(AF_INET, host, &v4) == 1 && (ntohl(v4.s_addr) >> 24) == 127;
}

/* Checks the host and port of a URL and returns false after adding a problem. */
static bool check_authority(struct loader *loader, const struct key_spec *spec,
			    const struct node *node, const struct url_parts *parts,
			    bool *loopback)
{
	char host[256];
	const char *port;
	size_t port_len;
	bool bracketed;

	if (!split_host_port(parts->authority, parts->authority_len, host, sizeof(host),
			     &port, &port_len, &bracketed) || !valid_host(host, bracketed)) {
		add_problem(loader, node->mark, "%s: the host name is missing or invalid; write "
			    "scheme://host or scheme://host:port", spec->path);
		return false;
	}
	if (port_len > 0 && !valid_port(port, port_len)) {
		add_problem(loader, node->mark, "%s: the port is invalid; use a number from 1 to 65535",
			    spec->path);
		return false;
	}
	*loopback = is_loopback_host(host, bracketed);
	return true;
}

/*
 * Checks an IdP base URL: https://, or http:// only on loopback; no
 * userinfo, path, query or fragment.  Returns a copy with the scheme in
 * lower case and without a trailing slash, or NULL after adding a problem.
 * Values are not echoed when they hold userinfo, which may be a password.
 */
static char *normalize_base_url(struct loader *loader, const struct key_spec *spec,
				const struct node *node)
{
	struct url_parts parts;
	bool loopback = false;
	char buf[96];
	char *result = NULL;

	if (!split_url(node->value, &parts) ||
	    (strcmp(parts.scheme, "https") != 0 && strcmp(parts.scheme, "http") != 0)) {
		add_problem(loader, node->mark, "%s: \"%s\" is not an http(s) URL; write "
			    "https://host", spec->path, shorten(node->value, buf, sizeof(buf)));
		return NULL;
	}
	if (memchr(parts.authority, '@', parts.authority_len) != NULL) {
		add_problem(loader, node->mark, "%s: the URL contains a user name or password; "
			    "remove it (credentials come from their own keys)", spec->path);
		return NULL;
	}
	if (parts.rest[0] != '\0' && strcmp(parts.rest, "/") != 0) {
		add_problem(loader, node->mark, "%s: the URL has a path, query or fragment (%s); "
			    "remove it and keep only scheme://host[:port]", spec->path,
			    shorten(parts.rest, buf, sizeof(buf)));
		return NULL;
	}
	if (!check_authority(loader, spec, node, &parts, &loopback))
		return NULL;
	if (strcmp(parts.scheme, "http") == 0 && !loopback) {
		add_problem(loader, node->mark, "%s: http:// is only accepted for loopback hosts "
			    "(localhost, 127.0.0.0/8, [::1]); use https://", spec->path);
		return NULL;
	}

	if (asprintf(&result, "%s://%.*s", parts.scheme, (int)parts.authority_len,
		     parts.authority) < 0) {
		loader->out_of_memory = true;
		return NULL;
	}
	return result;
}

/*
 * Checks a proxy URL as libcurl takes it.  It may carry a proxy password,
 * so no message quotes it.
 */
static bool check_proxy(struct loader *loader, const struct key_spec *spec, const struct node *node)
{
	static const char *const schemes[] = {
		"http", "https", "socks4", "socks4a", "socks5", "socks5h", NULL,
	};
	struct url_parts parts;
	const char *authority;
	size_t len;
	bool loopback;
	bool known = false;

	if (!split_url(node->value, &parts)) {
		add_problem(loader, node->mark, "%s: the proxy has no scheme; write it as "
			    "http://host:port", spec->path);
		return false;
	}
	for (size_t i = 0; schemes[i] != NULL; i++)
		known = known || strcmp(parts.scheme, schemes[i]) == 0;
	if (!known) {
		add_problem(loader, node->mark, "%s: proxy scheme %s is not supported; use http, https, "
			    "socks4, socks4a, socks5 or socks5h", spec->path, parts.scheme);
		return false;
	}
	if (parts.rest[0] != '\0' && strcmp(parts.rest, "/") != 0) {
		add_problem(loader, node->mark, "%s: the proxy URL has a path; keep only "
			    "scheme://host:port", spec->path);
		return false;
	}
	/* Drop user:password@, which libcurl passes to the proxy. */
	authority = memrchr(parts.authority, '@', parts.authority_len);
	authority = authority != NULL ? authority + 1 : parts.authority;
	len = parts.authority_len - (size_t)(authority - parts.authority);
	parts.authority = authority;
	parts.authority_len = len;
	return check_authority(loader, spec, node, &parts, &loopback);
}

/* okta.org_url: the admin console host (acme-admin.okta.com) is a common mistake. */
static bool check_okta_org_url(struct loader *loader, const struct key_spec *spec,
			       const char *value, struct mark mark)
{
	static const char *const okta_domains[] = {
		".okta.com", ".oktapreview.com", ".okta-emea.com", ".okta-gov.com", NULL,
	};
	const char *host = strstr(value, "://") + 3;
	const char *first_dot = strchr(host, '.');

	const char *end = host + strcspn(host, ":/");

	/* Host names compare without case, and a trailing dot names the same host. */
	if (end > host && end[-1] == '.')
		end--;
	if (first_dot == NULL || first_dot - host < 6 ||
	    strncasecmp(first_dot - 6, "-admin", 6) != 0)
		return true;
	for (size_t i = 0; okta_domains[i] != NULL; i++) {
		size_t len = strlen(okta_domains[i]);

		if ((size_t)(end - host) >= len && strncasecmp(end - len, okta_domains[i], len) == 0) {
			add_problem(loader, mark, "%s: %s is the admin console; use the org URL "
				    "without -admin (https://%.*s%s)", spec->path, value,
				    (int)(first_dot - 6 - host), host, first_dot);
			return false;
		}
	}
	return true;
}

/*
 * Rejects Entra's multi-tenant aliases: a token for an app's own permissions
 * (client credentials) needs the one tenant whose directory is read.
 */
static bool check_tenant_id(struct loader *loader, const struct key_spec *spec,
			    const char *value, struct mark mark)
{
	static const char *const aliases[] = { "common", "organizations", "consumers", NULL };

	for (size_t i = 0; aliases[i]; i++) {
		if (strcasecmp(value, aliases[i]) == 0) {
			add_problem(loader, mark, "%s: \"%s\" is an alias for many tenants, which the "
				    "client credentials grant does not accept; give the tenant's id "
				    "(a GUID) or its domain, such as contoso.onmicrosoft.com",
				    spec->path, value);
			return false;
		}
	}
	return true;
}

/*
 * Rejects the names that SQLite reads as something other than a file: an
 * in-memory database would lose every sync, and a file: URI would put the
 * roster beside a lock file of another name.
 */
static bool check_roster_path(struct loader *loader, const struct key_spec *spec,
			      const char *value, struct mark mark)
{
	struct stat info;

	if (strcmp(value, ":memory:") == 0 || strncasecmp(value, "file:", 5) == 0) {
		add_problem(loader, mark, "%s: \"%s\" is not a file path: SQLite would read it as %s; "
			    "give the path of the roster file, such as "
			    "/var/lib/rostersync/acme.db", spec->path, value,
			    value[0] == ':' ? "an in-memory database" : "a URI");
		return false;
	}

	/* Checked here, before a command creates the lock file beside it. */
	if (same_file(value, loader->file)) {
		add_problem(loader, mark, "%s: \"%s\" is this config file; give the path of the "
			    "roster file, such as /var/lib/rostersync/acme.db", spec->path, value);
		return false;
	}
	if (stat(value, &info) == 0 && !S_ISREG(info.st_mode)) {
		add_problem(loader, mark, "%s: \"%s\" is %s, not a roster file; give the path of "
			    "the roster file, such as /var/lib/rostersync/acme.db (the first sync "
			    "creates it)", spec->path, value, S_ISDIR(info.st_mode) ? "a directory" :
			    "a device or other special file");
		return false;
	}
	return true;
}

/* ---- storing values ----------------------------------------------------- */

static bool convert_text(struct loader *loader, const struct key_spec *spec,
			 const struct node *node, char **out)
{
	/*
	 * Values appear in log lines, tables and file names, where a line break
	 * could forge a line and an escape sequence could recolour a terminal.
	 */
	if (!identity_text_valid(node->value)) {
		add_problem(loader, node->mark, "%s: invalid value: it contains a control character (a "
			    "line break, tab or escape sequence), so write it on one line without them",
			    spec->path);
		return false;
	}
	switch (spec->type) {
	case KEY_NAME:
		if (!check_name(loader, spec, node))
			return false;
		break;
	case KEY_ENV_NAME:
		if (!check_env_name(loader, spec, node))
			return false;
		break;
	case KEY_PROXY:
		if (!check_proxy(loader, spec, node))
			return false;
		break;
	case KEY_URL:
		*out = normalize_base_url(loader, spec, node);
		return *out != NULL;
	default:
		break;
	}
	*out = strdup(node->value);
	if (*out == NULL) {
		loader->out_of_memory = true;
		return false;
	}
	return true;
}

/* Converts a scalar for spec and stores it in the config. */
static void store_value(struct loader *loader, const struct key_spec *spec,
			const struct node *node)
{
	char *text = NULL;

	switch (spec->type) {
	case KEY_INTEGER:
		if (check_present(loader, spec, node))
			parse_integer(loader, spec, node, field_of(loader, spec));
		return;
	case KEY_BOOLEAN:
		if (check_present(loader, spec, node))
			parse_boolean(loader, spec, node, field_of(loader, spec));
		return;
	case KEY_ENUM:
		if (check_present(loader, spec, node))
			parse_enum(loader, spec, node, field_of(loader, spec));
		return;
	case KEY_SECTION:
		return;
	default:
		break;
	}
	if (!check_present(loader, spec, node) || !convert_text(loader, spec, node, &text))
		return;
	if (spec->check != NULL && !spec->check(loader, spec, text, node->mark)) {
		free(text);
		return;
	}
	store_string(loader, spec, text);
}

static const char *kind_name(enum node_kind kind)
{
	switch (kind) {
	case NODE_MAPPING:
		return "a mapping";
	case NODE_SEQUENCE:
		return "a list";
	default:
		return "a single value";
	}
}

static const char *type_name(enum key_type type)
{
	switch (type) {
	case KEY_SECTION:
		return "a mapping";
	case KEY_INTEGER:
		return "an integer";
	case KEY_BOOLEAN:
		return "true or false";
	case KEY_URL:
	case KEY_PROXY:
		return "a URL";
	default:
		return "a single value";
	}
}

static void apply_mapping(struct loader *loader, const struct node *mapping, const char *parent);

static void apply_entry(struct loader *loader, const struct entry *entry, const char *parent)
{
	char path[KEY_PATH_MAX];
	const struct key_spec *spec;
	const struct node *value = entry->value;
	int index;

	snprintf(path, sizeof(path), "%s%s%s", parent, parent[0] != '\0' ? "." : "", entry->key);
	index = strchr(entry->key, '.') == NULL ? key_index(path) : -1;
	if (index < 0) {
		add_unknown_key_problem(loader, entry, parent, path);
		return;
	}
	spec = &config_keys[index];
	loader->seen[index] = true;
	loader->key_marks[index] = entry->mark;

	if (value->kind == NODE_INVALID)
		return;
	if (spec->type == KEY_SECTION && value->kind == NODE_SCALAR && value->value[0] == '\0' &&
	    !value->quoted) {
		add_problem(loader, value->mark, "%s: the section is empty; indent its keys below it "
			    "or remove it", path);
		return;
	}
	if (value->kind != (spec->type == KEY_SECTION ? NODE_MAPPING : NODE_SCALAR)) {
		add_problem(loader, value->mark, "%s: expected %s, found %s", path,
			    type_name(spec->type), kind_name(value->kind));
		return;
	}
	if (spec->type == KEY_SECTION) {
		loader->sections_read[index] = true;
		apply_mapping(loader, value, path);
	}
	else
		store_value(loader, spec, value);
}

static void apply_mapping(struct loader *loader, const struct node *mapping, const char *parent)
{
	for (size_t i = 0; i < mapping->count; i++)
		apply_entry(loader, &mapping->entries[i], parent);
}

static void apply_defaults(struct loader *loader)
{
	for (size_t i = 0; i < KEY_COUNT; i++) {
		const struct key_spec *spec = &config_keys[i];
		struct node node = { .kind = NODE_SCALAR, .value = (char *)spec->default_text };

		if (spec->default_text != NULL && !loader->seen[i])
			store_value(loader, spec, &node);
	}
}

/* ---- rules across keys --------------------------------------------------- */

/* Tells whether the key belongs to the source that the config does not use. */
static bool for_other_source(const struct loader *loader, const char *path)
{
	bool okta = strncmp(path, "okta", 4) == 0 && (path[4] == '\0' || path[4] == '.');
	bool graph = strncmp(path, "graph", 5) == 0 && (path[5] == '\0' || path[5] == '.');

	if (loader->config->source == CONFIG_SOURCE_OKTA)
		return graph;
	return okta;
}

/* Lists the required keys of section ("org_url and app_id") for a message. */
static void list_required_keys(const char *section, char *buf, size_t size)
{
	size_t len = strlen(section);
	size_t count = 0, written = 0, used = 0;

	for (size_t i = 0; i < KEY_COUNT; i++) {
		if (config_keys[i].need == NEED_REQUIRED && is_child_of(config_keys[i].path, section, len))
			count++;
	}
	buf[0] = '\0';
	for (size_t i = 0; i < KEY_COUNT && used < size; i++) {
		const struct key_spec *spec = &config_keys[i];
		const char *separator = ", ";

		if (spec->need != NEED_REQUIRED || !is_child_of(spec->path, section, len))
			continue;
		if (written == 0)
			separator = "";
		else if (written + 1 == count)
			separator = " and ";
		used += (size_t)snprintf(buf + used, size - used, "%s%s", separator, leaf_name(spec->path));
		written++;
	}
}

/* Reports a missing required key, or once its missing parent section. */
static void add_missing_problem(struct loader *loader, size_t index)
{
	const struct key_spec *spec = &config_keys[index];
	int parent = parent_index(spec->path);
	char required[256];

	if (parent < 0) {
		if (spec->type == KEY_SECTION) {
			/* source defaults to okta, so a lone graph: section needs source: graph. */
			bool graph_written = strcmp(spec->path, "okta") == 0 &&
					     loader->sections_read[key_id("graph")];

			list_required_keys(spec->path, required, sizeof(required));
			add_problem(loader, loader->end_mark, "%s is missing; add %s: with %s below it%s",
				    spec->path, spec->path, required,
				    graph_written ? ", or add source: graph to read Microsoft Entra "
						    "ID with the graph: section" : "");
		} else {
			add_problem(loader, loader->root_mark, "%s is missing; add %s: at the top level",
				    spec->path, spec->path);
		}
		return;
	}
	if (!loader->sections_read[parent])
		return;    /* the missing or mistyped parent is reported instead */
	add_problem(loader, loader->key_marks[parent], "%s is missing; add %s: under %s:",
		    spec->path, leaf_name(spec->path), config_keys[parent].path);
}

static void check_required(struct loader *loader, bool source_known)
{
	for (size_t i = 0; i < KEY_COUNT; i++) {
		const struct key_spec *spec = &config_keys[i];
		int parent = parent_index(spec->path);
		bool needed;

		if (loader->seen[i] || spec->need == NEED_OPTIONAL)
			continue;
		if (!source_known && (strncmp(spec->path, "okta", 4) == 0 ||
				      strncmp(spec->path, "graph", 5) == 0))
			continue;
		if (for_other_source(loader, spec->path))
			continue;
		needed = spec->need == NEED_REQUIRED || (parent >= 0 && loader->sections_read[parent]);
		if (needed)
			add_missing_problem(loader, i);
	}
}

static bool mark_before(struct mark a, struct mark b)
{
	return a.line < b.line || (a.line == b.line && a.column < b.column);
}

/*
 * Requires exactly one of the alternatives (key paths; a section counts
 * when present).  The first one in the file is kept and every later one is
 * reported; none at all is reported at the section.
 */
static void check_one_of(struct loader *loader, const char *section,
			 const char *const *alternatives, const char *choices)
{
	const char *first = NULL;
	struct mark first_mark = { 0, 0 };

	for (size_t i = 0; alternatives[i] != NULL; i++) {
		size_t index = key_id(alternatives[i]);

		if (loader->seen[index] &&
		    (first == NULL || mark_before(loader->key_marks[index], first_mark))) {
			first = alternatives[i];
			first_mark = loader->key_marks[index];
		}
	}
	if (first == NULL) {
		if (loader->sections_read[key_id(section)])
			add_problem(loader, loader->key_marks[key_id(section)], "%s: no credential is "
				    "configured; set one of %s", section, choices);
		return;
	}
	for (size_t i = 0; alternatives[i] != NULL; i++) {
		size_t index = key_id(alternatives[i]);

		if (loader->seen[index] && alternatives[i] != first)
			add_problem(loader, loader->key_marks[index], "%s: %s is set too; set only "
				    "one of %s", alternatives[i], first, choices);
	}
}

static void check_okta_credentials(struct loader *loader)
{
	static const char *const alternatives[] = {
		"okta.api_token_file", "okta.api_token_env", "okta.oauth", NULL,
	};

	check_one_of(loader, "okta", alternatives, "api_token_file, api_token_env or oauth");
}

/* Logs a warning at the key marked by index. */
static void warn_at(const struct loader *loader, size_t index, const char *text)
{
	struct mark mark = loader->key_marks[index];

	log_msg(LOG_WARN, "%s:%lu:%lu: %s", loader->file, mark.line, mark.column, text);
}

/*
 * Warns about Graph keys that have no effect or mix two clouds: the
 * assertion algorithm without a certificate, and a cloud that gives one URL
 * while the config gives the other.
 */
static void warn_graph_overrides(const struct loader *loader)
{
	size_t algorithm = key_id("graph.assertion_algorithm");
	size_t cloud = key_id("graph.cloud");
	size_t login = key_id("graph.login_url");
	size_t graph = key_id("graph.graph_url");

	if (loader->seen[algorithm] && !loader->seen[key_id("graph.certificate_file")])
		warn_at(loader, algorithm, "graph.assertion_algorithm: ignored, because only a "
			"certificate (graph.certificate_file) signs an assertion");
	if (loader->seen[login] == loader->seen[graph])
		return;
	if (loader->seen[cloud])
		warn_at(loader, cloud, "graph.cloud: gives only the URL that the config does not "
			"set; check that graph.login_url and graph.graph_url belong to one cloud");
	else if (loader->seen[login])
		warn_at(loader, login, "graph.login_url: given without graph.graph_url, which comes "
			"from graph.cloud (global); check that both belong to one cloud, or give both");
	else
		warn_at(loader, graph, "graph.graph_url: given without graph.login_url, which comes "
			"from graph.cloud (global); check that both belong to one cloud, or give both");
}

static void check_graph_credentials(struct loader *loader)
{
	static const char *const alternatives[] = {
		"graph.client_secret_file", "graph.client_secret_env", "graph.certificate_file", NULL,
	};
	size_t certificate = key_id("graph.certificate_file");
	size_t key = key_id("graph.private_key_file");

	if (loader->seen[certificate] && !loader->seen[key])
		add_problem(loader, loader->key_marks[certificate], "graph.certificate_file: "
			    "graph.private_key_file is missing; a certificate needs its private key");
	if (loader->seen[key] && !loader->seen[certificate])
		add_problem(loader, loader->key_marks[key], "graph.private_key_file: "
			    "graph.certificate_file is missing; the private key is used with a certificate");
	check_one_of(loader, "graph", alternatives,
		     "client_secret_file, client_secret_env or certificate_file with private_key_file");
	warn_graph_overrides(loader);
}

/* True when path ends in suffix. */
static bool ends_with(const char *path, const char *suffix)
{
	size_t len = strlen(path);
	size_t suffix_len = strlen(suffix);

	return len >= suffix_len && strcmp(path + len - suffix_len, suffix) == 0;
}

/*
 * Writes the path of path's directory without links or dot segments, then
 * its last component, into out.  Returns false when the directory cannot
 * be resolved (it does not exist yet).
 */
static bool resolve_parent(const char *path, char *out, size_t size)
{
	char *copy = strdup(path);
	char *parent = NULL;
	const char *name = strrchr(path, '/');
	bool ok = false;

	if (copy)
		parent = realpath(dirname(copy), NULL);
	if (parent) {
		ok = (size_t)snprintf(out, size, "%s/%s", parent, name ? name + 1 : path) < size;
		free(parent);
	}
	free(copy);
	return ok;
}

/* True when a and b name one file: the same inode, or the same resolved path. */
static bool same_file(const char *a, const char *b)
{
	struct stat sa;
	struct stat sb;
	char ra[PATH_MAX + 256];
	char rb[PATH_MAX + 256];

	if (stat(a, &sa) == 0 && stat(b, &sb) == 0)
		return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
	if (resolve_parent(a, ra, sizeof(ra)) && resolve_parent(b, rb, sizeof(rb)))
		return strcmp(ra, rb) == 0;
	return strcmp(a, b) == 0;
}

/*
 * Rejects an http.ca_file that cannot be read now, so that a mistyped path
 * fails the config check and not only the first request.
 */
static void check_ca_file(struct loader *loader)
{
	const char *path = loader->config->http.ca_file;
	size_t key = key_id("http.ca_file");
	struct stat info;
	const char *problem = NULL;

	if (!loader->seen[key] || !path)
		return;
	if (access(path, R_OK) != 0)
		problem = strerror(errno);
	else if (stat(path, &info) == 0 && !S_ISREG(info.st_mode))
		problem = "not a regular file";
	if (problem)
		add_problem(loader, loader->key_marks[key], "http.ca_file: cannot read \"%s\": "
			    "%s; give a PEM file of CA certificates that the user running "
			    "rostersync can read", path, problem);
}

/*
 * Rejects a metrics textfile that could be another file of the agent:
 * every run replaces it, so a path copied from roster.path or the config
 * would destroy that file.  node_exporter's textfile collector reads only
 * files whose names end in .prom, so the rule costs nothing.
 */
/*
 * Rejects a textfile path whose directory is missing, or that names a
 * directory: no run could write the metrics, and the alerts that read them
 * would see a stale file.
 */
static void check_metrics_place(struct loader *loader, size_t key, const char *path)
{
	char *copy = strdup(path);
	const char *dir = copy ? dirname(copy) : NULL;
	struct stat info;

	if (dir && (stat(dir, &info) != 0 || !S_ISDIR(info.st_mode)))
		add_problem(loader, loader->key_marks[key], "metrics.textfile: the directory \"%s\" "
			    "of \"%s\" does not exist; create it (node_exporter's "
			    "--collector.textfile.directory) or fix the path", dir, path);
	else if (stat(path, &info) == 0 && S_ISDIR(info.st_mode))
		add_problem(loader, loader->key_marks[key], "metrics.textfile: \"%s\" is a "
			    "directory; give the path of a file in it, such as %s/rostersync.prom",
			    path, path);
	free(copy);
}

static void check_metrics_textfile(struct loader *loader)
{
	const struct config *config = loader->config;
	size_t key = key_id("metrics.textfile");

	if (!loader->seen[key] || !config->metrics.textfile)
		return;
	if (!ends_with(config->metrics.textfile, ".prom"))
		add_problem(loader, loader->key_marks[key], "metrics.textfile: \"%s\" does not end "
			    "in .prom; node_exporter's textfile collector reads only *.prom files, "
			    "and every run replaces this file", config->metrics.textfile);
	else if (config->roster.path && same_file(config->metrics.textfile, config->roster.path))
		add_problem(loader, loader->key_marks[key], "metrics.textfile: \"%s\" is the roster "
			    "file; every run replaces the textfile, so give it a path of its own",
			    config->metrics.textfile);
	else
		check_metrics_place(loader, key, config->metrics.textfile);
}

static void warn_unused_section(struct loader *loader)
{
	const char *unused = loader->config->source == CONFIG_SOURCE_OKTA ? "graph" : "okta";
	size_t index = key_id(unused);
	struct mark mark = loader->key_marks[index];

	if (loader->seen[index])
		log_msg(LOG_WARN, "%s:%lu:%lu: %s: ignored because source is %s", loader->file,
			mark.line, mark.column, unused, config_source_name(loader->config->source));
}

/* Fills in the values that other keys decide. */
static bool derive_values(struct loader *loader)
{
	struct config *config = loader->config;
	const char *login = cloud_urls[config->graph.cloud].login_url;
	const char *graph = cloud_urls[config->graph.cloud].graph_url;

	if (config->team.name == NULL && config->tenant != NULL) {
		config->team.name = strdup(config->tenant);
		if (config->team.name == NULL)
			return false;
	}
	if (config->graph.login_url == NULL) {
		config->graph.login_url = strdup(login);
		if (config->graph.login_url == NULL)
			return false;
	}
	if (config->graph.graph_url == NULL) {
		config->graph.graph_url = strdup(graph);
		if (config->graph.graph_url == NULL)
			return false;
	}
	return true;
}

/*
 * Tells whether source: is absent or converted.  An invalid source leaves
 * the default in struct config, so the rules of either source would only
 * add noise to its error.
 */
static bool source_is_valid(const struct node *root)
{
	const struct entry *entry = find_entry(root, "source");
	const struct node *value = entry != NULL ? entry->value : NULL;

	if (value == NULL)
		return true;
	if (value->kind != NODE_SCALAR)
		return false;
	for (size_t i = 0; source_words[i] != NULL; i++) {
		if (strcmp(value->value, source_words[i]) == 0)
			return true;
	}
	return false;
}

/* Matches the tree against the key table and applies the rules across keys. */
static void apply_config(struct loader *loader, const struct node *root)
{
	bool source_known;

	if (root->kind == NODE_SCALAR && !root->quoted && root->value[0] == '\0') {
		add_problem(loader, root->mark, "the file has no settings; write a mapping with at "
			    "least tenant, source, team and roster");
		return;
	}
	if (root->kind != NODE_MAPPING) {
		if (root->kind != NODE_INVALID)
			add_problem(loader, root->mark, "the top level is %s, but a rostersync config is "
				    "a mapping of keys such as tenant: and source:", kind_name(root->kind));
		return;
	}
	loader->root_mark = root->mark;
	apply_mapping(loader, root, "");
	apply_defaults(loader);

	source_known = source_is_valid(root);
	check_required(loader, source_known);
	if (source_known && loader->config->source == CONFIG_SOURCE_OKTA)
		check_okta_credentials(loader);
	if (source_known && loader->config->source == CONFIG_SOURCE_GRAPH)
		check_graph_credentials(loader);
	if (source_known)
		warn_unused_section(loader);
	check_metrics_textfile(loader);
	check_ca_file(loader);
	if (!derive_values(loader))
		loader->out_of_memory = true;
}

/* ---- public interface -------------------------------------------------- */

enum rs_err config_load(const char *path, struct config **out)
{
	struct loader loader = { .file = path };
	bool seen[KEY_COUNT] = { false };
	struct mark key_marks[KEY_COUNT];
	bool sections_read[KEY_COUNT] = { false };
	struct node *root = NULL;
	char *text = NULL;
	size_t len = 0;
	enum rs_err err = RS_ERR_CONFIG;

	*out = NULL;
	loader.seen = seen;
	loader.key_marks = key_marks;
	loader.sections_read = sections_read;
	loader.config = calloc(1, sizeof(*loader.config));
	if (loader.config == NULL || (loader.config->path = strdup(path)) == NULL) {
		log_msg(LOG_ERROR, "%s: out of memory while reading the config", path);
		config_free(loader.config);
		return RS_ERR_INTERNAL;
	}

	if (read_config_file(&loader, &text, &len))
		root = parse_config_text(&loader, text, len);
	if (root != NULL && !loader.syntax_error)
		apply_config(&loader, root);

	if (loader.total == 0 && !loader.out_of_memory) {
		*out = loader.config;
		loader.config = NULL;
		err = RS_OK;
	} else if (loader.out_of_memory) {
		err = RS_ERR_INTERNAL;
	}
	report_problems(&loader);
	free_node(root);
	free(text);
	config_free(loader.config);
	return err;
}

void config_free(struct config *config)
{
	if (config == NULL)
		return;
	for (size_t i = 0; i < KEY_COUNT; i++) {
		const struct key_spec *spec = &config_keys[i];

		if (spec->type != KEY_SECTION && spec->type != KEY_INTEGER &&
		    spec->type != KEY_BOOLEAN && spec->type != KEY_ENUM)
			free(*(char **)((char *)config + spec->offset));
	}
	free(config->path);
	free(config);
}

/* The sources of one credential, in the order they are tried. */
struct secret_lookup {
	const char *what;               /* "Okta API token", for messages */
	const char *credential_suffix;  /* systemd credential "<tenant><suffix>" */
	const char *file_key;
	const char *file;
	const char *env_key;
	const char *env;
	bool single_line;               /* the value goes into a header or form field */
};

static void describe_secret(const struct config *config, struct secret_lookup *lookup)
{
	memset(lookup, 0, sizeof(*lookup));
	if (config->source == CONFIG_SOURCE_OKTA && config->okta.oauth.client_id != NULL) {
		lookup->what = "Okta OAuth private key";
		lookup->credential_suffix = ".key";
		lookup->file_key = "okta.oauth.private_key_file";
		lookup->file = config->okta.oauth.private_key_file;
	} else if (config->source == CONFIG_SOURCE_OKTA) {
		lookup->what = "Okta API token";
		lookup->credential_suffix = ".token";
		lookup->file_key = "okta.api_token_file";
		lookup->file = config->okta.api_token_file;
		lookup->env_key = "okta.api_token_env";
		lookup->env = config->okta.api_token_env;
		lookup->single_line = true;
	} else if (config->graph.certificate_file != NULL) {
		lookup->what = "Microsoft Graph certificate private key";
		lookup->credential_suffix = ".key";
		lookup->file_key = "graph.private_key_file";
		lookup->file = config->graph.private_key_file;
	} else {
		lookup->what = "Microsoft Graph client secret";
		lookup->credential_suffix = ".secret";
		lookup->file_key = "graph.client_secret_file";
		lookup->file = config->graph.client_secret_file;
		lookup->env_key = "graph.client_secret_env";
		lookup->env = config->graph.client_secret_env;
		lookup->single_line = true;
	}
}

static bool is_single_line(const struct secret *secret)
{
	const char *value = secret_value(secret);
	size_t len = secret_len(secret);

	return memchr(value, '\n', len) == NULL && memchr(value, '\r', len) == NULL &&
	       memchr(value, '\0', len) == NULL;
}

/*
 * Warns when systemd passed credentials but none named name: the unit loads
 * INSTANCE.token (or .secret, .key), so the config's tenant: differs from
 * the unit's instance name.
 */
static void warn_credential_missing(const struct config *config, const char *name)
{
	const char *dir = getenv("CREDENTIALS_DIRECTORY");

	if (dir == NULL || dir[0] == '\0')
		return;
	log_msg(LOG_WARN, "%s: $CREDENTIALS_DIRECTORY (%s) has no credential %s, so the secret "
		"is read from the config's file or variable instead; the unit loads credentials "
		"named after its instance (rostersync@NAME loads NAME.token), so set tenant: in "
		"%s to the instance name", config->path, dir, name, config->path);
}

/* Reads the secret from the first source that the config or systemd provides. */
static enum rs_err read_secret(const struct config *config, const struct secret_lookup *lookup,
			       struct secret **out, char *source, size_t source_size)
{
	enum rs_err err;

	snprintf(source, source_size, "systemd credential %s%s", config->tenant,
		 lookup->credential_suffix);
	err = secret_from_credentials(source + strlen("systemd credential "), out);
	if (err != RS_OK || *out != NULL)
		return err;
	warn_credential_missing(config, source + strlen("systemd credential "));

	if (lookup->file != NULL) {
		snprintf(source, source_size, "%s (%s)", lookup->file_key, lookup->file);
		return secret_from_file(lookup->file, out);
	}
	if (lookup->env != NULL) {
		snprintf(source, source_size, "%s (environment variable %s)", lookup->env_key,
			 lookup->env);
		return secret_from_env(lookup->env, out);
	}
	snprintf(source, source_size, "%s", lookup->file_key);
	log_msg(LOG_ERROR, "%s: no %s is configured; set %s%s%s", config->path, lookup->what,
		lookup->file_key, lookup->env_key != NULL ? " or " : "",
		lookup->env_key != NULL ? lookup->env_key : "");
	return RS_ERR_CONFIG;
}

void config_secret_source(const struct config *config, char *buf, size_t size)
{
	struct secret_lookup lookup;
	const char *dir = getenv("CREDENTIALS_DIRECTORY");
	char path[4200];

	describe_secret(config, &lookup);
	snprintf(path, sizeof(path), "%s/%s%s", dir ? dir : "", config->tenant ? config->tenant : "",
		 lookup.credential_suffix);
	if (dir && dir[0] && access(path, F_OK) == 0)
		snprintf(buf, size, "systemd credential %s%s", config->tenant,
			 lookup.credential_suffix);
	else if (lookup.file)
		snprintf(buf, size, "%s (%s)", lookup.file_key, lookup.file);
	else if (lookup.env)
		snprintf(buf, size, "%s (environment variable %s)", lookup.env_key, lookup.env);
	else
		snprintf(buf, size, "%s", lookup.file_key);
}

enum rs_err config_load_secret(const struct config *config, struct secret **out)
{
	struct secret_lookup lookup;
	char source[4200];
	enum rs_err err;

	*out = NULL;
	describe_secret(config, &lookup);
	err = read_secret(config, &lookup, out, source, sizeof(source));
	if (err != RS_OK) {
		log_msg(LOG_ERROR, "%s: cannot read the %s from %s", config->path, lookup.what, source);
		return err;
	}
	if (lookup.single_line && !is_single_line(*out)) {
		log_msg(LOG_ERROR, "%s: the %s from %s contains a line break or NUL byte; "
			"it must be a single line", config->path, lookup.what, source);
		secret_free(*out);
		*out = NULL;
		return RS_ERR_CONFIG;
	}
	/* Names the source in every run, because a rejected credential is fixed there. */
	log_msg(LOG_INFO, "%s: read the %s from %s", config->path, lookup.what, source);
	return RS_OK;
}

bool config_key_describe(size_t index, struct config_key_info *out)
{
	static const char *const type_words[] = {
		[KEY_SECTION] = "mapping",
		[KEY_STRING] = "string",
		[KEY_NAME] = "name",
		[KEY_ENV_NAME] = "environment variable name",
		[KEY_INTEGER] = "integer",
		[KEY_BOOLEAN] = "boolean",
		[KEY_ENUM] = "enum",
		[KEY_URL] = "URL",
		[KEY_PROXY] = "proxy URL",
	};
	const struct key_spec *spec;

	if (index >= KEY_COUNT)
		return false;
	spec = &config_keys[index];
	out->path = spec->path;
	out->type = type_words[spec->type];
	out->default_text = spec->default_text;
	out->min = spec->min;
	out->max = spec->max;
	out->required = spec->need == NEED_REQUIRED || spec->need == NEED_WITH_PARENT;
	return true;
}

const char *config_source_name(enum config_source source)
{
	return source == CONFIG_SOURCE_GRAPH ? "graph" : "okta";
}

const char *config_source_title(enum config_source source)
{
	return source == CONFIG_SOURCE_GRAPH ? "Microsoft Entra ID" : "Okta";
}

const char *config_source_org(const struct config *config)
{
	if (config->source == CONFIG_SOURCE_GRAPH)
		return config->graph.tenant_id;
	return config->okta.org_url;
}

const char *config_source_app(const struct config *config)
{
	if (config->source == CONFIG_SOURCE_GRAPH)
		return config->graph.app_id;
	return config->okta.app_id;
}
