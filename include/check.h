/*
 * check.h - `rostersync test`: checks, like an IdP's "test connector"
 * button, that a sync of config's source could run, without reading the
 * whole assignment list or touching the roster.
 *
 * For Okta: the credential, the app (GET /api/v1/apps/{appId}), one page of
 * app users and of app groups, and one group's members.  For Microsoft
 * Graph: the credential, an access token, the enterprise app's service
 * principal (with a warning when assignment is not required), one page of
 * its app role assignments, one group's members and one user.  Each check
 * prints one line: "ok   what: detail", "warn what: detail", "skip what:
 * detail" or "FAIL what: detail".  After a rejected permission the checks
 * that do not depend on it still run, so that one test names every missing
 * permission.
 */
#ifndef ROSTERSYNC_CHECK_H
#define ROSTERSYNC_CHECK_H

#include <stdio.h>
#include "config.h"
#include "error.h"

/*
 * Runs the checks of config's source and prints their lines to out.
 * Returns RS_OK when a sync could run, else the error of the first failed
 * check: RS_ERR_PERMISSION for rejected credentials or a missing
 * permission, RS_ERR_CONFIG for a wrong app id or unreadable secret,
 * RS_ERR_UNAVAILABLE when the IdP cannot be reached or, as in a sync, an
 * assigned Graph group was not found.
 */
enum rs_err check_run(const struct config *config, FILE *out);

#endif
