/*
 * report.h - what the commands print on stdout: plans, status, members.
 *
 * Tables are for people; JSON is for scripts and its field names are part
 * of the interface contract (plan_id, operations, counts; tenant, source,
 * seats, seats_used, waiting, last_run, drift; members with email, external_id,
 * user_name, names, state, source).
 */
#ifndef ROSTERSYNC_REPORT_H
#define ROSTERSYNC_REPORT_H

#include <stdbool.h>
#include <stdio.h>
#include "error.h"
#include "member.h"
#include "plan.h"
#include "roster.h"

/* config_path is named in the approval command a tripped plan prints. */
void report_plan_table(FILE *out, const struct plan *plan, long seats, const char *config_path);
enum rs_err report_plan_json(FILE *out, const struct plan *plan, long seats);

void report_members_table(FILE *out, const struct member_list *members);
enum rs_err report_members_json(FILE *out, const struct member_list *members);

/* Prints every stored field of one member, a labelled line each (members show). */
void report_member_detail(FILE *out, const struct member *member);

struct report_status {
	const char *tenant;
	const char *source;        /* configured source */
	const char *team_name;     /* team.name of the config, for a team row without one */
	const struct roster_team *team;
	const struct member_list *members;
	const struct roster_run *runs; /* newest first */
	size_t run_count;
	const char *blocked_plan_id;   /* NULL when none awaits approval */
	const char *blocked_detail;
	const struct roster_drift *drifts; /* reverted manual changes, newest first */
	size_t drift_count;
	long seats;
	long long now;
	bool lock_held;            /* a command holds the tenant lock (run_lock_held()) */
	bool agent_write_left;     /* roster_agent_write_left() while managed */
};

void report_status_table(FILE *out, const struct report_status *status);
enum rs_err report_status_json(FILE *out, const struct report_status *status);

#endif
