/*
 * secret.h - credentials held in memory.
 *
 * A secret is read from a file, an environment variable or a systemd
 * credential, kept in its own allocation and wiped with explicit_bzero()
 * before it is freed.  Nothing in this interface formats a secret for
 * printing; callers use secret_value() only to build a request header.
 */
#ifndef ROSTERSYNC_SECRET_H
#define ROSTERSYNC_SECRET_H

#include <stddef.h>
#include "error.h"

struct secret;

/*
 * Reads the whole file at path, dropping one trailing newline (and a CR
 * before it).  The file must be a regular file; one readable by group or
 * others is reported with a warning naming the path and the chmod fix.
 * Returns RS_ERR_CONFIG (and logs the path and reason) when the file is
 * missing, unreadable, empty or larger than 64 KiB.  *out is NULL on failure.
 */
enum rs_err secret_from_file(const char *path, struct secret **out);

/* Reads the environment variable name; RS_ERR_CONFIG when unset or empty. */
enum rs_err secret_from_env(const char *name, struct secret **out);

/*
 * Reads $CREDENTIALS_DIRECTORY/id when CREDENTIALS_DIRECTORY is set and the
 * file exists.  Returns RS_OK with *out NULL when there is no such credential.
 */
enum rs_err secret_from_credentials(const char *id, struct secret **out);

/* Creates a secret holding a copy of len bytes of value (tests, decoders). */
struct secret *secret_new(const char *value, size_t len);

/* The NUL-terminated value; valid until secret_free(). */
const char *secret_value(const struct secret *secret);
size_t secret_len(const struct secret *secret);

/* Wipes and frees; NULL is allowed. */
void secret_free(struct secret *secret);

#endif
