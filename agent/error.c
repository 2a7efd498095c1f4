/*
 * error.c - names and exit statuses of enum rs_err.
 */
#include <sysexits.h>

#include "error.h"

struct err_info {
	const char *name;
	int exit_status;
};

static const struct err_info err_table[] = {
	[RS_OK] = { "ok", 0 },
	[RS_ERR_USAGE] = { "usage", EX_USAGE },
	[RS_ERR_THRESHOLD] = { "threshold", EX_DATAERR },
	[RS_ERR_UNAVAILABLE] = { "unavailable", EX_UNAVAILABLE },
	[RS_ERR_INTERNAL] = { "internal", EX_SOFTWARE },
	[RS_ERR_IO] = { "io", EX_IOERR },
	[RS_ERR_TEMPFAIL] = { "temporary", EX_TEMPFAIL },
	[RS_ERR_PROTOCOL] = { "protocol", EX_PROTOCOL },
	[RS_ERR_PERMISSION] = { "permission", EX_NOPERM },
	[RS_ERR_CONFIG] = { "config", EX_CONFIG },
};

const char *err_name(enum rs_err err)
{
	if ((unsigned)err >= sizeof(err_table) / sizeof(err_table[0]))
		return "internal";
	return err_table[err].name;
}

int err_exit_status(enum rs_err err)
{
	if ((unsigned)err >= sizeof(err_table) / sizeof(err_table[0]))
		return EX_SOFTWARE;
	return err_table[err].exit_status;
}
