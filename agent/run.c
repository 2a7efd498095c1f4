/*
 * run.c - one sync run: lock, read, plan, safety checks, apply, record.
 *
 * Nothing is written to the roster until the IdP was read completely and
 * the plan passed the deletion threshold; the run record is written either
 * way, so `status` shows failed runs too.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "plan.h"
#include "progress.h"
#include "report.h"
#include "roster.h"
#include "run.h"
#include "sort.h"
#include "source.h"
#include "stop.h"

/* How long a run waits for another run of the same tenant to finish. */
#define RUN_LOCK_WAIT_SECONDS 10

struct run {
	const struct config *config;
	const struct run_options *options;
	char id[64];
	struct roster *roster;
	struct roster_team team;
	struct identity_set identities;
	struct http_stats http;
	struct member_list members;
	char **deleted_ids;
	size_t deleted_count;
	enum member_state *deleted_states; /* see plan_input */
	int64_t *deleted_since;
	char *missing_before_text;     /* ROSTER_STATE_USERS_MISSING as the run found it */
	char *missing_before_ids;      /* a copy of it, cut into the ids */
	char **missing_before;         /* its ids, pointing into missing_before_ids */
	size_t missing_before_count;
	char *missing_now;             /* the ids this read found missing, in the same form */
	struct plan plan;
	int lock_fd;
	int64_t started_at;
	int64_t clock_floor;           /* time of the roster's newest event; see run_now() */
	struct timespec started_clock; /* CLOCK_MONOTONIC, for the duration */
	bool recording;      /* a run row was started and must be finished */
	const char *outcome;
};

void run_new_id(char *buf, size_t size)
{
	time_t now = time(NULL);
	struct tm tm;
	unsigned char random[3] = { 0 };
	char stamp[32];

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	if (getrandom(random, sizeof(random), 0) != (ssize_t)sizeof(random))
		memset(random, 0, sizeof(random));
	snprintf(buf, size, "%s-%02x%02x%02x", stamp, random[0], random[1], random[2]);
}

/*
 * Gives the lock file that root just created the owner of the roster file,
 * as SQLite does for the roster's -wal and -shm files, so that a run by
 * hand as root does not lock the service user out.
 */
static void own_like_roster(int fd, const char *roster_path)
{
	struct stat roster;

	if (geteuid() != 0 || stat(roster_path, &roster) != 0)
		return;
	if (fchown(fd, roster.st_uid, roster.st_gid) != 0)
		log_msg(LOG_WARN, "cannot give the lock file of %s the roster's owner (uid %u): %s",
			roster_path, (unsigned)roster.st_uid, strerror(errno));
}

/* Logs why the lock file at path cannot be opened, naming its owner when it has one. */
static void report_lock_error(const char *path, const char *roster_path, int error)
{
	struct stat lock;

	/*
	 * A first run as root leaves the roster and its lock to root, and the
	 * service user that runs next cannot open them: the fix gives the
	 * roster's files (the lock, -wal, -shm) to the user that runs now.
	 */
	if (error == EACCES && stat(path, &lock) == 0) {
		log_msg(LOG_ERROR, "cannot open the lock file %s: %s; it belongs to uid %u (mode "
			"%03o), not to uid %u that runs this command, so give the roster and its "
			"files to that user, e.g. \"chown %u:%u %s*\"", path, strerror(error),
			(unsigned)lock.st_uid, (unsigned)(lock.st_mode & 0777), (unsigned)geteuid(),
			(unsigned)geteuid(), (unsigned)getegid(), roster_path);
		return;
	}
	log_msg(LOG_ERROR, "cannot create the lock file %s beside roster.path: %s; "
		"check that the directory of roster.path (%s) exists and is writable",
		path, strerror(error), roster_path);
}

/*
 * Writes the lock file's path: the roster file's path with symbolic links
 * resolved, and ".lock".  Two configs that reach one roster through a link
 * then share one lock.  A roster that does not exist yet resolves through
 * its directory.
 */
static void lock_path(const char *roster_path, char *out, size_t size)
{
	char *resolved = realpath(roster_path, NULL);
	char *dir_copy = strdup(roster_path);
	char *base_copy = strdup(roster_path);
	char *dir = NULL;

	if (resolved)
		snprintf(out, size, "%s.lock", resolved);
	else if (dir_copy && base_copy && (dir = realpath(dirname(dir_copy), NULL)))
		snprintf(out, size, "%s/%s.lock", dir, basename(base_copy));
	else
		snprintf(out, size, "%s.lock", roster_path);
	free(resolved);
	free(dir);
	free(dir_copy);
	free(base_copy);
}

enum rs_err run_lock(const struct config *config, int *fd_out)
{
	char path[4096];
	int fd;

	*fd_out = -1;
	lock_path(config->roster.path, path, sizeof(path));
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		report_lock_error(path, config->roster.path, errno);
		return RS_ERR_IO;
	}
	own_like_roster(fd, config->roster.path);

	for (int waited = 0; flock(fd, LOCK_EX | LOCK_NB) != 0; waited++) {
		if (stop_signal()) {
			log_msg(LOG_ERROR, "stopped by %s while waiting for another rostersync run "
				"of tenant %s, which holds %s", stop_signal_name(), config->tenant,
				path);
			close(fd);
			return RS_ERR_TEMPFAIL;
		}
		if (errno != EWOULDBLOCK || waited >= RUN_LOCK_WAIT_SECONDS * 10) {
			log_msg(LOG_ERROR,
				"another rostersync run for tenant %s holds %s; waited %d s, "
				"try again when it has finished",
				config->tenant, path, RUN_LOCK_WAIT_SECONDS);
			close(fd);
			return RS_ERR_TEMPFAIL;
		}
		if (waited == 0)
			log_msg(LOG_INFO, "waiting for another run of tenant %s to finish",
				config->tenant);
		usleep(100 * 1000);
	}

	*fd_out = fd;
	return RS_OK;
}

bool run_lock_held(const struct config *config)
{
	char path[4096];
	bool held;
	int fd;

	lock_path(config->roster.path, path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	held = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
	close(fd);
	return held;
}

/*
 * Whether the roster's record of its manager names the app and org of the
 * config.  Host names, Entra tenant ids and Graph app ids (GUIDs) do not
 * depend on case; Okta app ids do.
 */
static bool same_manager(const struct roster_team *team, const struct config *config)
{
	const char *app = config_source_app(config);

	if (strcmp(team->source, config_source_name(config->source)) != 0)
		return false;
	if (team->org && strcasecmp(team->org, config_source_org(config)) != 0)
		return false;
	if (!team->app)
		return true;
	if (config->source == CONFIG_SOURCE_GRAPH)
		return strcasecmp(team->app, app) == 0;
	return strcmp(team->app, app) == 0;
}

bool run_refusal(const struct roster_team *team, const struct config *config, char *buf,
		 size_t size)
{
	if (!team->source && team->released_at > 0) {
		snprintf(buf, size, "the roster was released to manual management; run "
			 "\"rostersync sync -c %s --take-over\" once to let %s manage it again "
			 "(review its plan first with \"rostersync sync -c %s --take-over "
			 "--dry-run\")", config->path, config_source_title(config->source),
			 config->path);
		return true;
	}

	if (!team->source && team->managed_before) {
		snprintf(buf, size, "the roster's team row names no IdP, but an IdP took the roster "
			 "over and it was never released: the team row was changed outside "
			 "rostersync; check the members, then run \"rostersync sync -c %s "
			 "--take-over\" once to let %s manage it again", config->path,
			 config_source_title(config->source));
		return true;
	}

	if (team->source && !same_manager(team, config)) {
		bool same_app = team->app && strcmp(team->source, "graph") == 0 &&
				config->source == CONFIG_SOURCE_GRAPH &&
				strcasecmp(team->app, config_source_app(config)) == 0;

		snprintf(buf, size, "the roster is managed by %s app %s at %s, but the config "
			 "names %s app %s at %s; run once with --take-over to switch%s",
			 team->source, team->app ? team->app : "?", team->org ? team->org : "?",
			 config_source_name(config->source), config_source_app(config),
			 config_source_org(config), same_app ? " (when both name one tenant, by "
			 "its GUID and by a domain, --take-over keeps every member and its seat)" :
			 "");
		return true;
	}
	return false;
}

/* Refuses a roster that was released, or that another source or app manages. */
static enum rs_err check_management(struct run *run)
{
	char refusal[1024];

	if (run->options->take_over)
		return RS_OK;
	if (!run_refusal(&run->team, run->config, refusal, sizeof(refusal)))
		return RS_OK;

	log_msg(LOG_ERROR, "%s", refusal);
	return RS_ERR_PERMISSION;
}

static int compare_ids(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Joins count sorted ids with newlines; "" for none.  NULL when memory runs out. */
static char *join_ids(char *const *ids, size_t count)
{
	size_t size = 1;
	char *text;
	char *at;

	for (size_t i = 0; i < count; i++)
		size += strlen(ids[i]) + 1;
	text = malloc(size);
	if (!text)
		return NULL;

	at = text;
	for (size_t i = 0; i < count; i++)
		at += sprintf(at, "%s%s", i ? "\n" : "", ids[i]);
	*at = '\0';
	return text;
}

/*
 * Loads the ids that the last applied run found missing from the directory,
 * so that the plan unassigns a member only when two runs in a row miss its
 * user.
 */
static enum rs_err load_missing_before(struct run *run)
{
	enum rs_err err = roster_state_get(run->roster, ROSTER_STATE_USERS_MISSING,
					   &run->missing_before_text);
	size_t count = 0;

	if (err != RS_OK || !run->missing_before_text || !run->missing_before_text[0])
		return err;

	for (const char *c = run->missing_before_text; c; c = strchr(c + 1, '\n'))
		count++;
	/* Cut a copy: apply_plan() compares the whole text with this run's list. */
	run->missing_before_ids = strdup(run->missing_before_text);
	run->missing_before = calloc(count, sizeof(*run->missing_before));
	if (!run->missing_before || !run->missing_before_ids)
		return RS_ERR_INTERNAL;
	for (char *id = run->missing_before_ids; id; ) {
		char *end = strchr(id, '\n');

		if (end)
			*end = '\0';
		run->missing_before[run->missing_before_count++] = id;
		id = end ? end + 1 : NULL;
	}
	sort_unless_sorted(run->missing_before, run->missing_before_count,
			   sizeof(*run->missing_before), compare_ids);
	return RS_OK;
}

/*
 * Reads the time of the roster's newest event into run->clock_floor, and
 * warns when this machine's clock is behind it.  Waiting members are served
 * by the time they started waiting, so a clock set back would let a later
 * arrival wait "longer" than those before it.
 */
static enum rs_err keep_clock_after_events(struct run *run)
{
	enum rs_err err = roster_last_event_time(run->roster, &run->clock_floor);
	int64_t now = time(NULL);

	if (err == RS_OK && now < run->clock_floor)
		log_msg(LOG_WARN, "this machine's clock is %lld s behind the newest event of the "
			"roster; this run records that event's time instead, so that the waiting "
			"list keeps its order: check the clock (timedatectl, NTP)",
			(long long)(run->clock_floor - now));
	return err;
}

/* The time of this run's changes: now, but never before the newest event. */
static int64_t run_now(const struct run *run)
{
	int64_t now = time(NULL);

	return now < run->clock_floor ? run->clock_floor : now;
}

/* Reads what the events recorded of the member rows deleted outside rostersync. */
static enum rs_err load_deleted_states(struct run *run, const char *source)
{
	if (run->deleted_count == 0)
		return RS_OK;
	run->deleted_states = calloc(run->deleted_count, sizeof(*run->deleted_states));
	run->deleted_since = calloc(run->deleted_count, sizeof(*run->deleted_since));
	if (!run->deleted_states || !run->deleted_since)
		return RS_ERR_INTERNAL;
	return roster_deleted_states(run->roster, source, run->deleted_ids, run->deleted_count,
				     run->deleted_states, run->deleted_since);
}

static enum rs_err build_plan(struct run *run)
{
	const struct config *config = run->config;
	bool managed = run->team.source != NULL && !run->options->take_over;
	struct plan_input in = {
		.identities = &run->identities,
		.members = &run->members,
		.source = config_source_name(config->source),
		.source_title = config_source_title(config->source),
		.seats = config->team.seats,
		.unassign_unmanaged = config->sync.unmanaged_members == CONFIG_UNMANAGED_UNASSIGN,
		.managed_since = managed ? run->team.managed_since : 0,
		.deleted_ids = run->deleted_ids,
		.deleted_count = run->deleted_count,
		.max_unassign = config->sync.max_unassign,
		.max_unassign_percent = config->sync.max_unassign_percent,
		.now = time(NULL),
	};
	enum rs_err err = RS_OK;

	if (run->roster)
		err = roster_snapshot(run->roster, in.source, &run->members, &run->deleted_ids,
				      &run->deleted_count);
	if (err == RS_OK && run->roster && managed)
		err = roster_restore_drifted_states(run->roster, &run->members);
	if (err == RS_OK && run->roster && managed)
		err = load_deleted_states(run, in.source);
	if (err == RS_OK && run->roster)
		err = roster_last_event_id(run->roster, &in.roster_version);
	if (err == RS_OK && run->roster)
		err = keep_clock_after_events(run);
	in.now = run_now(run);
	if (err == RS_OK && run->roster)
		err = load_missing_before(run);
	if (err != RS_OK)
		return err;

	in.deleted_ids = run->deleted_ids;
	in.deleted_count = run->deleted_count;
	in.deleted_states = run->deleted_states;
	in.deleted_since = run->deleted_since;
	in.missing_before = run->missing_before;
	in.missing_before_count = run->missing_before_count;
	err = plan_build(&in, &run->plan);
	if (err != RS_OK)
		log_msg(LOG_ERROR, "out of memory while planning");
	return err;
}

static void log_problems(const struct plan *plan)
{
	for (size_t i = 0; i < plan->problem_count; i++) {
		const struct plan_problem *problem = &plan->problems[i];

		log_msg(LOG_WARN, "user %s skipped: %s", problem->external_id, problem->message);
	}
}

/*
 * Warns when the seats in use stay above team.seats after the plan: the
 * members that hold them are not the IdP's (sync.unmanaged_members: keep
 * leaves them alone), or their IdP data was skipped.
 */
static void warn_seats_over_limit(const struct run *run)
{
	long seats = run->config->team.seats;

	if (seats < 0 || run->plan.seats_used <= (size_t)seats)
		return;
	log_msg(LOG_WARN, "%zu seats stay in use after this run, more than team.seats (%ld): "
		"members that %s does not manage (manual members, with sync.unmanaged_members: "
		"keep) and members whose data was skipped keep their seats, and everyone else "
		"waits; set sync.unmanaged_members: unassign, or release the roster and remove "
		"members by hand", run->plan.seats_used, seats,
		config_source_title(run->config->source));
}

static enum rs_err read_and_plan(struct run *run)
{
	enum rs_err err;

	progress_begin(config_source_title(run->config->source));
	err = source_read(run->config, &run->identities, &run->http);
	progress_end();
	if (err != RS_OK) {
		if (err != RS_ERR_CONFIG && err != RS_ERR_INTERNAL)
			log_msg(LOG_ERROR, "the read from %s was not complete; the roster is unchanged",
				config_source_title(run->config->source));
		return err;
	}

	log_msg(LOG_INFO, "read %zu assigned users from %s in %ld requests over %ld %s, "
		"%lld bytes", run->identities.count, config_source_title(run->config->source),
		run->http.requests, run->http.connections,
		run->http.connections == 1 ? "connection" : "connections", run->http.bytes);

	err = build_plan(run);
	if (err == RS_OK) {
		log_problems(&run->plan);
		warn_seats_over_limit(run);
	}
	if (err == RS_OK) {
		run->missing_now = join_ids(run->identities.not_found,
					    run->identities.not_found_count);
		if (!run->missing_now)
			err = RS_ERR_INTERNAL;
	}

	/* The plan keeps only the strings: 80 bytes per user are free for the roster write. */
	identity_set_drop_items(&run->identities);
	return err;
}

/* True when the plan and the team row need no write at all. */
static bool nothing_to_write(const struct run *run)
{
	const struct config *config = run->config;
	const struct roster_team *team = &run->team;

	return run->plan.count == 0 && team->source && !run->options->take_over &&
	       team->seats == config->team.seats && team->name &&
	       strcmp(team->name, config->team.name) == 0;
}

/*
 * True when the apply takes the roster over (a new source, org or app):
 * it then writes a take_over event even without an operation.
 */
static bool takes_over(const struct run *run)
{
	const struct roster_team *team = &run->team;
	const struct config *config = run->config;

	return !team->source || !team->org || !team->app ||
	       strcmp(team->source, config_source_name(config->source)) != 0 ||
	       strcmp(team->org, config_source_org(config)) != 0 ||
	       strcmp(team->app, config_source_app(config)) != 0;
}

static enum rs_err apply_plan(struct run *run, const char *approved_id)
{
	const struct config *config = run->config;
	struct roster_apply apply = {
		.run_id = run->id,
		.plan = &run->plan,
		.source = config_source_name(config->source),
		.source_title = config_source_title(config->source),
		.org = config_source_org(config),
		.app = config_source_app(config),
		.team_name = config->team.name,
		.seats = config->team.seats,
		.approved_plan_id = approved_id,
		.now = run_now(run),
	};
	struct roster_state_entry missing = { ROSTER_STATE_USERS_MISSING, run->missing_now };
	bool missing_changed = strcmp(run->missing_now,
				      run->missing_before_text ? run->missing_before_text : "") != 0;
	enum rs_err err;
	char *blocked = NULL;

	if (missing_changed) {
		apply.state = &missing;
		apply.state_count = 1;
	}
	if (nothing_to_write(run)) {
		run->outcome = "no change";
		if (missing_changed)
			roster_state_set(run->roster, ROSTER_STATE_USERS_MISSING, run->missing_now);
	} else {
		err = roster_apply(run->roster, &apply);
		if (err != RS_OK)
			return err;
		run->outcome = run->plan.count || takes_over(run) ? "success" : "no change";
	}

	if (roster_state_get(run->roster, ROSTER_STATE_BLOCKED_PLAN, &blocked) == RS_OK &&
	    blocked && blocked[0]) {
		roster_state_set(run->roster, ROSTER_STATE_BLOCKED_PLAN, "");
		roster_state_set(run->roster, ROSTER_STATE_BLOCKED_DETAIL, "");
	}
	free(blocked);
	return RS_OK;
}

/*
 * Prints the commands that review and approve the blocked plan.  "plan"
 * refuses a roster that needs a take-over, so a take-over is reviewed with
 * "sync --take-over --dry-run" and approved with both options.
 */
static void print_approval_commands(const struct run *run)
{
	const char *path = run->config->path;

	if (run->options->take_over) {
		printf("Review it with:  rostersync sync -c %s --take-over --dry-run\n", path);
		printf("Apply it once:   rostersync sync -c %s --take-over --approve %s\n", path,
		       run->plan.id);
		return;
	}
	printf("Review it with:  rostersync plan -c %s\n", path);
	printf("Apply it once:   rostersync sync -c %s --approve %s\n", path, run->plan.id);
}

/*
 * Prints the unassigns and moves to the waiting list of plan that take a
 * seat (seat_losses true), or the unassigns of waiting members, under
 * heading.  Prints nothing when there are none.
 */
static void print_unassigns(const struct plan *plan, bool seat_losses, const char *heading)
{
	bool first = true;

	for (size_t i = 0; i < plan->count; i++) {
		const struct plan_entry *e = &plan->entries[i];
		bool listed = seat_losses ? plan_entry_loses_seat(e) :
					    e->op == PLAN_UNASSIGN && !plan_entry_loses_seat(e);

		if (!listed)
			continue;
		if (first)
			printf("%s\n", heading);
		first = false;
		printf("  %s  %s  %s  (%s)\n", plan_op_name(e->op),
		       e->after.email ? e->after.email : "-",
		       e->after.external_id ? e->after.external_id : "-", e->reason);
	}
}

/* Stores the current plan, which the threshold stopped, as the one that awaits approval. */
static void remember_blocked_plan(struct run *run)
{
	roster_state_set(run->roster, ROSTER_STATE_BLOCKED_PLAN, run->plan.id);
	roster_state_set(run->roster, ROSTER_STATE_BLOCKED_DETAIL, run->plan.threshold_reason);
}

static enum rs_err block_plan(struct run *run)
{
	const struct plan *plan = &run->plan;

	log_msg(LOG_ERROR, "deletion threshold: %s; nothing was applied", plan->threshold_reason);
	printf("The deletion threshold stopped this run: %s.\n", plan->threshold_reason);
	print_unassigns(plan, true, "Members who would lose their seat:");
	print_unassigns(plan, false, "Waiting members who would be unassigned:");
	printf("Plan id: %s\n", plan->id);
	print_approval_commands(run);

	remember_blocked_plan(run);
	run->outcome = "blocked";
	return RS_ERR_THRESHOLD;
}

static enum rs_err check_approval(struct run *run, const char *approve_id)
{
	bool current = strcmp(approve_id, run->plan.id) == 0;
	bool used = false;
	enum rs_err err = roster_approval_used(run->roster, approve_id, &used);

	if (err != RS_OK)
		return err;
	if (used) {
		log_msg(LOG_ERROR, "plan %s was approved and applied before, and an approval is "
			"used once; the current plan is %s, which %s", approve_id, run->plan.id,
			run->plan.threshold_tripped ? "needs an approval of its own" :
			"needs no approval");
		return RS_ERR_THRESHOLD;
	}
	if (!current && !run->plan.threshold_tripped) {
		log_msg(LOG_ERROR, "plan %s is not the current plan (%s), and the current plan is"
			" within the deletion threshold: it needs no approval; run \"rostersync"
			" sync -c %s%s\" without --approve", approve_id, run->plan.id,
			run->config->path, run->options->take_over ? " --take-over" : "");
		return RS_ERR_THRESHOLD;
	}
	if (!current) {
		log_msg(LOG_ERROR,
			"plan %s is not the current plan (%s): the IdP or the roster changed; "
			"review the current plan with \"rostersync %s -c %s%s\" and approve its id",
			approve_id, run->plan.id, run->options->take_over ? "sync" : "plan",
			run->config->path, run->options->take_over ? " --take-over --dry-run" : "");
		return RS_ERR_THRESHOLD;
	}
	return RS_OK;
}

static enum rs_err decide_and_apply(struct run *run)
{
	const char *approve_id = run->options->approve_id;
	enum rs_err err;

	if (stop_signal()) {
		log_msg(LOG_ERROR, "stopped by %s before the plan was applied; nothing was applied",
			stop_signal_name());
		return RS_ERR_TEMPFAIL;
	}

	if (approve_id) {
		err = check_approval(run, approve_id);
		if (err != RS_OK && run->plan.threshold_tripped) {
			/* The current plan awaits approval now, not the one given. */
			remember_blocked_plan(run);
			run->outcome = "blocked";
			return err;
		}
		if (err != RS_OK) {
			/* A plan within the threshold is not waiting for anyone. */
			run->outcome = "failed";
			return err;
		}
		/* Only a plan past the threshold uses up its approval. */
		if (!run->plan.threshold_tripped) {
			log_msg(LOG_INFO, "plan %s is within the deletion threshold and needs no "
				"approval, so it is applied as a normal run", approve_id);
			return apply_plan(run, NULL);
		}
		log_msg(LOG_INFO, "applying approved plan %s", approve_id);
		return apply_plan(run, approve_id);
	}

	if (run->plan.threshold_tripped)
		return block_plan(run);
	return apply_plan(run, NULL);
}

/*
 * Logs the counts of the plan.  A blocked plan was not applied, so its
 * counts are what it would do, and the seats are those used now.
 */
static void log_summary(const struct run *run)
{
	const struct plan *plan = &run->plan;
	bool blocked = run->outcome && strcmp(run->outcome, "blocked") == 0;

	log_msg(LOG_INFO,
		"run %s %s: %sassigned %zu, updated %zu, unassigned %zu, waiting %zu, "
		"skipped %zu; %zu of %ld seats used%s",
		run->id, run->outcome, blocked ? "not applied: " : "", plan->counts[PLAN_ASSIGN],
		plan->counts[PLAN_UPDATE], plan->counts[PLAN_UNASSIGN], plan->counts[PLAN_WAIT],
		plan->problem_count, blocked ? plan->active_before : plan->seats_used,
		run->config->team.seats, blocked ? " now" : "");
}

/* The outcome stored in the run record: a failed run is "failed" whatever it got to. */
static const char *run_outcome(const struct run *run, enum rs_err err)
{
	if ((err == RS_OK || err == RS_ERR_THRESHOLD) && run->outcome)
		return run->outcome;
	return "failed";
}

/* The run record's error: the category, then the first error line of the run. */
const char *run_error_text(enum rs_err err, char *buf, size_t size)
{
	const char *first = log_first_error();

	if (err == RS_OK)
		return NULL;
	if (first == NULL)
		return err_name(err);
	snprintf(buf, size, "%s: %s", err_name(err), first);
	return buf;
}

static void record_finish(struct run *run, enum rs_err err, int64_t finished_at)
{
	char error[LOG_FIRST_ERROR_MAX + 64];
	struct roster_run record = {
		.id = run->id,
		.command = "sync",
		.source = (char *)config_source_name(run->config->source),
		.started_at = run->started_at,
		.finished_at = finished_at,
		.outcome = (char *)run_outcome(run, err),
		.exit_status = err_exit_status(err),
		.skipped = (long)run->plan.problem_count,
		.plan_id = run->plan.id[0] ? run->plan.id : NULL,
		.error = (char *)run_error_text(err, error, sizeof(error)),
	};

	/* A failed run changed nothing, whatever its plan would have done. */
	if (strcmp(record.outcome, "failed") == 0)
		record.skipped = 0;
	for (int op = 0; op < PLAN_OP_COUNT && strcmp(record.outcome, "failed") != 0; op++)
		record.counts[op] = (long)run->plan.counts[op];
	if (run->recording)
		roster_run_finish(run->roster, &record);
}

static double seconds_since(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

/*
 * Writes the metrics textfile when the config names one.  The last success
 * comes from the runs table, or from the previous textfile when the roster
 * was not opened (another run held the lock).  A failure to write is
 * logged and does not change the run's exit status.
 */
static void record_metrics(const struct run *run, enum rs_err err, int64_t finished_at)
{
	const struct config *config = run->config;
	struct metrics_run m = {
		.tenant = config->tenant,
		.source = config_source_name(config->source),
		.started_at = run->started_at,
		.finished_at = finished_at,
		.duration_seconds = seconds_since(&run->started_clock),
		.outcome = run_outcome(run, err),
		.exit_status = err_exit_status(err),
		.seats = config->team.seats,
		.members = { -1, -1, -1 },
		.users_read = run->plan.id[0] ? (long)run->identities.count : -1,
		.skipped = (long)run->plan.problem_count,
		.idp_requests = run->http.requests,
		.idp_retries = run->http.retries,
		.idp_bytes = run->http.bytes,
	};
	int64_t from_file;

	if (!config->metrics.textfile)
		return;

	for (int op = 0; op < PLAN_OP_COUNT; op++)
		m.operations[op] = (long)run->plan.counts[op];
	if (run->roster && roster_member_counts(run->roster, m.members) != RS_OK)
		m.members[MEMBER_ACTIVE] = m.members[MEMBER_WAITING] = m.members[MEMBER_UNASSIGNED] = -1;
	if (run->roster)
		roster_last_success(run->roster, "sync", &m.last_success_at);
	if (err == RS_OK)
		m.last_success_at = finished_at;
	from_file = metrics_read_last_success(config->metrics.textfile);
	if (from_file > m.last_success_at)
		m.last_success_at = from_file;

	metrics_write(config->metrics.textfile, &m);
}

static void run_release(struct run *run)
{
	plan_release(&run->plan);
	member_list_release(&run->members);
	for (size_t i = 0; i < run->deleted_count; i++)
		free(run->deleted_ids[i]);
	free(run->deleted_ids);
	free(run->deleted_states);
	free(run->deleted_since);
	free(run->missing_before);
	free(run->missing_before_ids);
	free(run->missing_before_text);
	free(run->missing_now);
	identity_set_release(&run->identities);
	roster_team_release(&run->team);
	roster_close(run->roster);
	if (run->lock_fd >= 0)
		close(run->lock_fd);
	log_set_run_id(NULL);
}

static enum rs_err run_dry(struct run *run)
{
	enum rs_err err = read_and_plan(run);

	if (err != RS_OK)
		return err;

	if (run->options->output == RUN_OUTPUT_JSON)
		return report_plan_json(stdout, &run->plan, run->config->team.seats);
	report_plan_table(stdout, &run->plan, run->config->team.seats, run->config->path);
	return RS_OK;
}

static enum rs_err run_steps(struct run *run)
{
	enum rs_err err = run_lock(run->config, &run->lock_fd);

	if (err == RS_OK)
		err = roster_open(run->config->roster.path, &run->roster);
	if (err == RS_OK)
		err = roster_team_get(run->roster, &run->team);
	if (err != RS_OK)
		return err;

	/* Recorded before the management check, so status shows a refused run too. */
	err = roster_run_start(run->roster, run->id, "sync",
			       config_source_name(run->config->source), run->started_at);
	if (err != RS_OK)
		return err;
	run->recording = true;

	err = check_management(run);
	/* A roster that this source manages gets its triggers back before anything else. */
	if (err == RS_OK && run->team.source && !run->options->take_over)
		err = roster_triggers_repair(run->roster,
					     config_source_title(run->config->source));
	if (err == RS_OK)
		err = read_and_plan(run);
	if (err == RS_OK)
		err = decide_and_apply(run);
	if (err == RS_OK || err == RS_ERR_THRESHOLD)
		log_summary(run);
	return err;
}

/* A plan before the first sync reads an empty roster and creates no file. */
static enum rs_err run_dry_steps(struct run *run)
{
	enum rs_err err = RS_OK;

	if (access(run->config->roster.path, F_OK) == 0)
		err = roster_open(run->config->roster.path, &run->roster);
	if (err == RS_OK && !run->roster)
		return run_dry(run);

	if (err == RS_OK)
		err = roster_team_get(run->roster, &run->team);
	if (err == RS_OK)
		err = check_management(run);
	if (err == RS_OK)
		err = run_dry(run);
	return err;
}

enum rs_err run_sync(const struct config *config, const struct run_options *options)
{
	struct run run = { .config = config, .options = options, .lock_fd = -1 };
	enum rs_err err;

	run_new_id(run.id, sizeof(run.id));
	run.started_at = time(NULL);
	clock_gettime(CLOCK_MONOTONIC, &run.started_clock);
	log_set_run_id(run.id);

	if (options->dry_run) {
		err = run_dry_steps(&run);
	} else {
		log_msg(LOG_INFO, "sync of tenant %s from %s started", config->tenant,
			config_source_title(config->source));
		int64_t finished_at;

		err = run_steps(&run);
		finished_at = time(NULL);
		record_finish(&run, err, finished_at);
		record_metrics(&run, err, finished_at);
	}

	run_release(&run);
	return err;
}
