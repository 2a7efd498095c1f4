/*
 * log.c - one line per call on stderr, as text or as a JSON object.
 *
 * A line is built in a buffer on the stack and written with a single
 * write(2), so lines from concurrent processes sharing stderr do not mix.
 * Messages may contain IdP data, so every byte that could end the line,
 * move the cursor or break JSON is escaped.
 *
 * A run that meets the same problem for thousands of users must not write
 * thousands of lines.  So while a run id is set, only the first
 * LOG_REPEAT_MAX warn or info lines from one format string are written and
 * later ones are counted.  One summary line per format follows when the
 * run id changes or the process exits.  Errors and debug lines are always
 * written, and so is everything outside a run, such as the config check.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "progress.h"

/* Maximum message length in bytes, before escaping. */
#define LOG_MESSAGE_MAX 4096

/* Lines logged from one format string before further ones are only counted. */
#define LOG_REPEAT_MAX 10

/* Format strings whose repeats are counted; more distinct ones are not limited. */
#define LOG_REPEAT_SLOTS 32

/* Bytes of the last counted message kept for the summary line. */
#define LOG_REPEAT_TEXT 512

/* Tenant and run id are cut to this many bytes. */
#define LOG_FIELD_MAX 64

/*
 * Escaping turns one byte into at most six ("\u00XX"), so a full message,
 * the tenant, the run id and the fixed parts always fit.
 */
#define LOG_LINE_MAX (6 * (LOG_MESSAGE_MAX + 2 * LOG_FIELD_MAX) + 256)

struct log_state {
	enum log_level level;
	enum log_format format;
	char tenant[LOG_FIELD_MAX + 1];
	char run_id[LOG_FIELD_MAX + 1];
};

static struct log_state log_state = { LOG_INFO, LOG_FORMAT_TEXT, "", "" };

/* Lines logged from one format string in the current run. */
struct log_repeat {
	const char *fmt;          /* compared by address: one call site, one entry */
	enum log_level level;
	unsigned long count;
	char last[LOG_REPEAT_TEXT]; /* the last message that was counted, not logged */
};

static struct log_repeat log_repeats[LOG_REPEAT_SLOTS];
static bool log_repeat_atexit;

/* The secrets registered with log_add_secret(): pointers, never copies. */
#define LOG_SECRETS_MAX 32
#define LOG_REDACTED "[redacted]"
/* The shortest text taken for a JWT: "eyJ" and the start of a JSON header. */
#define LOG_JWT_MIN 20

struct log_secret {
	const char *value;
	size_t len;
};

static struct log_secret log_secrets[LOG_SECRETS_MAX];

/* The first error message since the run id was last set, control bytes replaced. */
static char log_first_error_text[LOG_FIRST_ERROR_MAX + 1];

static const char *const level_names[] = {
	[LOG_ERROR] = "error",
	[LOG_WARN] = "warn",
	[LOG_INFO] = "info",
	[LOG_DEBUG] = "debug",
};

/* syslog(3) priorities, which journald reads from a "<N>" line prefix. */
static const int level_priorities[] = {
	[LOG_ERROR] = 3,
	[LOG_WARN] = 4,
	[LOG_INFO] = 6,
	[LOG_DEBUG] = 7,
};

enum escape_mode { ESCAPE_TEXT, ESCAPE_JSON };

struct log_line {
	char text[LOG_LINE_MAX];
	size_t len;
};

void log_configure(enum log_level level, enum log_format format)
{
	if (level > LOG_DEBUG)
		level = LOG_DEBUG;
	log_state.level = level;
	log_state.format = format == LOG_FORMAT_JSON ? LOG_FORMAT_JSON : LOG_FORMAT_TEXT;
}

static void copy_field(char *field, const char *value)
{
	if (value == NULL) {
		field[0] = '\0';
		return;
	}
	snprintf(field, LOG_FIELD_MAX + 1, "%s", value);
}

void log_set_tenant(const char *tenant)
{
	copy_field(log_state.tenant, tenant);
}

void log_set_run_id(const char *run_id)
{
	log_flush_repeats();
	copy_field(log_state.run_id, run_id);
	log_first_error_text[0] = '\0';
}

void log_add_secret(const char *value, size_t len)
{
	if (value == NULL || len < LOG_SECRET_MIN)
		return;
	for (size_t i = 0; i < LOG_SECRETS_MAX; i++) {
		if (log_secrets[i].value == NULL) {
			log_secrets[i].value = value;
			log_secrets[i].len = len;
			return;
		}
	}
	log_msg(LOG_WARN, "more than %d secrets are in use; later ones are not redacted from "
		"quoted error bodies", LOG_SECRETS_MAX);
}

void log_forget_secret(const char *value)
{
	for (size_t i = 0; value != NULL && i < LOG_SECRETS_MAX; i++) {
		if (log_secrets[i].value == value)
			memset(&log_secrets[i], 0, sizeof(log_secrets[i]));
	}
}

static bool jwt_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.';
}

/*
 * Returns the length of the JWT that text starts with, or 0.  A JWT's
 * header is a JSON object, so its base64url text starts with "eyJ".  The
 * run of base64url characters and dots after it is taken whole, so that a
 * token that the server cut short is redacted too.  A run followed by "@"
 * is the local part of an address, not a token.
 */
static size_t jwt_at(const char *text, size_t len)
{
	size_t n = 3;

	if (len < LOG_JWT_MIN || memcmp(text, "eyJ", 3) != 0)
		return 0;
	while (n < len && jwt_char(text[n]))
		n++;
	if (n < len && text[n] == '@')
		return 0;
	return n >= LOG_JWT_MIN ? n : 0;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Returns the length of the copy of secret that text starts with, or 0.
 * A server that echoes a request body echoes the secret encoded as that body
 * was: any byte as %XX (a form body or URL), a space as "+", and any byte
 * after a backslash (a JSON string escapes "/" and quotes).
 */
static size_t encoded_secret_at(const char *text, size_t len, const struct log_secret *secret)
{
	size_t n = 0;

	for (size_t i = 0; i < secret->len; i++) {
		char c = secret->value[i];

		if (n < len && text[n] == c)
			n++;
		else if (n + 2 < len && text[n] == '%' && hex_value(text[n + 1]) >= 0 &&
			 hex_value(text[n + 2]) >= 0 &&
			 (char)(hex_value(text[n + 1]) * 16 + hex_value(text[n + 2])) == c)
			n += 3;
		else if (n < len && c == ' ' && text[n] == '+')
			n++;
		else if (n + 1 < len && text[n] == '\\' && text[n + 1] == c)
			n += 2;
		else
			return 0;
	}
	return n;
}

size_t log_secret_at(const char *text, size_t len, char before)
{
	size_t jwt = jwt_char(before) ? 0 : jwt_at(text, len);

	if (jwt > 0)
		return jwt;
	for (size_t i = 0; i < LOG_SECRETS_MAX; i++) {
		const struct log_secret *secret = &log_secrets[i];

		size_t n;

		if (secret->value == NULL || (text[0] != secret->value[0] && text[0] != '%' &&
					      text[0] != '+' && text[0] != '\\'))
			continue;
		n = encoded_secret_at(text, len, secret);
		if (n > 0)
			return n;
	}
	return 0;
}

/* Writes msg into out (of size bytes) with every registered secret redacted. */
static void redact(const char *msg, char *out, size_t size)
{
	size_t len = strlen(msg);
	size_t n = 0;

	for (size_t i = 0; i < len && n + 1 < size;) {
		size_t secret = log_secret_at(msg + i, len - i, i > 0 ? msg[i - 1] : '\0');

		if (secret == 0) {
			out[n++] = msg[i++];
			continue;
		}
		if (n + sizeof(LOG_REDACTED) > size)
			break;
		memcpy(out + n, LOG_REDACTED, sizeof(LOG_REDACTED) - 1);
		n += sizeof(LOG_REDACTED) - 1;
		i += secret;
	}
	out[n] = '\0';
}

const char *log_first_error(void)
{
	return log_first_error_text[0] ? log_first_error_text : NULL;
}

bool log_enabled(enum log_level level)
{
	return level <= log_state.level;
}

bool log_level_parse(const char *text, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(text, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return true;
		}
	}
	return false;
}

const char *log_level_name(enum log_level level)
{
	if (level > LOG_DEBUG)
		return "debug";
	return level_names[level];
}

/* Appends len bytes, dropping what does not fit (one byte stays free for '\n'). */
static void line_append(struct log_line *line, const char *bytes, size_t len)
{
	size_t room = sizeof(line->text) - 1 - line->len;

	if (len > room)
		len = room;
	memcpy(line->text + line->len, bytes, len);
	line->len += len;
}

static void line_append_str(struct log_line *line, const char *text)
{
	line_append(line, text, strlen(text));
}

/*
 * Returns the length of the valid UTF-8 sequence at s (at most n bytes) and
 * stores its code point, or returns 0 for an invalid, overlong, surrogate or
 * truncated sequence.
 */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *code_point)
{
	size_t len;
	uint32_t cp, min;

	if (s[0] < 0x80) {
		*code_point = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
		min = 0x80;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
		min = 0x800;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	*code_point = cp;
	return len;
}

/* Escapes one ASCII byte, or returns false when it can be copied as it is. */
static bool escape_ascii(struct log_line *line, unsigned char c, enum escape_mode mode)
{
	char buf[8];

	if (c == '\n')
		line_append_str(line, "\\n");
	else if (c == '\r')
		line_append_str(line, "\\r");
	else if (c == '\t')
		line_append_str(line, "\\t");
	else if (mode == ESCAPE_JSON && (c == '"' || c == '\\'))
		line_append(line, (const char[]){ '\\', (char)c }, 2);
	else if (c < 0x20 || c == 0x7f) {
		snprintf(buf, sizeof(buf), mode == ESCAPE_JSON ? "\\u%04x" : "\\x%02x", c);
		line_append_str(line, buf);
	} else
		return false;
	return true;
}

/*
 * Appends text with control characters escaped.  C1 controls and the
 * Unicode line and paragraph separators are escaped as \uXXXX because
 * terminals and some JSON readers act on them.  Invalid UTF-8 becomes
 * \xNN in text and U+FFFD in JSON, which must be valid UTF-8.
 */
static void line_append_escaped(struct log_line *line, const char *text, enum escape_mode mode)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t n = strlen(text);
	char buf[16];

	while (n > 0) {
		uint32_t cp = 0;
		size_t len = utf8_decode(s, n, &cp);

		if (len == 0) {
			if (mode == ESCAPE_JSON)
				line_append_str(line, "\\ufffd");
			else {
				snprintf(buf, sizeof(buf), "\\x%02x", s[0]);
				line_append_str(line, buf);
			}
			len = 1;
		} else if (len == 1) {
			if (!escape_ascii(line, s[0], mode))
				line_append(line, (const char *)s, 1);
		} else if ((cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029) {
			snprintf(buf, sizeof(buf), "\\u%04x", (unsigned)cp);
			line_append_str(line, buf);
		} else {
			line_append(line, (const char *)s, len);
		}
		s += len;
		n -= len;
	}
}

/* Formats the message, cutting it at a UTF-8 boundary when it is too long. */
static void format_message(char *msg, size_t size, const char *fmt, va_list ap)
{
	int n = vsnprintf(msg, size, fmt, ap);
	size_t cut;
	char note[64];

	if (n < 0) {
		snprintf(msg, size, "(log message could not be formatted)");
		return;
	}
	if ((size_t)n < size)
		return;

	snprintf(note, sizeof(note), " [message truncated from %d bytes]", n);
	cut = size - 1 - strlen(note);
	while (cut > 0 && ((unsigned char)msg[cut] & 0xc0) == 0x80)
		cut--;
	memcpy(msg + cut, note, strlen(note) + 1);
}

/* Tells whether stderr is the journal: JOURNAL_STREAM is "DEVICE:INODE" of it. */
static bool stderr_is_journal(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long device, inode;
	char *end;
	struct stat st;

	if (env == NULL || env[0] < '0' || env[0] > '9')
		return false;
	errno = 0;
	device = strtoull(env, &end, 10);
	if (errno != 0 || *end != ':' || end[1] < '0' || end[1] > '9')
		return false;
	inode = strtoull(end + 1, &end, 10);
	if (errno != 0 || *end != '\0')
		return false;
	if (fstat(STDERR_FILENO, &st) != 0)
		return false;
	return (unsigned long long)st.st_dev == device && (unsigned long long)st.st_ino == inode;
}

static void format_time(char *buf, size_t size)
{
	struct timespec now;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* TIME LEVEL [TENANT] [run=ID]: MESSAGE, without TIME under journald. */
static void build_text_line(struct log_line *line, enum log_level level,
			    const char *msg, bool journal)
{
	char time_text[32];

	if (!journal) {
		format_time(time_text, sizeof(time_text));
		line_append_str(line, time_text);
		line_append_str(line, " ");
	}
	line_append_str(line, level_names[level]);
	if (log_state.tenant[0] != '\0') {
		line_append_str(line, " ");
		line_append_escaped(line, log_state.tenant, ESCAPE_TEXT);
	}
	if (log_state.run_id[0] != '\0') {
		line_append_str(line, " run=");
		line_append_escaped(line, log_state.run_id, ESCAPE_TEXT);
	}
	line_append_str(line, ": ");
	line_append_escaped(line, msg, ESCAPE_TEXT);
}

static void append_json_field(struct log_line *line, const char *name, const char *value)
{
	line_append_str(line, ",\"");
	line_append_str(line, name);
	line_append_str(line, "\":\"");
	line_append_escaped(line, value, ESCAPE_JSON);
	line_append_str(line, "\"");
}

/*
 * {"time":…,"level":…,"tenant":…,"run_id":…,"message":…}; tenant and
 * run_id are left out while unset.  The message is escaped last, so a cut
 * could only ever hit it, and the buffer is sized so that it never does.
 */
static void build_json_line(struct log_line *line, enum log_level level, const char *msg)
{
	char time_text[32];

	format_time(time_text, sizeof(time_text));
	line_append_str(line, "{\"time\":\"");
	line_append_str(line, time_text);
	line_append_str(line, "\"");
	append_json_field(line, "level", level_names[level]);
	if (log_state.tenant[0] != '\0')
		append_json_field(line, "tenant", log_state.tenant);
	if (log_state.run_id[0] != '\0')
		append_json_field(line, "run_id", log_state.run_id);
	append_json_field(line, "message", msg);
	line_append_str(line, "}");
}

static void write_all(int fd, const char *bytes, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, bytes, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		bytes += n;
		len -= (size_t)n;
	}
}

/* Builds and writes one line, erasing a progress line first. */
static void write_line(enum log_level level, const char *msg)
{
	struct log_line line;
	bool journal;

	line.len = 0;
	journal = stderr_is_journal();
	if (journal) {
		char prefix[8];

		snprintf(prefix, sizeof(prefix), "<%d>", level_priorities[level]);
		line_append_str(&line, prefix);
	}
	if (log_state.format == LOG_FORMAT_JSON)
		build_json_line(&line, level, msg);
	else
		build_text_line(&line, level, msg, journal);
	line.text[line.len++] = '\n';

	progress_clear();
	write_all(STDERR_FILENO, line.text, line.len);
}

/* Copies text into a buffer of size bytes, cutting it at a UTF-8 boundary. */
static void copy_cut(char *buf, size_t size, const char *text)
{
	size_t len = strlen(text);

	if (len >= size) {
		len = size - 1;
		while (len > 0 && ((unsigned char)text[len] & 0xc0) == 0x80)
			len--;
	}
	memcpy(buf, text, len);
	buf[len] = '\0';
}

/* Keeps msg, cut to LOG_FIRST_ERROR_MAX bytes, with its control bytes as spaces. */
static void keep_first_error(const char *msg)
{
	copy_cut(log_first_error_text, sizeof(log_first_error_text), msg);
	for (char *c = log_first_error_text; *c; c++) {
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = ' ';
	}
}

/*
 * Counts a line from fmt and returns true when it is to be written: the
 * first LOG_REPEAT_MAX of each format are, later ones are kept as the last
 * message for the summary.
 */
static bool repeat_allows(enum log_level level, const char *fmt, const char *msg)
{
	struct log_repeat *slot = NULL;

	if (level == LOG_ERROR || level == LOG_DEBUG || log_state.run_id[0] == '\0')
		return true;
	for (size_t i = 0; i < LOG_REPEAT_SLOTS && !slot; i++) {
		if (log_repeats[i].fmt == fmt || log_repeats[i].fmt == NULL)
			slot = &log_repeats[i];
	}
	if (!slot)
		return true;

	if (slot->fmt == NULL) {
		slot->fmt = fmt;
		slot->level = level;
		slot->count = 0;
	}
	slot->count++;
	if (slot->count <= LOG_REPEAT_MAX)
		return true;

	if (!log_repeat_atexit) {
		log_repeat_atexit = true;
		atexit(log_flush_repeats);
	}
	copy_cut(slot->last, sizeof(slot->last), msg);
	return false;
}

void log_flush_repeats(void)
{
	char msg[LOG_MESSAGE_MAX + 1];

	for (size_t i = 0; i < LOG_REPEAT_SLOTS && log_repeats[i].fmt; i++) {
		struct log_repeat *slot = &log_repeats[i];

		if (slot->count > LOG_REPEAT_MAX && log_enabled(slot->level)) {
			snprintf(msg, sizeof(msg), "message repeated %lu more times, not logged "
				 "(the first %d were; the last was: %s)",
				 slot->count - LOG_REPEAT_MAX, LOG_REPEAT_MAX, slot->last);
			write_line(slot->level, msg);
		}
		memset(slot, 0, sizeof(*slot));
	}
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char formatted[LOG_MESSAGE_MAX + 1];
	char msg[LOG_MESSAGE_MAX + 1];
	va_list ap;
	int saved_errno = errno;

	if (level > LOG_DEBUG)
		level = LOG_DEBUG;
	if (!log_enabled(level))
		return;

	va_start(ap, fmt);
	format_message(formatted, sizeof(formatted), fmt, ap);
	va_end(ap);
	redact(formatted, msg, sizeof(msg));

	if (level == LOG_ERROR && log_first_error_text[0] == '\0')
		keep_first_error(msg);
	if (repeat_allows(level, fmt, msg))
		write_line(level, msg);
	errno = saved_errno;
}
