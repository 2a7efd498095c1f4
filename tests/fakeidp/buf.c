/*
 * buf.c - the growing byte buffer that every response body is rendered into.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fakeidp.h"

void buf_init(struct buf *b)
{
	memset(b, 0, sizeof(*b));
}

void buf_release(struct buf *b)
{
	free(b->data);
	buf_init(b);
}

void buf_reserve(struct buf *b, size_t extra)
{
	size_t want;
	size_t cap;
	char *data;

	if (b->failed)
		return;
	if (extra >= SIZE_MAX / 2 - b->len) {
		b->failed = true;
		return;
	}
	want = b->len + extra + 1;
	if (want <= b->cap)
		return;

	cap = b->cap ? b->cap : 256;
	while (cap < want)
		cap *= 2;
	data = realloc(b->data, cap);
	if (data == NULL) {
		b->failed = true;
		return;
	}
	b->data = data;
	b->cap = cap;
}

void buf_append(struct buf *b, const void *data, size_t len)
{
	buf_reserve(b, len);
	if (b->failed)
		return;
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
}

void buf_puts(struct buf *b, const char *s)
{
	buf_append(b, s, strlen(s));
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = true;
		return;
	}

	buf_reserve(b, (size_t)n);
	if (b->failed)
		return;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void buf_decimal(struct buf *b, long long value)
{
	char digits[24];
	size_t pos = sizeof(digits);
	unsigned long long magnitude;

	magnitude = value < 0 ? 0ULL - (unsigned long long)value : (unsigned long long)value;
	do {
		digits[--pos] = (char)('0' + magnitude % 10);
		magnitude /= 10;
	} while (magnitude > 0);
	if (value < 0)
		digits[--pos] = '-';
	buf_append(b, digits + pos, sizeof(digits) - pos);
}

void buf_truncate(struct buf *b, size_t len)
{
	if (b->failed || len > b->len)
		return;
	b->len = len;
	if (b->data != NULL)
		b->data[len] = '\0';
}

/* Appends one byte that needs an escape in a JSON string. */
static void buf_json_escape(struct buf *b, unsigned char c)
{
	static const char hex[] = "0123456789abcdef";
	char seq[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };

	switch (c) {
	case '"': BUF_LIT(b, "\\\""); break;
	case '\\': BUF_LIT(b, "\\\\"); break;
	case '\n': BUF_LIT(b, "\\n"); break;
	case '\r': BUF_LIT(b, "\\r"); break;
	case '\t': BUF_LIT(b, "\\t"); break;
	default: buf_append(b, seq, sizeof(seq)); break;
	}
}

void buf_json_chars(struct buf *b, const char *s)
{
	const char *run = s;

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		buf_append(b, run, (size_t)(s - run));
		buf_json_escape(b, c);
		run = s + 1;
	}
	buf_append(b, run, (size_t)(s - run));
}

void buf_json_string(struct buf *b, const char *s)
{
	if (s == NULL) {
		BUF_LIT(b, "null");
		return;
	}
	BUF_LIT(b, "\"");
	buf_json_chars(b, s);
	BUF_LIT(b, "\"");
}

void buf_json_value(struct buf *b, const cJSON *item)
{
	char *text = cJSON_PrintUnformatted(item);

	if (text == NULL) {
		b->failed = true;
		return;
	}
	buf_puts(b, text);
	cJSON_free(text);
}

char *buf_detach(struct buf *b, size_t *len)
{
	char *data = NULL;

	*len = 0;
	buf_reserve(b, 0);
	if (!b->failed) {
		b->data[b->len] = '\0';
		data = b->data;
		*len = b->len;
		b->data = NULL;
	}
	buf_release(b);
	return data;
}
