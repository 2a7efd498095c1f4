/*
 * cli.h - the command line: a table of subcommands parsed with getopt_long.
 */
#ifndef ROSTERSYNC_CLI_H
#define ROSTERSYNC_CLI_H

#include "error.h"

/* Runs the command in argv and returns its result; never exits. */
enum rs_err cli_main(int argc, char **argv);

#endif
