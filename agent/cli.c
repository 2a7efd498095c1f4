/*
 * cli.c - the subcommands of rostersync, their options and their output.
 */
#include <ctype.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sqlite3.h>

#include "check.h"
#include "cli.h"
#include "config.h"
#include "identity.h"
#include "log.h"
#include "report.h"
#include "roster.h"
#include "run.h"

/* Options of every command; each command accepts the ones its table row names. */
struct cli_args {
	const char *config_path;
	bool json;
	bool dry_run;
	bool take_over;
	const char *approve_id;
	const char *given_name;
	const char *family_name;
	const char *email;      /* the positional EMAIL of members add/remove/show */
	bool help;              /* -h printed the usage, so the command does not run */
};

struct cli_command {
	const char *name;
	enum rs_err (*handler)(const struct config *config, const struct cli_args *args);
	const char *usage;
	const char *options;    /* which long options are accepted, as a list of letters */
	bool needs_email;
};

enum {
	OPT_CONFIG = 'c',
	OPT_JSON = 'j',
	OPT_DRY_RUN = 'n',
	OPT_APPROVE = 'a',
	OPT_TAKE_OVER = 't',
	OPT_GIVEN = 'g',
	OPT_FAMILY = 'f',
	OPT_HELP = 'h',
};

static const struct option long_options[] = {
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
	{ "approve", required_argument, NULL, OPT_APPROVE },
	{ "take-over", no_argument, NULL, OPT_TAKE_OVER },
	{ "given-name", required_argument, NULL, OPT_GIVEN },
	{ "family-name", required_argument, NULL, OPT_FAMILY },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

static enum rs_err cmd_sync(const struct config *config, const struct cli_args *args);
static enum rs_err cmd_plan(const struct config *config, const struct cli_args *args);
static enum rs_err cmd_status(const struct config *config, const struct cli_args *args);
static enum rs_err cmd_members_list(const struct config *config, const struct cli_args *args);
static enum rs_err cmd_members_show(const struct config *config, const struct cli_args *args);
static enum rs_err cmd_members_add(const struct config *config, const struct cli_args *args);
static enum rs_err cmd_members_remove(const struct config *config, const struct cli_args *args);
static enum rs_err cmd_release(const struct config *config, const struct cli_args *args);
static enum rs_err cmd_test(const struct config *config, const struct cli_args *args);

static const struct cli_command commands[] = {
	{ "sync", cmd_sync, "sync -c FILE [--dry-run [--json]] [--approve PLAN_ID] [--take-over]",
	  "cjnat", false },
	{ "plan", cmd_plan, "plan -c FILE [--json]", "cj", false },
	{ "status", cmd_status, "status -c FILE [--json]", "cj", false },
	{ "members list", cmd_members_list, "members list -c FILE [--json]", "cj", false },
	{ "members show", cmd_members_show, "members show -c FILE EMAIL [--json]", "cj", true },
	{ "members add", cmd_members_add,
	  "members add -c FILE EMAIL [--given-name G] [--family-name F]", "cgf", true },
	{ "members remove", cmd_members_remove, "members remove -c FILE EMAIL", "c", true },
	{ "release", cmd_release, "release -c FILE", "c", false },
	{ "test", cmd_test, "test -c FILE", "c", false },
};

#define COMMAND_COUNT (sizeof(commands) / sizeof(commands[0]))

static void print_usage(FILE *out)
{
	fprintf(out, "usage: rostersync COMMAND [OPTIONS]\n\ncommands:\n");
	for (size_t i = 0; i < COMMAND_COUNT; i++)
		fprintf(out, "  rostersync %s\n", commands[i].usage);
	fprintf(out, "  rostersync version          (also --version)\n"
		"  rostersync help [COMMAND]   (help config-keys lists the config keys)\n\n"
		"  -c, --config FILE   the tenant's YAML config\n"
		"      --json          print JSON instead of a table\n"
		"      --dry-run       print the plan and change nothing\n"
		"      --approve ID    apply a plan that the deletion threshold stopped, once\n"
		"      --take-over     let the IdP manage a roster that was released\n\n"
		"Exit status: 0 ok, 64 usage, 65 deletion threshold, 69 IdP unavailable,\n"
		"70 internal error, 74 roster file error, 75 temporary failure,\n"
		"76 IdP answer not understood, 77 permission denied or roster managed,\n"
		"78 invalid config.\n"
		"See rostersync(8) and rostersync.yaml(5).\n");
}

static enum rs_err print_version(void)
{
	curl_version_info_data *curl = curl_version_info(CURLVERSION_NOW);

	printf("rostersync %s (libcurl %s, SQLite %s)\n", ROSTERSYNC_VERSION, curl->version,
	       sqlite3_libversion());
	return RS_OK;
}

/*
 * Prints the config key table, one key per line with tab-separated fields:
 * path, type, default ("-" when none), bounds ("-" when none) and
 * "required" or "optional".  The documentation tests read it, so that they
 * check the man page against the program itself.
 */
static enum rs_err print_config_keys(void)
{
	struct config_key_info key;

	for (size_t i = 0; config_key_describe(i, &key); i++) {
		char bounds[64] = "-";

		if (key.min != 0 || key.max != 0)
			snprintf(bounds, sizeof(bounds), "%ld..%ld", key.min, key.max);
		printf("%s\t%s\t%s\t%s\t%s\n", key.path, key.type,
		       key.default_text ? key.default_text : "-", bounds,
		       key.required ? "required" : "optional");
	}
	return RS_OK;
}

/* Finds the command named by argv[0] (and argv[1] for "members"). */
static const struct cli_command *find_command(int argc, char **argv, int *consumed)
{
	char name[64];

	*consumed = 1;
	snprintf(name, sizeof(name), "%s", argv[0]);
	if (strcmp(argv[0], "members") == 0) {
		if (argc < 2 || argv[1][0] == '-')
			return NULL;
		snprintf(name, sizeof(name), "members %s", argv[1]);
		*consumed = 2;
	}

	for (size_t i = 0; i < COMMAND_COUNT; i++) {
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	}
	return NULL;
}

static enum rs_err usage_error(const struct cli_command *command, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static enum rs_err usage_error(const struct cli_command *command, const char *fmt, ...)
{
	va_list args;

	fprintf(stderr, "rostersync: ");
	va_start(args, fmt);
	vfprintf(stderr, fmt, args);
	va_end(args);
	fprintf(stderr, "\nusage: rostersync %s\n", command->usage);
	return RS_ERR_USAGE;
}

/* Stores one option; RS_ERR_USAGE when the command does not take it. */
static enum rs_err store_option(const struct cli_command *command, int option,
				struct cli_args *args)
{
	if (!strchr(command->options, option))
		return RS_ERR_USAGE;

	switch (option) {
	case OPT_CONFIG: args->config_path = optarg; break;
	case OPT_JSON: args->json = true; break;
	case OPT_DRY_RUN: args->dry_run = true; break;
	case OPT_APPROVE: args->approve_id = optarg; break;
	case OPT_TAKE_OVER: args->take_over = true; break;
	case OPT_GIVEN: args->given_name = optarg; break;
	case OPT_FAMILY: args->family_name = optarg; break;
	default: return RS_ERR_USAGE;
	}
	return RS_OK;
}

/* Accepts 16 hex digits and lower-cases them in place. */
static bool plan_id_valid(const char *id)
{
	if (strlen(id) != 16)
		return false;
	for (char *p = (char *)id; *p; p++) {
		if (!isxdigit((unsigned char)*p))
			return false;
		*p = (char)tolower((unsigned char)*p);
	}
	return true;
}

static bool name_valid(const char *name)
{
	return !name || (strlen(name) <= IDENTITY_MAX_TEXT && identity_text_valid(name));
}

/* The long name of option, e.g. "config", for messages. */
static const char *option_name(int option)
{
	for (const struct option *o = long_options; o->name; o++) {
		if (o->val == option)
			return o->name;
	}
	return "?";
}

/* True when the long option that arg names ("--approve" or "--approve=x") takes a value. */
static bool takes_value(const char *arg)
{
	size_t len = strcspn(arg + 2, "=");

	for (const struct option *o = long_options; o->name; o++) {
		if (strlen(o->name) == len && strncmp(o->name, arg + 2, len) == 0)
			return o->has_arg == required_argument;
	}
	return false;
}

/* True when text is an option of rostersync ("--json", "--given-name=x", "-c"). */
static bool is_option(const char *text)
{
	if (strcmp(text, "-c") == 0 || strcmp(text, "-h") == 0)
		return true;
	if (strncmp(text, "--", 2) != 0)
		return false;
	for (const struct option *o = long_options; o->name; o++) {
		size_t len = strlen(o->name);

		if (strncmp(text + 2, o->name, len) == 0 &&
		    (text[2 + len] == '\0' || text[2 + len] == '='))
			return true;
	}
	return false;
}

/*
 * Reports the option that getopt_long() rejected.  last is the argument it
 * read last: the rejected long option, but for a short option inside a
 * group such as -jz, possibly the argument before it, so optopt names that
 * one.
 */
static enum rs_err option_error(const struct cli_command *command, const char *last)
{
	if (strncmp(last, "--", 2) == 0 && takes_value(last))
		return usage_error(command, "option %s needs a value", last);
	if (strncmp(last, "--", 2) == 0)
		return usage_error(command, "invalid option: %s", last);
	if (optopt == OPT_CONFIG)
		return usage_error(command, "option -c needs a value");
	if (optopt > 0 && optopt < 128 && isgraph(optopt))
		return usage_error(command, "invalid option: -%c", optopt);
	return usage_error(command, "invalid option: %s", last);
}

/* Prints the usage of every members command. */
static enum rs_err print_members_help(void)
{
	for (size_t i = 0; i < COMMAND_COUNT; i++) {
		if (strncmp(commands[i].name, "members ", 8) == 0)
			printf("usage: rostersync %s\n", commands[i].usage);
	}
	return RS_OK;
}

/* Prints the usage of the command that argv names ("sync", "members add"). */
static enum rs_err print_command_help(int argc, char **argv)
{
	int consumed = 0;
	const struct cli_command *command = find_command(argc, argv, &consumed);

	if (command && consumed != argc) {
		fprintf(stderr, "rostersync: help takes one command; remove \"%s\"\n",
			argv[consumed]);
		return RS_ERR_USAGE;
	}
	if (!command) {
		fprintf(stderr, "rostersync: no help for \"%s\"; the commands are sync, plan, "
			"status, members list, members show, members add, members remove, release "
			"and test, and \"help config-keys\" lists the config keys\n", argv[0]);
		return RS_ERR_USAGE;
	}
	printf("usage: rostersync %s\n", command->usage);
	return RS_OK;
}

static enum rs_err parse_options(const struct cli_command *command, int argc, char **argv,
				 struct cli_args *args)
{
	bool seen[128] = { false };
	int option;

	optind = 1;
	opterr = 0;
	while ((option = getopt_long(argc, argv, "c:h", long_options, NULL)) != -1) {
		if (option == OPT_HELP) {
			printf("usage: rostersync %s\n", command->usage);
			args->help = true;
			return RS_OK;
		}
		if (option == '?' || option == ':')
			return option_error(command, argv[optind - 1]);
		if (seen[option])
			return usage_error(command, "option --%s given twice; give it once",
					   option_name(option));
		seen[option] = true;
		if (optarg && is_option(optarg))
			return usage_error(command, "option --%s needs a value, but the next argument "
					   "is the option %s", option_name(option), optarg);
		if (optarg && !optarg[0])
			return usage_error(command, "option --%s needs a value, not an empty string",
					   option_name(option));
		if (store_option(command, option, args) != RS_OK)
			return usage_error(command, "option not accepted by this command: --%s",
					   option_name(option));
	}

	if (command->needs_email && optind < argc)
		args->email = argv[optind++];
	if (args->approve_id && args->approve_id[0] == '-')
		return usage_error(command, "--approve needs a plan id, not \"%s\": give the 16 hex"
				   " digits that the blocked sync printed", args->approve_id);
	if (optind < argc)
		return usage_error(command, "unexpected argument: %s", argv[optind]);
	if (command->needs_email && (!args->email || !args->email[0]))
		return usage_error(command, "missing EMAIL");
	if (!args->config_path)
		return usage_error(command, "missing -c FILE (the tenant's config)");
	if (args->approve_id && !plan_id_valid(args->approve_id))
		return usage_error(command, "invalid plan id \"%s\": use the 16 hex digits that "
				   "the blocked sync printed", args->approve_id);
	if (!name_valid(args->given_name) || !name_valid(args->family_name))
		return usage_error(command, "invalid value of --%s: use at most %d bytes of UTF-8 "
				   "text without control characters",
				   name_valid(args->given_name) ? "family-name" : "given-name",
				   IDENTITY_MAX_TEXT);
	if (args->approve_id && args->dry_run)
		return usage_error(command, "--approve and --dry-run exclude each other");
	if (args->json && strcmp(command->name, "sync") == 0 && !args->dry_run)
		return usage_error(command, "--json needs --dry-run");
	return RS_OK;
}

static enum rs_err run_command(const struct cli_command *command, const struct cli_args *args)
{
	struct config *config = NULL;
	enum rs_err err = config_load(args->config_path, &config);

	if (err != RS_OK)
		return err;

	log_configure(config->log.level, config->log.format);
	log_set_tenant(config->tenant);
	err = command->handler(config, args);
	config_free(config);
	return err;
}

enum rs_err cli_main(int argc, char **argv)
{
	const struct cli_command *command;
	struct cli_args args = { 0 };
	int consumed;
	enum rs_err err;

	if (argc < 2) {
		print_usage(stderr);
		return RS_ERR_USAGE;
	}
	if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
		if (argc == 3 && (strcmp(argv[2], "-h") == 0 || strcmp(argv[2], "--help") == 0)) {
			printf("usage: rostersync version\n");
			return RS_OK;
		}
		if (argc > 2) {
			fprintf(stderr, "rostersync: version takes no options or arguments: %s\n",
				argv[2]);
			return RS_ERR_USAGE;
		}
		return print_version();
	}
	if (strcmp(argv[1], "help") == 0 && argc >= 3 && strcmp(argv[2], "config-keys") == 0) {
		if (argc == 3)
			return print_config_keys();
		fprintf(stderr, "rostersync: help config-keys takes no arguments; remove \"%s\"\n",
			argv[3]);
		return RS_ERR_USAGE;
	}
	if (strcmp(argv[1], "help") == 0 && argc == 3 &&
	    (strcmp(argv[2], "-h") == 0 || strcmp(argv[2], "--help") == 0)) {
		print_usage(stdout);
		return RS_OK;
	}
	if (strcmp(argv[1], "help") == 0 && argc == 3 && strcmp(argv[2], "members") == 0)
		return print_members_help();
	if (strcmp(argv[1], "help") == 0 && argc > 2)
		return print_command_help(argc - 2, argv + 2);
	if (strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		print_usage(stdout);
		return RS_OK;
	}

	if (strcmp(argv[1], "members") == 0 && argc == 3 &&
	    (strcmp(argv[2], "--help") == 0 || strcmp(argv[2], "-h") == 0)) {
		print_usage(stdout);
		return RS_OK;
	}
	if (strcmp(argv[1], "members") == 0 && (argc < 3 || argv[2][0] == '-')) {
		fprintf(stderr, "rostersync: missing members subcommand: list, show, add or remove\n");
		print_usage(stderr);
		return RS_ERR_USAGE;
	}

	command = find_command(argc - 1, argv + 1, &consumed);
	if (!command) {
		fprintf(stderr, "rostersync: unknown command: %s%s%s\n", argv[1],
			argc > 2 && strcmp(argv[1], "members") == 0 ? " " : "",
			argc > 2 && strcmp(argv[1], "members") == 0 ? argv[2] : "");
		print_usage(stderr);
		return RS_ERR_USAGE;
	}

	err = parse_options(command, argc - consumed, argv + consumed, &args);
	if (err != RS_OK || args.help)
		return err;
	return run_command(command, &args);
}

/* Commands. */

static enum rs_err cmd_sync(const struct config *config, const struct cli_args *args)
{
	struct run_options options = {
		.dry_run = args->dry_run,
		.take_over = args->take_over,
		.approve_id = args->approve_id,
		.output = args->json ? RUN_OUTPUT_JSON : RUN_OUTPUT_TABLE,
	};

	return run_sync(config, &options);
}

static enum rs_err cmd_plan(const struct config *config, const struct cli_args *args)
{
	struct run_options options = {
		.dry_run = true,
		.output = args->json ? RUN_OUTPUT_JSON : RUN_OUTPUT_TABLE,
	};

	return run_sync(config, &options);
}

/* Opens the roster and reads its team row; the caller closes both. */
static enum rs_err open_roster(const struct config *config, struct roster **roster,
			       struct roster_team *team)
{
	enum rs_err err;

	memset(team, 0, sizeof(*team));
	err = roster_open(config->roster.path, roster);
	if (err == RS_OK)
		err = roster_team_get(*roster, team);
	return err;
}

/* How many runs and reverted manual changes status shows. */
#define STATUS_RUNS 5
#define STATUS_DRIFTS 10

/* Fails when the roster file does not exist, for commands that must not create it. */
static enum rs_err require_roster(const struct config *config)
{
	if (access(config->roster.path, F_OK) == 0)
		return RS_OK;
	log_msg(LOG_ERROR, "the roster %s does not exist yet: check roster.path in %s, "
		"or run \"rostersync sync -c %s\" first", config->roster.path, config->path,
		config->path);
	return RS_ERR_IO;
}

/* Opens an existing roster for reading commands; a missing file is an error, not created. */
static enum rs_err open_existing_roster(const struct config *config, struct roster **roster,
					struct roster_team *team)
{
	enum rs_err err = require_roster(config);

	memset(team, 0, sizeof(*team));
	if (err != RS_OK)
		return err;
	return open_roster(config, roster, team);
}

static enum rs_err load_status(const struct config *config, struct roster *roster,
			       struct report_status *status, struct roster_run **runs,
			       struct roster_drift **drifts, char **blocked, char **detail)
{
	enum rs_err err = roster_runs_recent(roster, STATUS_RUNS, runs, &status->run_count);

	if (err == RS_OK)
		err = roster_state_get(roster, ROSTER_STATE_BLOCKED_PLAN, blocked);
	if (err == RS_OK)
		err = roster_state_get(roster, ROSTER_STATE_BLOCKED_DETAIL, detail);
	if (err == RS_OK)
		err = roster_drifts_recent(roster, STATUS_DRIFTS, drifts, &status->drift_count);

	status->tenant = config->tenant;
	status->source = config_source_name(config->source);
	status->team_name = config->team.name;
	status->runs = *runs;
	status->blocked_plan_id = *blocked && (*blocked)[0] ? *blocked : NULL;
	status->blocked_detail = *detail;
	status->drifts = *drifts;
	status->seats = config->team.seats;
	status->now = time(NULL);
	status->lock_held = run_lock_held(config);
	status->agent_write_left = status->team->source && roster_agent_write_left(roster);
	return err;
}

static enum rs_err cmd_status(const struct config *config, const struct cli_args *args)
{
	struct roster *roster = NULL;
	struct roster_team team;
	struct member_list members;
	struct roster_run *runs = NULL;
	struct roster_drift *drifts = NULL;
	struct report_status status = { .team = &team, .members = &members };
	char *blocked = NULL, *detail = NULL;
	enum rs_err err = open_existing_roster(config, &roster, &team);

	member_list_init(&members);
	if (err == RS_OK)
		err = roster_snapshot(roster, config_source_name(config->source), &members, NULL, NULL);
	if (err == RS_OK)
		err = load_status(config, roster, &status, &runs, &drifts, &blocked, &detail);

	if (err == RS_OK && args->json)
		err = report_status_json(stdout, &status);
	else if (err == RS_OK)
		report_status_table(stdout, &status);

	for (size_t i = 0; i < status.run_count; i++)
		roster_run_release(&runs[i]);
	free(runs);
	roster_drifts_free(drifts, status.drift_count);
	free(blocked);
	free(detail);
	member_list_release(&members);
	roster_team_release(&team);
	roster_close(roster);
	return err;
}

static enum rs_err list_members(const struct config *config, const char *email, bool json)
{
	struct roster *roster = NULL;
	struct roster_team team;
	struct member_list members, shown;
	enum rs_err err = open_existing_roster(config, &roster, &team);

	member_list_init(&members);
	member_list_init(&shown);
	if (err == RS_OK)
		err = roster_snapshot(roster, config_source_name(config->source), &members, NULL, NULL);

	for (size_t i = 0; err == RS_OK && i < members.count; i++) {
		const struct member *m = &members.items[i];

		if (email && (!m->email || identity_email_compare(m->email, email) != 0))
			continue;
		if (!member_list_add(&shown, m))
			err = RS_ERR_INTERNAL;
	}

	if (err == RS_OK && email && shown.count == 0) {
		log_msg(LOG_ERROR, "no member with email %s in the roster %s", email,
			config->roster.path);
		/* An empty array, so that a script parses the output of every run. */
		if (json)
			report_members_json(stdout, &shown);
		err = RS_ERR_USAGE;
	} else if (err == RS_OK && json) {
		err = report_members_json(stdout, &shown);
	} else if (err == RS_OK && email) {
		for (size_t i = 0; i < shown.count; i++) {
			if (i > 0)
				putchar('\n');
			report_member_detail(stdout, &shown.items[i]);
		}
	} else if (err == RS_OK) {
		report_members_table(stdout, &shown);
	}

	member_list_release(&shown);
	member_list_release(&members);
	roster_team_release(&team);
	roster_close(roster);
	return err;
}

static enum rs_err cmd_members_list(const struct config *config, const struct cli_args *args)
{
	return list_members(config, NULL, args->json);
}

static enum rs_err cmd_members_show(const struct config *config, const struct cli_args *args)
{
	return list_members(config, args->email, args->json);
}

/* Explains that a managed roster changes only in the IdP. */
static enum rs_err refuse_managed(const struct config *config, const struct roster_team *team,
				  const char *what)
{
	const char *title = strcmp(team->source, "graph") == 0 ? "Microsoft Entra ID" : "Okta";

	log_msg(LOG_ERROR,
		"cannot %s: the roster of team %s is managed by %s (app %s at %s); "
		"change the app assignment in %s instead, or run \"rostersync release -c %s\" "
		"to manage the roster by hand",
		what, team->name ? team->name : config->team.name, title, team->app ? team->app : "?",
		team->org ? team->org : "?", title, config->path);
	return RS_ERR_PERMISSION;
}

/*
 * Explains that the team row no longer names the IdP that took the roster
 * over, while no release was recorded: another program changed it.
 */
static enum rs_err refuse_changed_team(const struct config *config, const char *what)
{
	log_msg(LOG_ERROR, "cannot %s: the roster's team row names no IdP, but an IdP took the "
		"roster over and it was never released, so the team row was changed outside "
		"rostersync; run \"rostersync sync -c %s --take-over\" to let the IdP manage it "
		"again, and then \"rostersync release -c %s\" to manage it by hand", what,
		config->path, config->path);
	return RS_ERR_PERMISSION;
}

/*
 * Returns a copy of a name typed on the command line without the
 * bidirectional overrides that the IdP's names lose too (NULL stays NULL).
 * Sets *failed when out of memory.
 */
static char *clean_name(const char *name, bool *failed)
{
	char *copy = name ? strdup(name) : NULL;

	if (name && !copy)
		*failed = true;
	if (copy)
		identity_text_blank_controls(copy);
	return copy;
}

static enum rs_err add_member(const struct config *config, const struct cli_args *args,
			      struct roster *roster, const char *run_id)
{
	bool failed = false;
	struct member member = {
		.source = "manual", .email = (char *)args->email,
		.given_name = clean_name(args->given_name, &failed),
		.family_name = clean_name(args->family_name, &failed),
	};
	enum member_state state = MEMBER_ACTIVE;
	enum rs_err err = failed ? RS_ERR_INTERNAL : RS_OK;

	if (err == RS_OK && !identity_email_valid(args->email)) {
		log_msg(LOG_ERROR, "invalid email address: %s: %s; give the member's address as "
			"user@example.com", args->email, identity_email_problem(args->email));
		err = RS_ERR_USAGE;
	}
	if (err == RS_OK)
		err = roster_member_add(roster, run_id, &member, config->team.seats, time(NULL),
					&state);
	if (err == RS_OK)
		printf("%s added as %s\n", args->email, member_state_name(state));
	free(member.given_name);
	free(member.family_name);
	return err;
}

static enum rs_err remove_member(const struct config *config, const struct cli_args *args,
				 struct roster *roster, const char *run_id)
{
	bool changed = false;
	enum rs_err err = roster_member_remove(roster, run_id, args->email, config->team.seats,
					       time(NULL), &changed);

	if (err == RS_OK && changed)
		printf("%s unassigned\n", args->email);
	else if (err == RS_OK)
		printf("%s was unassigned already; nothing changed\n", args->email);
	return err;
}

static enum rs_err release_roster(const struct roster_team *team, struct roster *roster,
				  const char *run_id)
{
	enum rs_err err;

	if (!team->source && team->released_at > 0) {
		printf("the roster was already released and is managed by hand; nothing "
		       "changed\n");
		return RS_OK;
	}
	if (!team->source) {
		printf("no IdP has managed this roster yet, so there is nothing to release; "
		       "\"members add\" and \"members remove\" work as it is\n");
		return RS_OK;
	}
	err = roster_release(roster, run_id, time(NULL));
	if (err == RS_OK)
		printf("the roster is now managed by hand; \"rostersync sync\" refuses until it "
		       "runs once with --take-over\n");
	return err;
}

/*
 * Runs one manual roster change as an audited run: opens the roster,
 * refuses when a source manages it, records the run.
 */
static enum rs_err manual_change(const struct config *config, const struct cli_args *args,
				 const char *command)
{
	struct roster *roster = NULL;
	struct roster_team team;
	char run_id[64], what[320], error[LOG_FIRST_ERROR_MAX + 64];
	int64_t last_event = 0;
	int lock_fd = -1;
	/*
	 * Only members add may create the roster.  A release or a removal from
	 * a roster that does not exist (roster.path mistyped) would only leave
	 * an empty file and a lock.
	 */
	bool existing = strcmp(command, "members add") != 0;
	enum rs_err err = existing ? require_roster(config) : RS_OK;
	struct roster_run record = { .id = run_id, .command = (char *)command, .source = "manual" };

	memset(&team, 0, sizeof(team));
	if (err == RS_OK)
		err = run_lock(config, &lock_fd);
	if (err == RS_OK && existing)
		err = open_existing_roster(config, &roster, &team);
	else if (err == RS_OK)
		err = open_roster(config, &roster, &team);
	run_new_id(run_id, sizeof(run_id));
	snprintf(what, sizeof(what), "%s %s", strcmp(command, "members add") == 0 ? "add" : "remove",
		 args->email ? args->email : "");
	if (err == RS_OK && team.source && strcmp(command, "release") != 0)
		err = refuse_managed(config, &team, what);
	if (err == RS_OK && !team.source && !team.released_at && team.managed_before &&
	    strcmp(command, "release") != 0)
		err = refuse_changed_team(config, what);
	if (err == RS_OK)
		err = roster_run_start(roster, run_id, command, "manual", time(NULL));
	if (err == RS_OK)
		err = roster_last_event_id(roster, &last_event);
	if (err != RS_OK)
		goto out;

	if (strcmp(command, "members add") == 0)
		err = add_member(config, args, roster, run_id);
	else if (strcmp(command, "members remove") == 0)
		err = remove_member(config, args, roster, run_id);
	else
		err = release_roster(&team, roster, run_id);

	if (err == RS_OK)
		roster_run_count_events(roster, run_id, last_event, record.counts);
	record.finished_at = time(NULL);
	record.outcome = err == RS_OK ? "success" : "failed";
	record.exit_status = err_exit_status(err);
	record.error = (char *)run_error_text(err, error, sizeof(error));
	roster_run_finish(roster, &record);
out:
	roster_team_release(&team);
	roster_close(roster);
	if (lock_fd >= 0)
		close(lock_fd);
	return err;
}

static enum rs_err cmd_members_add(const struct config *config, const struct cli_args *args)
{
	return manual_change(config, args, "members add");
}

static enum rs_err cmd_members_remove(const struct config *config, const struct cli_args *args)
{
	return manual_change(config, args, "members remove");
}

static enum rs_err cmd_release(const struct config *config, const struct cli_args *args)
{
	return manual_change(config, args, "release");
}

/* Checks the connection and permissions, like an IdP's "test connector" button. */
static enum rs_err cmd_test(const struct config *config, const struct cli_args *args)
{
	(void)args;
	return check_run(config, stdout);
}
