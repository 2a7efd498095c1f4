/*
 * secret.c - credentials read from files, environment variables and
 * systemd credentials, wiped before they are freed.
 *
 * Messages name the file or variable and the reason, never the value.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "secret.h"

/* Maximum secret file size in bytes.  A PEM private key is a few KiB. */
#define SECRET_FILE_MAX (64 * 1024)

struct secret {
	size_t len;
	char value[];   /* len bytes and a NUL */
};

struct secret *secret_new(const char *value, size_t len)
{
	struct secret *secret;

	if (len >= SIZE_MAX - sizeof(*secret))
		return NULL;
	secret = malloc(sizeof(*secret) + len + 1);
	if (secret == NULL)
		return NULL;
	secret->len = len;
	memcpy(secret->value, value, len);
	secret->value[len] = '\0';
	log_add_secret(secret->value, len);
	return secret;
}

const char *secret_value(const struct secret *secret)
{
	return secret->value;
}

size_t secret_len(const struct secret *secret)
{
	return secret->len;
}

void secret_free(struct secret *secret)
{
	if (secret == NULL)
		return;
	log_forget_secret(secret->value);
	explicit_bzero(secret, sizeof(*secret) + secret->len + 1);
	free(secret);
}

/* Drops one trailing "\n" or "\r\n" and returns the new length. */
static size_t drop_trailing_newline(const char *value, size_t len)
{
	if (len > 0 && value[len - 1] == '\n') {
		len--;
		if (len > 0 && value[len - 1] == '\r')
			len--;
	}
	return len;
}

static void warn_if_accessible(const char *path, mode_t mode)
{
	const char *access;

	if ((mode & 077) == 0)
		return;
	access = (mode & 044) != 0 ? "readable" : "accessible";
	log_msg(LOG_WARN, "secret file %s is %s by group or others (mode %04o): run chmod 600 %s",
		path, access, (unsigned)(mode & 07777), path);
}

/*
 * The kind of file a secret is read from.  A systemd credential may be
 * absent, and its mode is not checked because systemd makes the
 * credentials directory accessible only to the unit's user.
 */
enum secret_origin { ORIGIN_FILE, ORIGIN_CREDENTIAL };

/*
 * Opens path without following a symbolic link and checks what fstat(2)
 * reports about the descriptor.  O_NONBLOCK keeps a FIFO from blocking the
 * open; fstat then rejects it.  Returns the descriptor, -1 after logging
 * why, or -2 when a credential does not exist.
 */
static int open_secret_file(const char *path, enum secret_origin origin)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0) {
		if (errno == ENOENT && origin == ORIGIN_CREDENTIAL)
			return -2;
		if (errno == ELOOP && origin == ORIGIN_CREDENTIAL)
			log_msg(LOG_ERROR, "systemd credential %s is a symbolic link, which is not "
				"followed: load the credential from the file itself "
				"(LoadCredential=NAME:/path/to/the/file in the unit)", path);
		else if (errno == ELOOP)
			log_msg(LOG_ERROR, "secret file %s is a symbolic link, which is not followed: "
				"point the config at the file itself", path);
		else if (errno == ENOENT)
			log_msg(LOG_ERROR, "cannot open secret file %s: %s: create it or fix the path",
				path, strerror(errno));
		else if (errno == EACCES)
			log_msg(LOG_ERROR, "cannot open secret file %s: %s: make it readable by the user "
				"running rostersync", path, strerror(errno));
		else
			log_msg(LOG_ERROR, "cannot open secret file %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0) {
		log_msg(LOG_ERROR, "cannot stat secret file %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		log_msg(LOG_ERROR, "secret file %s is not a regular file", path);
		close(fd);
		return -1;
	}
	if (st.st_size > SECRET_FILE_MAX) {
		log_msg(LOG_ERROR, "secret file %s is larger than %d bytes (%lld bytes)",
			path, SECRET_FILE_MAX, (long long)st.st_size);
		close(fd);
		return -1;
	}
	if (origin == ORIGIN_FILE)
		warn_if_accessible(path, st.st_mode);
	return fd;
}

/*
 * Reads fd to its end into buf (size bytes).  Returns the number of bytes
 * read, or -1 after logging; a file that grew past size counts as too large.
 */
static ssize_t read_secret_bytes(int fd, const char *path, char *buf, size_t size)
{
	size_t total = 0;

	for (;;) {
		ssize_t n = read(fd, buf + total, size - total);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log_msg(LOG_ERROR, "cannot read secret file %s: %s", path, strerror(errno));
			return -1;
		}
		if (n == 0)
			return (ssize_t)total;
		total += (size_t)n;
		if (total == size) {
			log_msg(LOG_ERROR, "secret file %s is larger than %d bytes", path, SECRET_FILE_MAX);
			return -1;
		}
	}
}

static enum rs_err read_secret_file(const char *path, enum secret_origin origin,
				    struct secret **out)
{
	enum rs_err err = RS_ERR_CONFIG;
	size_t size = SECRET_FILE_MAX + 1;
	char *buf = NULL;
	ssize_t len;
	int fd;

	*out = NULL;
	fd = open_secret_file(path, origin);
	if (fd == -2)
		return RS_OK;
	if (fd < 0)
		return RS_ERR_CONFIG;

	buf = malloc(size);
	if (buf == NULL) {
		log_msg(LOG_ERROR, "out of memory reading secret file %s", path);
		err = RS_ERR_INTERNAL;
		goto out;
	}
	len = read_secret_bytes(fd, path, buf, size);
	if (len < 0)
		goto out;

	len = (ssize_t)drop_trailing_newline(buf, (size_t)len);
	if (len == 0) {
		log_msg(LOG_ERROR, "secret file %s is empty: write the secret into it", path);
		goto out;
	}
	*out = secret_new(buf, (size_t)len);
	if (*out == NULL) {
		log_msg(LOG_ERROR, "out of memory reading secret file %s", path);
		err = RS_ERR_INTERNAL;
		goto out;
	}
	err = RS_OK;
out:
	if (buf != NULL) {
		explicit_bzero(buf, size);
		free(buf);
	}
	close(fd);
	return err;
}

enum rs_err secret_from_file(const char *path, struct secret **out)
{
	return read_secret_file(path, ORIGIN_FILE, out);
}

enum rs_err secret_from_env(const char *name, struct secret **out)
{
	const char *value = getenv(name);

	*out = NULL;
	if (value == NULL) {
		log_msg(LOG_ERROR, "environment variable %s is not set", name);
		return RS_ERR_CONFIG;
	}
	if (value[0] == '\0') {
		log_msg(LOG_ERROR, "environment variable %s is empty", name);
		return RS_ERR_CONFIG;
	}
	*out = secret_new(value, strlen(value));
	if (*out == NULL) {
		log_msg(LOG_ERROR, "out of memory reading environment variable %s", name);
		return RS_ERR_INTERNAL;
	}
	return RS_OK;
}

enum rs_err secret_from_credentials(const char *id, struct secret **out)
{
	const char *dir = getenv("CREDENTIALS_DIRECTORY");
	char path[4096];
	int n;

	*out = NULL;
	if (dir == NULL || dir[0] == '\0')
		return RS_OK;
	if (id[0] == '\0' || strchr(id, '/') != NULL || strcmp(id, ".") == 0 || strcmp(id, "..") == 0) {
		log_msg(LOG_ERROR, "invalid systemd credential name \"%s\"", id);
		return RS_ERR_CONFIG;
	}
	n = snprintf(path, sizeof(path), "%s/%s", dir, id);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		log_msg(LOG_ERROR, "CREDENTIALS_DIRECTORY is too long for credential %s", id);
		return RS_ERR_CONFIG;
	}
	return read_secret_file(path, ORIGIN_CREDENTIAL, out);
}
