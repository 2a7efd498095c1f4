/*
 * main.c - command line, start and stop of fakeidp.
 *
 * fakeidp listens on 127.0.0.1 only and runs until SIGTERM or SIGINT.  The
 * signals are blocked before any thread starts and taken with sigwait(), so
 * no handler runs inside libmicrohttpd's threads.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "fakeidp.h"

#define EXIT_USAGE 64
#define DEFAULT_SYNTHETIC_GROUPS 50
#define MAX_REPLAY_FILES 64

struct options {
	long port;
	const char *port_file;
	const char *data;
	long synthetic;
	long groups;
	bool groups_given;
	long churn;
	bool churn_given;
	struct replay_file replay[MAX_REPLAY_FILES];
	size_t replay_count;
	const char *log;
	long latency_ms;
	bool help;
};

static const char usage_text[] =
	"usage: fakeidp [--port N] [--port-file FILE]\n"
	"               [--data FILE | --synthetic N [--groups G] [--churn PERCENT]]\n"
	"               [--replay FILE [--replay-status N --replay-path PREFIX]]\n"
	"               [--log FILE] [--latency-ms N]\n"
	"\n"
	"A fake Okta Management API and Microsoft Graph (paths under /v1.0/) for\n"
	"tests.  Listens on 127.0.0.1 only and runs until SIGTERM or SIGINT.\n"
	"\n"
	"  --port N            TCP port; 0 (the default) picks a free one\n"
	"  --port-file FILE    write the port and a newline to FILE once listening\n"
	"  --data FILE         dataset JSON, reloaded whenever the file changes; with\n"
	"                      --synthetic or --replay it contains only settings\n"
	"  --synthetic N       serve N generated users\n"
	"  --groups G          generated groups for --synthetic (default 50)\n"
	"  --churn PERCENT     unassign, rename and add that percent of the --synthetic\n"
	"                      users, a third each (0 to 100, default 0)\n"
	"  --replay FILE       serve recorded exchanges (*.exchange.json) or a body-only\n"
	"                      file; may be given several times\n"
	"  --replay-status N   HTTP status for the body-only file before it (default 200)\n"
	"  --replay-path P     serve the body-only file before it at paths starting with P\n"
	"  --log FILE          append one JSON line per request to FILE\n"
	"  --latency-ms N      hold every response N milliseconds\n";

static bool parse_long(const char *text, long min, long max, long *out)
{
	char *end;
	long value;

	errno = 0;
	value = strtol(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || value < min || value > max)
		return false;
	*out = value;
	return true;
}

static int usage_error(const char *fmt, const char *value)
{
	fputs("fakeidp: ", stderr);
	fprintf(stderr, fmt, value);
	fputs("\n(see fakeidp --help)\n", stderr);
	return EXIT_USAGE;
}

/* Sets --replay-status or --replay-path of the last --replay file. */
static int apply_replay_option(struct options *opt, int c, const char *arg)
{
	struct replay_file *file;
	long status;

	if (opt->replay_count == 0)
		return usage_error("%s", "--replay-status and --replay-path must follow --replay FILE");
	file = &opt->replay[opt->replay_count - 1];
	if (c == 'P') {
		file->body_path = arg;
		return 0;
	}
	if (!parse_long(arg, 100, 599, &status))
		return usage_error("--replay-status: invalid status %s (100 to 599)", arg);
	file->body_status = (unsigned int)status;
	return 0;
}

/* Applies one option; returns 0, or the exit status for a usage error. */
static int apply_option(struct options *opt, int c, const char *arg)
{
	switch (c) {
	case 'p':
		return parse_long(arg, 0, 65535, &opt->port) ? 0 :
		       usage_error("--port: invalid port %s (0 to 65535)", arg);
	case 'f': opt->port_file = arg; return 0;
	case 'd': opt->data = arg; return 0;
	case 's':
		return parse_long(arg, 1, 100000000, &opt->synthetic) ? 0 :
		       usage_error("--synthetic: invalid user count %s (1 to 100000000)", arg);
	case 'g':
		opt->groups_given = true;
		return parse_long(arg, 0, 1000000, &opt->groups) ? 0 :
		       usage_error("--groups: invalid group count %s (0 to 1000000)", arg);
	case 'c':
		opt->churn_given = true;
		return parse_long(arg, 0, 100, &opt->churn) ? 0 :
		       usage_error("--churn: invalid percent %s (0 to 100)", arg);
	case 'r':
		if (opt->replay_count == MAX_REPLAY_FILES)
			return usage_error("--replay: at most 64 files are allowed, %s is one too many", arg);
		opt->replay[opt->replay_count++].name = arg;
		return 0;
	case 'S':
	case 'P':
		return apply_replay_option(opt, c, arg);
	case 'l': opt->log = arg; return 0;
	case 'L':
		return parse_long(arg, 0, 3600000, &opt->latency_ms) ? 0 :
		       usage_error("--latency-ms: invalid delay %s (0 to 3600000)", arg);
	default:
		return usage_error("%s", "invalid option");
	}
}

static int check_options(const struct options *opt)
{
	if (opt->synthetic > 0 && opt->replay_count > 0)
		return usage_error("%s", "--synthetic and --replay cannot be combined");
	if (opt->groups_given && opt->synthetic == 0)
		return usage_error("%s", "--groups needs --synthetic");
	if (opt->churn_given && opt->synthetic == 0)
		return usage_error("%s", "--churn needs --synthetic");
	if (opt->data == NULL && opt->synthetic == 0 && opt->replay_count == 0)
		return usage_error("%s", "one of --data, --synthetic or --replay is required");
	return 0;
}

static int parse_options(int argc, char **argv, struct options *opt)
{
	static const struct option longopts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "port-file", required_argument, NULL, 'f' },
		{ "data", required_argument, NULL, 'd' },
		{ "synthetic", required_argument, NULL, 's' },
		{ "groups", required_argument, NULL, 'g' },
		{ "churn", required_argument, NULL, 'c' },
		{ "replay", required_argument, NULL, 'r' },
		{ "replay-status", required_argument, NULL, 'S' },
		{ "replay-path", required_argument, NULL, 'P' },
		{ "log", required_argument, NULL, 'l' },
		{ "latency-ms", required_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(opt, 0, sizeof(*opt));
	opt->groups = DEFAULT_SYNTHETIC_GROUPS;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		int status;

		if (c == 'h') {
			opt->help = true;
			return 0;
		}
		if (c == '?')
			return EXIT_USAGE;
		status = apply_option(opt, c, optarg);
		if (status != 0)
			return status;
	}
	if (optind < argc)
		return usage_error("unexpected argument %s", argv[optind]);
	return check_options(opt);
}

/* Writes the port to path.tmp, then renames it to path. */
static bool write_port_file(const char *path, unsigned short port)
{
	char tmp[PATH_MAX];
	FILE *file;
	bool ok;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		fprintf(stderr, "fakeidp: --port-file: path too long: %s\n", path);
		return false;
	}
	file = fopen(tmp, "w");
	if (file == NULL) {
		fprintf(stderr, "fakeidp: cannot write %s: %s\n", tmp, strerror(errno));
		return false;
	}
	ok = fprintf(file, "%u\n", port) > 0;
	ok = fclose(file) == 0 && ok;
	if (!ok || rename(tmp, path) != 0) {
		fprintf(stderr, "fakeidp: cannot write %s: %s\n", path, strerror(errno));
		remove(tmp);
		return false;
	}
	return true;
}

static struct replay *load_replay(const struct options *opt)
{
	struct replay *loaded;
	char err[512];

	loaded = replay_load(opt->replay, opt->replay_count, err, sizeof(err));
	if (loaded == NULL)
		fprintf(stderr, "fakeidp: --replay: %s\n", err);
	return loaded;
}

/* Loads the dataset once now, so that a broken file is reported at start. */
static struct dataset_store *open_store(const struct options *opt)
{
	struct dataset_options options = {
		.path = opt->data,
		.synthetic_users = opt->synthetic,
		.synthetic_groups = opt->groups,
		.synthetic_churn = opt->churn,
		.control_only = opt->synthetic > 0 || opt->replay_count > 0,
	};
	struct dataset_store *store = dataset_store_new(&options);
	struct dataset *ds;
	char err[512];

	if (store == NULL) {
		fprintf(stderr, "fakeidp: out of memory\n");
		return NULL;
	}
	ds = dataset_store_acquire(store, err, sizeof(err));
	if (ds != NULL)
		dataset_store_release(store, ds);
	return store;
}

static void report_usage(uint64_t served)
{
	struct rusage usage;
	double user;
	double sys;

	if (getrusage(RUSAGE_SELF, &usage) != 0)
		return;
	user = (double)usage.ru_utime.tv_sec + (double)usage.ru_utime.tv_usec / 1e6;
	sys = (double)usage.ru_stime.tv_sec + (double)usage.ru_stime.tv_usec / 1e6;
	fprintf(stderr, "fakeidp: stopped after %llu requests; cpu %.3f s (user %.3f s, sys %.3f s)\n",
		(unsigned long long)served, user + sys, user, sys);
}

static const char *describe_source(const struct options *opt)
{
	if (opt->replay_count > 0)
		return "recorded exchanges";
	if (opt->synthetic > 0)
		return "synthetic users";
	return opt->data;
}

/* Serves until SIGTERM or SIGINT; returns the exit status. */
static int run(const struct options *opt, const sigset_t *stop_signals)
{
	struct server_options server = { .port = (unsigned short)opt->port,
					 .latency_ms = opt->latency_ms };
	struct server *srv = NULL;
	int status = 1;
	int sig;

	if (opt->replay_count > 0 && (server.replay = load_replay(opt)) == NULL)
		goto out;
	if ((server.store = open_store(opt)) == NULL)
		goto out;
	if (opt->log != NULL && (server.log = reqlog_open(opt->log)) == NULL) {
		fprintf(stderr, "fakeidp: cannot open --log %s: %s\n", opt->log, strerror(errno));
		goto out;
	}
	srv = server_start(&server);
	if (srv == NULL)
		goto out;
	if (opt->port_file != NULL && !write_port_file(opt->port_file, server_port(srv)))
		goto out;
	fprintf(stderr, "fakeidp: listening on http://127.0.0.1:%u, serving %s\n",
		server_port(srv), describe_source(opt));

	sigwait(stop_signals, &sig);
	fprintf(stderr, "fakeidp: received %s, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
	status = 0;

out:
	if (srv != NULL)
		report_usage(server_stop(srv));
	reqlog_close(server.log);
	dataset_store_free(server.store);
	replay_free(server.replay);
	return status;
}

int main(int argc, char **argv)
{
	struct options opt;
	sigset_t stop_signals;
	int status;

	status = parse_options(argc, argv, &opt);
	if (status != 0)
		return status;
	if (opt.help) {
		fputs(usage_text, stdout);
		return 0;
	}

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGTERM);
	sigaddset(&stop_signals, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
	return run(&opt, &stop_signals);
}
