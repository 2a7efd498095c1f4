/*
 * fuzz_config.c - config_load() on arbitrary YAML.  config_load() reads a
 * path, so each input is written to one private temporary file (mode 0600,
 * so the mode check passes) that is truncated and rewritten every time.
 * A config that loads must keep the documented bounds.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "fuzz.h"

static char config_path[64];
static int config_fd = -1;

static void open_config_file(void)
{
	const char *dir = getenv("TMPDIR");

	snprintf(config_path, sizeof(config_path), "%s/fuzz_config.XXXXXX.yaml",
		 dir && strlen(dir) < 32 ? dir : "/tmp");
	config_fd = mkstemps(config_path, 5);
	if (config_fd < 0)
		abort();
}

static void write_input(const uint8_t *data, size_t size)
{
	size_t done = 0;

	if (ftruncate(config_fd, 0) != 0)
		abort();
	while (done < size) {
		ssize_t n = pwrite(config_fd, data + done, size - done, (off_t)done);

		if (n <= 0)
			abort();
		done += (size_t)n;
	}
}

static void check_bounds(const struct config *config)
{
	if (!config->tenant || config->tenant[0] == '\0' || strlen(config->tenant) > 64)
		abort();
	if (config->team.seats < 1 || config->team.seats > 10000000)
		abort();
	if (config->sync.max_unassign < 0 || config->sync.max_unassign_percent < 0 ||
	    config->sync.max_unassign_percent > 100)
		abort();
	if (config->http.timeout < 1 || config->http.timeout > 3600 ||
	    config->http.max_retries < 0 || config->http.max_retries > 100 ||
	    config->http.max_wait < 1 || config->http.max_wait > 3600)
		abort();
	if (!config->roster.path || config->roster.path[0] == '\0')
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *config = NULL;

	if (config_fd < 0)
		open_config_file();
	write_input(data, size);
	if (config_load(config_path, &config) == RS_OK) {
		if (!config)
			abort();
		check_bounds(config);
	} else if (config) {
		abort();
	}
	config_free(config);
	return 0;
}
