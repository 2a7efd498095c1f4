/*
 * test_secret.c - reading secrets from files, environment variables and
 * systemd credentials, with the file checks of secret.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit.h"
#include "capture.h"
#include "log.h"
#include "secret.h"

/* Writes len bytes into a new file under /tmp with mode; path gets its name. */
static void write_temp(char *path, const char *bytes, size_t len, mode_t mode)
{
	int fd;

	strcpy(path, "/tmp/rostersync-test-secret-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, bytes, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

/* Reads path and returns the result; *log gets what was logged. */
static enum rs_err read_file_logged(const char *path, struct secret **out, char **log)
{
	struct capture capture;
	enum rs_err err;

	capture_start(&capture);
	err = secret_from_file(path, out);
	*log = capture_stop(&capture);
	return err;
}

static void assert_file_value(const char *content, const char *expected)
{
	struct secret *secret = NULL;
	char path[64];
	char *log;

	write_temp(path, content, strlen(content), 0600);
	assert_int_equal(read_file_logged(path, &secret, &log), RS_OK);
	assert_non_null(secret);
	assert_string_equal(secret_value(secret), expected);
	assert_int_equal(secret_len(secret), strlen(expected));
	assert_string_equal(log, "");
	secret_free(secret);
	free(log);
	unlink(path);
}

static void test_file_drops_trailing_newline(void **state)
{
	(void)state;
	assert_file_value("token123\n", "token123");
	assert_file_value("token123\r\n", "token123");
	assert_file_value("token123", "token123");
}

static void test_file_drops_only_one_newline(void **state)
{
	(void)state;
	assert_file_value("token123\n\n", "token123\n");
	assert_file_value("line1\nline2\n", "line1\nline2");
}

static void assert_file_rejected(const char *path, const char *reason)
{
	struct secret *secret = (struct secret *)1;
	char *log;

	assert_int_equal(read_file_logged(path, &secret, &log), RS_ERR_CONFIG);
	assert_null(secret);
	if (strstr(log, path) == NULL || strstr(log, reason) == NULL)
		fail_msg("expected the path and \"%s\" in: %s", reason, log);
	free(log);
}

static void test_empty_file_rejected(void **state)
{
	char path[64];

	(void)state;
	write_temp(path, "", 0, 0600);
	assert_file_rejected(path, "is empty");
	unlink(path);

	write_temp(path, "\n", 1, 0600);
	assert_file_rejected(path, "is empty");
	unlink(path);

	write_temp(path, "\r\n", 2, 0600);
	assert_file_rejected(path, "is empty");
	unlink(path);
}

static void test_symlink_rejected(void **state)
{
	char target[64];
	char link[80];

	(void)state;
	write_temp(target, "token\n", 6, 0600);
	snprintf(link, sizeof(link), "%s.link", target);
	assert_int_equal(symlink(target, link), 0);

	assert_file_rejected(link, "symbolic link");

	unlink(link);
	unlink(target);
}

static void test_oversize_file_rejected(void **state)
{
	size_t limit = 64 * 1024;
	char *big = malloc(limit + 1);
	struct secret *secret = NULL;
	char path[64];
	char *log;

	(void)state;
	assert_non_null(big);
	memset(big, 'a', limit + 1);
	write_temp(path, big, limit + 1, 0600);
	assert_file_rejected(path, "larger than 65536 bytes");
	unlink(path);

	/* Exactly the limit is still accepted. */
	write_temp(path, big, limit, 0600);
	assert_int_equal(read_file_logged(path, &secret, &log), RS_OK);
	assert_int_equal(secret_len(secret), limit);
	secret_free(secret);
	free(log);
	unlink(path);
	free(big);
}

static void test_missing_file_rejected(void **state)
{
	(void)state;
	assert_file_rejected("/tmp/rostersync-test-no-such-secret", "No such file");
}

static void test_directory_rejected(void **state)
{
	(void)state;
	assert_file_rejected("/tmp", "not a regular file");
}

static void test_group_readable_file_warns(void **state)
{
	struct secret *secret = NULL;
	char expected[256];
	char path[64];
	char *log;

	(void)state;
	write_temp(path, "token\n", 6, 0644);
	assert_int_equal(read_file_logged(path, &secret, &log), RS_OK);
	assert_non_null(secret);
	snprintf(expected, sizeof(expected), "warn: secret file %s is readable by group or others "
		 "(mode 0644): run chmod 600 %s\n", path, path);
	assert_non_null(strstr(log, expected));
	assert_null(strstr(log, "token"));
	secret_free(secret);
	free(log);
	unlink(path);
}

static void test_owner_only_file_is_quiet(void **state)
{
	struct secret *secret = NULL;
	char path[64];
	char *log;

	(void)state;
	write_temp(path, "token\n", 6, 0400);
	assert_int_equal(read_file_logged(path, &secret, &log), RS_OK);
	assert_string_equal(log, "");
	secret_free(secret);
	free(log);
	unlink(path);
}

static void test_env_secret_read(void **state)
{
	struct secret *secret = NULL;

	(void)state;
	setenv("ROSTERSYNC_TEST_SECRET", "s3cr3t", 1);
	assert_int_equal(secret_from_env("ROSTERSYNC_TEST_SECRET", &secret), RS_OK);
	assert_string_equal(secret_value(secret), "s3cr3t");
	secret_free(secret);
	unsetenv("ROSTERSYNC_TEST_SECRET");
}

static void test_env_unset_or_empty_rejected(void **state)
{
	struct secret *secret = NULL;
	struct capture capture;
	char *log;

	(void)state;
	unsetenv("ROSTERSYNC_TEST_SECRET");
	capture_start(&capture);
	assert_int_equal(secret_from_env("ROSTERSYNC_TEST_SECRET", &secret), RS_ERR_CONFIG);
	log = capture_stop(&capture);
	assert_null(secret);
	assert_non_null(strstr(log, "environment variable ROSTERSYNC_TEST_SECRET is not set"));
	free(log);

	setenv("ROSTERSYNC_TEST_SECRET", "", 1);
	capture_start(&capture);
	assert_int_equal(secret_from_env("ROSTERSYNC_TEST_SECRET", &secret), RS_ERR_CONFIG);
	log = capture_stop(&capture);
	assert_null(secret);
	assert_non_null(strstr(log, "environment variable ROSTERSYNC_TEST_SECRET is empty"));
	free(log);
	unsetenv("ROSTERSYNC_TEST_SECRET");
}

static void test_credentials_read_when_present(void **state)
{
	char dir[] = "/tmp/rostersync-test-creds-XXXXXX";
	char path[128];
	char link[128];
	struct secret *secret = (struct secret *)1;
	struct capture capture;
	FILE *file;
	char *log;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/acme.token", dir);
	file = fopen(path, "w");
	assert_non_null(file);
	fputs("from-systemd\n", file);
	fclose(file);
	chmod(path, 0440);
	setenv("CREDENTIALS_DIRECTORY", dir, 1);

	/* The mode is not reported: systemd guards the directory. */
	capture_start(&capture);
	assert_int_equal(secret_from_credentials("acme.token", &secret), RS_OK);
	log = capture_stop(&capture);
	assert_non_null(secret);
	assert_string_equal(secret_value(secret), "from-systemd");
	assert_string_equal(log, "");
	secret_free(secret);
	free(log);

	/* A credential that is not there is not an error. */
	secret = (struct secret *)1;
	assert_int_equal(secret_from_credentials("other.token", &secret), RS_OK);
	assert_null(secret);

	/* A symbolic link is refused with advice for the unit, not the config. */
	snprintf(link, sizeof(link), "%s/linked.token", dir);
	assert_int_equal(symlink(path, link), 0);
	capture_start(&capture);
	assert_int_equal(secret_from_credentials("linked.token", &secret), RS_ERR_CONFIG);
	log = capture_stop(&capture);
	assert_non_null(strstr(log, "systemd credential"));
	assert_non_null(strstr(log, "LoadCredential="));
	free(log);

	unsetenv("CREDENTIALS_DIRECTORY");
	unlink(link);
	unlink(path);
	rmdir(dir);
}

static void test_credentials_absent_without_directory(void **state)
{
	struct secret *secret = (struct secret *)1;

	(void)state;
	unsetenv("CREDENTIALS_DIRECTORY");
	assert_int_equal(secret_from_credentials("acme.token", &secret), RS_OK);
	assert_null(secret);
}

static void test_credential_name_with_slash_rejected(void **state)
{
	struct secret *secret = (struct secret *)1;
	struct capture capture;
	char *log;

	(void)state;
	setenv("CREDENTIALS_DIRECTORY", "/tmp", 1);
	capture_start(&capture);
	assert_int_equal(secret_from_credentials("../etc/passwd", &secret), RS_ERR_CONFIG);
	log = capture_stop(&capture);
	assert_null(secret);
	assert_non_null(strstr(log, "invalid systemd credential name"));
	free(log);
	unsetenv("CREDENTIALS_DIRECTORY");
}

static void test_new_secret_keeps_binary_bytes(void **state)
{
	struct secret *secret = secret_new("a\0b", 3);

	(void)state;
	assert_non_null(secret);
	assert_int_equal(secret_len(secret), 3);
	assert_memory_equal(secret_value(secret), "a\0b", 4);
	secret_free(secret);
	secret_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file_drops_trailing_newline),
		cmocka_unit_test(test_file_drops_only_one_newline),
		cmocka_unit_test(test_empty_file_rejected),
		cmocka_unit_test(test_symlink_rejected),
		cmocka_unit_test(test_oversize_file_rejected),
		cmocka_unit_test(test_missing_file_rejected),
		cmocka_unit_test(test_directory_rejected),
		cmocka_unit_test(test_group_readable_file_warns),
		cmocka_unit_test(test_owner_only_file_is_quiet),
		cmocka_unit_test(test_env_secret_read),
		cmocka_unit_test(test_env_unset_or_empty_rejected),
		cmocka_unit_test(test_credentials_read_when_present),
		cmocka_unit_test(test_credentials_absent_without_directory),
		cmocka_unit_test(test_credential_name_with_slash_rejected),
		cmocka_unit_test(test_new_secret_keeps_binary_bytes),
	};

	log_configure(LOG_INFO, LOG_FORMAT_TEXT);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
