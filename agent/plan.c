/*
 * plan.c - computes the operations that make the roster match the IdP.
 *
 * The steps, each its own function below:
 *   1. index the roster by external id and by lower-case email;
 *   2. screen the identities: invalid email, unknown status, email shared
 *      by two identities (those are skipped, and their members kept);
 *   3. match each identity to a member (external id, else email);
 *   4. decide unassigns: inactive identities, members no longer assigned,
 *      rows changed outside rostersync;
 *   5. hand out seats: staying members first, then waiting members
 *      (longest waiting first), then new ones by email;
 *   6. sort the entries, hash them into the plan id, check the threshold.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "plan.h"
#include "sort.h"

/* What the plan decided for one identity. */
struct match {
	const struct identity *identity;
	struct member *member;  /* matched roster row, or NULL for a new member */
	bool adopted;           /* matched by email, not by external id */
	bool relinked;          /* adopted a row of this source whose own user is gone */
	bool inactive;          /* the IdP says no seat: matched by external id only */
	bool skipped;
	bool new_candidate;     /* seeks a seat and is not waiting for one yet */
};

/* Per-member bookkeeping, parallel to in->members->items. */
struct member_mark {
	const struct match *claimed_by;
	bool protected;         /* its identity was skipped: keep the row as is */
};

struct planner {
	const struct plan_input *in;
	struct plan *plan;
	struct member **by_external_id; /* rows of in->source with an external id */
	size_t by_external_id_count;
	struct member **by_email;
	size_t by_email_count;
	struct member_mark *marks;
	struct match *matches;
	struct match **by_email_matches; /* screened matches by email, from step 2 */
	size_t by_email_match_count;
	size_t entries_capacity;
	size_t problems_capacity;
	char *recent_texts[64];         /* texts kept in plan->strings, by hash */
};

const char *plan_op_name(enum plan_op op)
{
	static const char *const names[PLAN_OP_COUNT] = {
		[PLAN_ASSIGN] = "assign",
		[PLAN_UPDATE] = "update",
		[PLAN_UNASSIGN] = "unassign",
		[PLAN_WAIT] = "wait",
	};

	return (unsigned)op < PLAN_OP_COUNT ? names[op] : "unknown";
}

static int compare_text(const char *a, const char *b)
{
	if (!a || !b)
		return (a != NULL) - (b != NULL);
	return strcmp(a, b);
}

static char *format_text(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *format_text(const char *fmt, ...)
{
	va_list args;
	char *text = NULL;

	va_start(args, fmt);
	if (vasprintf(&text, fmt, args) < 0)
		text = NULL;
	va_end(args);
	return text;
}

/*
 * Returns a copy of text in the plan's string pool, or NULL when memory runs
 * out.  Most entries share their reason or provenance ("assigned to the app
 * in Okta", "direct"), so a text equal to a recent one is stored once.
 */
static char *keep_text(struct planner *p, const char *text)
{
	size_t slots = sizeof(p->recent_texts) / sizeof(p->recent_texts[0]);
	uint32_t hash = 2166136261u;
	char **slot;

	for (const unsigned char *c = (const unsigned char *)text; *c; c++)
		hash = (hash ^ *c) * 16777619u;
	slot = &p->recent_texts[hash % slots];
	if (*slot && strcmp(*slot, text) == 0)
		return *slot;

	*slot = strpool_dup(&p->plan->strings, text);
	return *slot;
}

static char *keep_format(struct planner *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Formats like printf() into the plan's string pool through keep_text(). */
static char *keep_format(struct planner *p, const char *fmt, ...)
{
	char buf[512];
	char *text = buf;
	char *kept = NULL;
	va_list args;
	int len;

	va_start(args, fmt);
	len = vsnprintf(buf, sizeof(buf), fmt, args);
	va_end(args);
	if (len < 0)
		return NULL;
	if ((size_t)len >= sizeof(buf)) {
		va_start(args, fmt);
		if (vasprintf(&text, fmt, args) < 0)
			text = NULL;
		va_end(args);
	}
	if (text)
		kept = keep_text(p, text);
	if (text != buf)
		free(text);
	return kept;
}

static size_t member_index(const struct planner *p, const struct member *member)
{
	return (size_t)(member - p->in->members->items);
}

/* Step 1: indexes. */

static int compare_member_external_id(const void *a, const void *b)
{
	const struct member *x = *(struct member *const *)a;
	const struct member *y = *(struct member *const *)b;

	return strcmp(x->external_id, y->external_id);
}

/* Orders by email; within one email, rows holding or awaiting a seat first, then the newest. */
static int compare_member_email(const void *a, const void *b)
{
	const struct member *x = *(struct member *const *)a;
	const struct member *y = *(struct member *const *)b;
	int order = identity_email_compare(x->email, y->email);
	bool x_seated = x->state != MEMBER_UNASSIGNED;
	bool y_seated = y->state != MEMBER_UNASSIGNED;

	if (order)
		return order;
	if (x_seated != y_seated)
		return x_seated ? -1 : 1;
	if (x->updated_at != y->updated_at)
		return x->updated_at > y->updated_at ? -1 : 1;
	return (x->id < y->id) - (x->id > y->id);
}

static bool build_indexes(struct planner *p)
{
	const struct member_list *members = p->in->members;
	size_t n = members->count;

	p->by_external_id = calloc(n + 1, sizeof(*p->by_external_id));
	p->by_email = calloc(n + 1, sizeof(*p->by_email));
	p->marks = calloc(n + 1, sizeof(*p->marks));
	if (!p->by_external_id || !p->by_email || !p->marks)
		return false;

	for (size_t i = 0; i < n; i++) {
		struct member *m = &members->items[i];

		if (m->external_id && m->source && strcmp(m->source, p->in->source) == 0)
			p->by_external_id[p->by_external_id_count++] = m;
		if (m->email)
			p->by_email[p->by_email_count++] = m;
	}

	qsort(p->by_external_id, p->by_external_id_count, sizeof(*p->by_external_id),
	      compare_member_external_id);
	qsort(p->by_email, p->by_email_count, sizeof(*p->by_email), compare_member_email);
	return true;
}

static struct member *find_by_external_id(const struct planner *p, const char *external_id)
{
	struct member key = { .external_id = (char *)external_id };
	struct member *keyp = &key;
	struct member **found = bsearch(&keyp, p->by_external_id, p->by_external_id_count,
					sizeof(*p->by_external_id), compare_member_external_id);

	return found ? *found : NULL;
}

/* Returns the index of the first row with email in by_email, or by_email_count. */
static size_t email_group_start(const struct planner *p, const char *email)
{
	size_t low = 0;
	size_t high = p->by_email_count;

	while (low < high) {
		size_t mid = low + (high - low) / 2;

		if (identity_email_compare(p->by_email[mid]->email, email) < 0)
			low = mid + 1;
		else
			high = mid;
	}
	if (low < p->by_email_count && identity_email_compare(p->by_email[low]->email, email) == 0)
		return low;
	return p->by_email_count;
}

/* The row that holds or awaits a seat with email; at most one exists. */
static struct member *find_seated_by_email(const struct planner *p, const char *email)
{
	size_t at = email_group_start(p, email);

	if (at < p->by_email_count && p->by_email[at]->state != MEMBER_UNASSIGNED)
		return p->by_email[at];
	return NULL;
}

/*
 * True when an identity of this source may take over member matched by
 * email: a manual member, or one a different source managed.  A row of
 * this source stays with its own external id, even after that user left.
 */
static bool member_adoptable(const struct planner *p, const struct member *member)
{
	return !member->external_id || !member->source ||
	       strcmp(member->source, p->in->source) != 0;
}

static struct member *find_adoptable_by_email(const struct planner *p, const char *email)
{
	for (size_t at = email_group_start(p, email);
	     at < p->by_email_count &&
	     identity_email_compare(p->by_email[at]->email, email) == 0; at++) {
		struct member *member = p->by_email[at];

		/* A row written past the triggers is reverted, never adopted. */
		if (member_adoptable(p, member) && !member->drifted &&
		    !p->marks[member_index(p, member)].claimed_by)
			return member;
	}
	return NULL;
}

static bool is_deleted_id(const struct planner *p, const char *external_id)
{
	return identity_id_listed(p->in->deleted_ids, p->in->deleted_count, external_id);
}

/* Whether the source listed external_id as assigned, but found no such user. */
static bool is_not_found_id(const struct planner *p, const char *external_id)
{
	const struct identity_set *set = p->in->identities;

	return identity_id_listed(set->not_found, set->not_found_count, external_id);
}

/* Whether the previous applied run also found external_id assigned but missing. */
static bool was_missing_before(const struct planner *p, const char *external_id)
{
	return identity_id_listed(p->in->missing_before, p->in->missing_before_count,
				  external_id);
}

/* Output: entries and problems. */

static bool add_problem_for(struct planner *p, const char *external_id, const char *email,
			    char *message)
{
	struct plan *plan = p->plan;
	struct plan_problem *problem;

	if (!message)
		return false;

	if (plan->problem_count == p->problems_capacity) {
		size_t capacity = p->problems_capacity ? p->problems_capacity * 2 : 16;
		struct plan_problem *grown = realloc(plan->problems, capacity * sizeof(*grown));

		if (!grown) {
			free(message);
			return false;
		}
		plan->problems = grown;
		p->problems_capacity = capacity;
	}

	problem = &plan->problems[plan->problem_count++];
	problem->external_id = strdup(external_id);
	problem->email = email ? strdup(email) : NULL;
	problem->message = message;
	return problem->external_id != NULL && (!email || problem->email);
}

static bool add_problem(struct planner *p, const struct identity *identity, char *message)
{
	return add_problem_for(p, identity->external_id, identity->email, message);
}

/*
 * Appends an entry with reason, a text kept in the plan's pool.  It points
 * at the row before, and its after starts as a copy of that row whose
 * strings stay the snapshot's.
 */
static struct plan_entry *add_entry(struct planner *p, enum plan_op op,
				    const struct member *before, char *reason)
{
	struct plan *plan = p->plan;
	struct plan_entry *entry;

	if (!reason)
		return NULL;

	if (plan->count == p->entries_capacity) {
		size_t capacity = p->entries_capacity ? p->entries_capacity * 2 : 64;
		struct plan_entry *grown = realloc(plan->entries, capacity * sizeof(*grown));

		if (!grown)
			return NULL;
		plan->entries = grown;
		p->entries_capacity = capacity;
	}

	entry = &plan->entries[plan->count++];
	memset(entry, 0, sizeof(*entry));
	entry->op = op;
	entry->reason = reason;

	if (before) {
		entry->before = before;
		entry->after = *before;
	}
	plan->counts[op]++;
	return entry;
}

/* Step 2: screening. */

/*
 * Marks match skipped and keeps its member as it is.  Returns what the
 * problem adds about a member row that was changed or deleted outside
 * rostersync, which stays so while the identity is skipped, or "".
 */
static const char *protect_member_of(struct planner *p, struct match *match)
{
	struct member *member = find_by_external_id(p, match->identity->external_id);

	match->skipped = true;
	if (member)
		p->marks[member_index(p, member)].protected = true;
	if (member && member->drifted)
		return "; its roster row was changed outside rostersync and stays changed until"
		       " this is fixed";
	if (!member && is_deleted_id(p, match->identity->external_id))
		return "; its roster row was deleted outside rostersync and comes back once this"
		       " is fixed";
	return "";
}

/*
 * Skips an identity whose status is unknown, or whose records disagreed.
 * Its member, if any, is kept as it is, and a new one is not added yet.
 */
static bool screen_unknown_status(struct planner *p, struct match *match)
{
	const struct identity *identity = match->identity;
	const char *title = p->in->source_title;
	bool conflict = identity->status == identity_status_conflict;
	const char *outcome = "member kept as it is";
	const char *note;

	if (!find_by_external_id(p, identity->external_id))
		outcome = conflict ? "not added to the roster until the records agree" :
				     "not added to the roster until the status is known";
	note = protect_member_of(p, match);

	if (conflict)
		return add_problem(p, identity, format_text("%s in %s: %s%s", identity_status_conflict,
							    title, outcome, note));
	if (!identity->status)
		return add_problem(p, identity, format_text("no status in %s: %s%s", title, outcome,
							    note));
	return add_problem(p, identity, format_text("unknown status %s in %s: %s%s",
						    identity->status, title, outcome, note));
}

static bool screen_identity(struct planner *p, struct match *match)
{
	const struct identity *identity = match->identity;
	const char *title = p->in->source_title;
	const char *note;

	if (identity->activity == IDENTITY_UNKNOWN)
		return screen_unknown_status(p, match);

	if (identity->activity == IDENTITY_INACTIVE) {
		match->inactive = true;
		return true;
	}

	if (!identity->email) {
		note = protect_member_of(p, match);
		return add_problem(p, identity,
				   format_text("user has no email address in %s: set one there%s",
					       title, note));
	}

	if (!identity_email_valid(identity->email)) {
		note = protect_member_of(p, match);
		return add_problem(p, identity,
				   format_text("invalid email address \"%s\" in %s (%s): correct it "
					       "there%s", identity->email, title,
					       identity_email_problem(identity->email), note));
	}
	return true;
}

static int compare_match_email(const void *a, const void *b)
{
	const struct match *x = *(struct match *const *)a;
	const struct match *y = *(struct match *const *)b;
	int order = identity_email_compare(x->identity->email, y->identity->email);

	return order ? order : strcmp(x->identity->external_id, y->identity->external_id);
}

/*
 * Ranks the claim of match to its email, lowest first.  An active or
 * waiting member with this email ranks 0, an unassigned one 1, a member
 * with another email 2, and no member 3.  Ties go to the lowest id.
 */
static int email_claim_rank(const struct planner *p, const struct match *match)
{
	const struct member *member = find_by_external_id(p, match->identity->external_id);

	if (!member)
		return 3;
	if (!member->email || identity_email_compare(member->email, match->identity->email) != 0)
		return 2;
	return member->state == MEMBER_UNASSIGNED ? 1 : 0;
}

static bool resolve_email_group(struct planner *p, struct match **group, size_t n)
{
	size_t winner = 0;

	for (size_t i = 1; i < n; i++) {
		if (email_claim_rank(p, group[i]) < email_claim_rank(p, group[winner]))
			winner = i;
	}

	for (size_t i = 0; i < n; i++) {
		if (i == winner)
			continue;
		const char *note = protect_member_of(p, group[i]);

		if (!add_problem(p, group[i]->identity,
				 format_text("email conflict: %s is also the email of %s user %s, "
					     "which keeps it; user skipped%s",
					     group[i]->identity->email, p->in->source_title,
					     group[winner]->identity->external_id, note)))
			return false;
	}
	return true;
}

static bool screen_email_conflicts(struct planner *p)
{
	size_t n = p->in->identities->count;
	struct match **sorted = calloc(n + 1, sizeof(*sorted));
	size_t count = 0;
	bool ok = true;

	if (!sorted)
		return false;

	for (size_t i = 0; i < n; i++) {
		if (!p->matches[i].skipped && !p->matches[i].inactive)
			sorted[count++] = &p->matches[i];
	}
	qsort(sorted, count, sizeof(*sorted), compare_match_email);

	for (size_t start = 0; ok && start < count;) {
		size_t end = start + 1;

		while (end < count &&
		       identity_email_compare(sorted[start]->identity->email, sorted[end]->identity->email) == 0)
			end++;
		if (end - start > 1)
			ok = resolve_email_group(p, &sorted[start], end - start);
		start = end;
	}

	/* Kept for step 5, which hands out seats in this order. */
	p->by_email_matches = sorted;
	p->by_email_match_count = count;
	return ok;
}

/* Step 3: matching. */

/* The identity with external_id of this source in this read, skipped or not. */
static const struct match *find_match(const struct planner *p, const char *source,
				      const char *external_id)
{
	if (!external_id || !source || strcmp(source, p->in->source) != 0)
		return NULL;

	for (size_t low = 0, high = p->in->identities->count; low < high;) {
		size_t mid = low + (high - low) / 2;
		int order = strcmp(p->matches[mid].identity->external_id, external_id);

		if (order == 0)
			return &p->matches[mid];
		if (order < 0)
			low = mid + 1;
		else
			high = mid;
	}
	return NULL;
}

/*
 * True when seated, which holds email, keeps it after this plan, so that
 * another member cannot take it: a manual member while the identity has a
 * row of its own, or a row whose identity is skipped or keeps that email.
 * A row whose user left the app, or whose account is suspended or
 * deactivated, is unassigned first, which frees the email.  A row whose
 * user the directory missed for the first time is kept, with its email.
 */
static bool email_taken(const struct planner *p, const struct member *seated,
			const struct member *own, const char *email)
{
	const struct match *other;

	if (!seated || seated == own)
		return false;
	if (member_adoptable(p, seated))
		return own != NULL;

	other = find_match(p, seated->source, seated->external_id);
	if (!other)
		return seated->external_id && is_not_found_id(p, seated->external_id) &&
		       !was_missing_before(p, seated->external_id);
	if (other->skipped)
		return true;
	if (other->identity->activity == IDENTITY_INACTIVE)
		return false;
	return !other->identity->email || identity_email_compare(other->identity->email, email) == 0;
}

/*
 * Returns a seated row of this source with email whose user this read does
 * not list at all, for an identity with no row of its own.  Such a row
 * belongs to an account deleted and created again, or replaced by another
 * with the same address.  Taking the row over keeps the person's seat,
 * where a new row would put the person behind everyone waiting.  A row
 * whose user is only missing from the directory for now is left alone.
 */
static struct member *find_relinkable_by_email(const struct planner *p, const char *email)
{
	for (size_t at = email_group_start(p, email);
	     at < p->by_email_count &&
	     identity_email_compare(p->by_email[at]->email, email) == 0; at++) {
		struct member *member = p->by_email[at];

		if (member->state == MEMBER_UNASSIGNED || member->drifted || !member->external_id ||
		    member_adoptable(p, member) || p->marks[member_index(p, member)].claimed_by)
			continue;
		if (find_match(p, member->source, member->external_id) ||
		    is_not_found_id(p, member->external_id))
			continue;
		return member;
	}
	return NULL;
}

static bool match_identity(struct planner *p, struct match *match)
{
	const struct identity *identity = match->identity;
	struct member *by_id = find_by_external_id(p, identity->external_id);
	struct member *seated;

	if (match->inactive) {
		match->member = by_id;
		goto claim;
	}

	/*
	 * NOTE: an identity whose own row is unassigned history is skipped here
	 * when a manual member holds its address, although adopting that member
	 * is what a take-over should do.
	 */
	seated = find_seated_by_email(p, identity->email);
	if (email_taken(p, seated, by_id, identity->email)) {
		const char *note = protect_member_of(p, match);

		return add_problem(p, identity,
				   format_text("email conflict: %s belongs to roster member %s%s%s; "
					       "user skipped until one of the two changes%s",
					       identity->email, seated->email,
					       seated->external_id ? " linked to " : " added by hand",
					       seated->external_id ? seated->external_id : "",
					       note));
	}

	match->member = by_id ? by_id : find_adoptable_by_email(p, identity->email);
	if (!match->member && identity->email) {
		match->member = find_relinkable_by_email(p, identity->email);
		match->relinked = match->member != NULL;
	}
	match->adopted = !by_id && match->member;
claim:
	if (match->member)
		p->marks[member_index(p, match->member)].claimed_by = match;
	return true;
}

/* Steps 4 and 5 share these: the row an identity wants. */

/*
 * Returns the provenance of identity kept in the plan's pool.  A person
 * assigned only directly, the usual case, costs no formatting.
 */
static char *provenance_text(struct planner *p, const struct identity *identity)
{
	char *text;
	char *kept;

	if (identity->direct && identity->group_count == 0)
		return keep_text(p, "direct");
	text = identity_provenance(identity);
	kept = text ? keep_text(p, text) : NULL;
	free(text);
	return kept;
}

/*
 * Points the fields of after at the IdP's attributes, which the identity
 * set keeps for the life of the plan.  An invalid email (possible only for
 * an inactive identity, which is not screened) leaves the stored one.  An
 * assignment that the IdP lists without saying how (no grant) leaves the
 * stored provenance, which is NULL for a new member.
 */
static bool apply_identity(struct planner *p, struct member *after, const struct identity *identity)
{
	if (identity->direct || identity->group_count > 0) {
		char *provenance = provenance_text(p, identity);

		if (!provenance)
			return false;
		after->provenance = provenance;
	}
	after->source = (char *)p->in->source;
	after->external_id = identity->external_id;
	if (identity_email_valid(identity->email))
		after->email = identity->email;
	after->user_name = identity->user_name;
	after->given_name = identity->given_name;
	after->family_name = identity->family_name;
	after->display_name = identity->display_name;
	after->drifted = false;
	return true;
}

/* Lists the fields that differ, e.g. "email, given name"; "" when none. */
static void describe_changes(const struct member *a, const struct member *b, char *buf, size_t size)
{
	struct { const char *name; const char *x; const char *y; } fields[] = {
		{ "email", a->email, b->email },
		{ "login", a->user_name, b->user_name },
		{ "given name", a->given_name, b->given_name },
		{ "family name", a->family_name, b->family_name },
		{ "display name", a->display_name, b->display_name },
		{ "groups", a->provenance, b->provenance },
		{ "external id", a->external_id, b->external_id },
		{ "source", a->source, b->source },
	};

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (compare_text(fields[i].x, fields[i].y) == 0)
			continue;
		if (buf[0])
			strncat(buf, ", ", size - strlen(buf) - 1);
		strncat(buf, fields[i].name, size - strlen(buf) - 1);
	}
}

static const char *inactive_words(const char *status)
{
	static const struct { const char *status; const char *words; } table[] = {
		{ "SUSPENDED", "user suspended" },
		{ "DEPROVISIONED", "user deactivated" },
		{ "STAGED", "user not activated yet" },
		{ "PROVISIONED", "user not activated yet" },
		{ "disabled", "account disabled" },
	};

	for (size_t i = 0; status && i < sizeof(table) / sizeof(table[0]); i++) {
		if (strcmp(table[i].status, status) == 0)
			return table[i].words;
	}
	return "user not active";
}

static char *assign_reason(struct planner *p, const struct match *match)
{
	const struct identity *identity = match->identity;
	const char *title = p->in->source_title;

	if (!match->member && is_deleted_id(p, identity->external_id))
		return keep_text(p, "manual change reverted: member row was deleted outside rostersync");
	if (match->member && match->member->drifted)
		return keep_text(p, "manual change reverted");
	if (match->member && match->member->state == MEMBER_WAITING)
		return keep_format(p, "seat became free; assigned in %s", title);
	if (match->adopted)
		return keep_format(p, "assigned in %s; existing member adopted by email", title);
	if (!identity->direct && identity->group_count > 0)
		return keep_format(p, "assigned to the app in %s through group %s", title,
				   identity->groups[0]);
	/* The row was unassigned because the user left the app or its account was inactive. */
	if (match->member)
		return keep_format(p, "assigned to the app and active in %s again", title);
	return keep_format(p, "assigned to the app in %s", title);
}

/* Step 4: unassigns of identities the IdP marks inactive, and updates. */

static bool plan_inactive(struct planner *p, struct match *match)
{
	struct member *member = match->member;
	const struct identity *identity = match->identity;
	struct plan_entry *entry;
	char *reason;

	if (member->drifted)
		reason = keep_text(p, "manual change reverted");
	else
		reason = keep_format(p, "%s in %s (%s)", inactive_words(identity->status),
				     p->in->source_title, identity->status ? identity->status : "?");

	entry = add_entry(p, PLAN_UNASSIGN, member, reason);
	if (!entry || !apply_identity(p, &entry->after, identity))
		return false;
	entry->after.state = MEMBER_UNASSIGNED;
	entry->after.state_since = p->in->now;
	return true;
}

static bool plan_attribute_update(struct planner *p, const struct match *match)
{
	struct member *member = match->member;
	struct member wanted = *member;
	struct plan_entry *entry;
	char changes[256];
	char *reason;

	if (!apply_identity(p, &wanted, match->identity))
		return false;
	describe_changes(member, &wanted, changes, sizeof(changes));

	if (!changes[0] && !member->drifted)
		return true;

	if (member->drifted)
		reason = keep_text(p, "manual change reverted");
	else if (match->relinked)
		reason = keep_format(p, "%s user %s has the address of the member linked to user "
				     "%s, which is no longer assigned: member linked to the new user",
				     p->in->source_title, match->identity->external_id,
				     member->external_id);
	else if (match->adopted)
		reason = keep_format(p, "existing member adopted by email; now managed by %s",
				     p->in->source_title);
	else
		reason = keep_format(p, "changed in %s: %s", p->in->source_title, changes);

	entry = add_entry(p, PLAN_UPDATE, member, reason);
	return entry && apply_identity(p, &entry->after, match->identity);
}

/* A member that may get a seat: an identity's, or a kept waiting member. */
struct candidate {
	struct match *match;    /* NULL for a kept member */
	struct member *kept;    /* a waiting member no identity claimed, kept as it is */
	const char *email;
	const char *external_id;
	int64_t waiting_since;
	bool waiting;
	bool restored;          /* its row was deleted outside rostersync */
	enum member_state restored_state; /* what the events recorded for that row */
	int64_t restored_since;
};

/*
 * Appends the group name of one provenance field to out, decoding the
 * "%2C" and "%25" that identity_provenance() writes for "," and "%".
 * Returns false when it does not fit.
 */
static bool append_group_name(char *out, size_t *len, size_t size, const char *name, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (*len + 1 >= size)
			return false;
		if (i + 2 < n && strncmp(name + i, "%2C", 3) == 0) {
			c = ',';
			i += 2;
		} else if (i + 2 < n && strncmp(name + i, "%25", 3) == 0) {
			c = '%';
			i += 2;
		}
		out[(*len)++] = c;
	}
	out[*len] = '\0';
	return true;
}

/*
 * Writes the group names of provenance ("group:Sales,group:R%2CD" gives
 * "Sales, R,D") into out.  Returns false when the member was also assigned
 * directly, had no group, or the names do not fit.
 */
static bool provenance_groups(const char *provenance, char *out, size_t size)
{
	const char *field = provenance;
	size_t len = 0;

	out[0] = '\0';
	while (*field) {
		size_t n = strcspn(field, ",");

		if (n <= 6 || strncmp(field, "group:", 6) != 0)
			return false;
		if (len > 0 && !append_group_name(out, &len, size, ", ", 2))
			return false;
		if (!append_group_name(out, &len, size, field + 6, n - 6))
			return false;
		field += n;
		if (*field == ',')
			field++;
	}
	return len > 0;
}

/*
 * Returns why a member of the source, no longer assigned, is unassigned.  A
 * member assigned only through groups is named with them, because nothing
 * changed in the app's own assignments when the person left the group.
 */
static char *removed_reason(struct planner *p, const struct member *member)
{
	const char *title = p->in->source_title;
	char groups[256];

	if (!member->provenance || !provenance_groups(member->provenance, groups, sizeof(groups)))
		return keep_format(p, "removed from the app in %s", title);
	return keep_format(p, "no longer assigned to the app in %s through %s %s", title,
			   strchr(member->provenance, ',') ? "groups" : "group", groups);
}

/*
 * Keeps a member whose user the directory did not return although the app
 * lists it, the first time: a user just created or changed may be missing
 * from a replica for a while.  The next applied run unassigns it if the
 * user is still missing.  A waiting member stays waiting but gets no seat.
 */
static bool keep_missing_member(struct planner *p, const struct member *member,
				bool *keeps_seat, bool *waits)
{
	*keeps_seat = member->state == MEMBER_ACTIVE;
	*waits = false;
	return add_problem_for(p, member->external_id, member->email,
			       format_text("assigned to the app, but not found in %s: member kept "
					   "as it is, and unassigned if the next run does not find "
					   "the user either", p->in->source_title));
}

/*
 * Plans a member that no identity claimed.  Sets *keeps_seat when it stays
 * active (a kept manual member, or one whose identity was skipped), and
 * *waits when it stays waiting for a seat.
 */
static bool plan_unclaimed(struct planner *p, struct member *member, bool *keeps_seat,
			   bool *waits)
{
	const struct plan_input *in = p->in;
	bool linked = member->external_id != NULL && member->source &&
		      strcmp(member->source, "manual") != 0;
	char *reason = NULL;
	struct plan_entry *entry;

	*keeps_seat = false;
	*waits = false;
	if (member->state == MEMBER_UNASSIGNED)
		return true;

	if (p->marks[member_index(p, member)].protected)
		reason = NULL;
	else if (member->drifted && in->managed_since > 0)
		reason = keep_text(p, "manual change reverted");
	else if (linked && strcmp(member->source, in->source) == 0 &&
		 is_not_found_id(p, member->external_id) &&
		 !was_missing_before(p, member->external_id))
		return keep_missing_member(p, member, keeps_seat, waits);
	else if (linked && strcmp(member->source, in->source) == 0 &&
		 is_not_found_id(p, member->external_id))
		reason = keep_format(p, "still assigned to the app, but the user no longer exists"
				     " in %s (deleted)", in->source_title);
	else if (linked && strcmp(member->source, in->source) == 0)
		reason = removed_reason(p, member);
	else if (linked)
		reason = keep_format(p, "not assigned in %s (was managed by %s)", in->source_title,
				     member->source);
	else if (in->unassign_unmanaged)
		reason = keep_format(p, "not assigned in %s, and sync.unmanaged_members is unassign",
				     in->source_title);

	if (!reason) {
		*keeps_seat = member->state == MEMBER_ACTIVE;
		*waits = member->state == MEMBER_WAITING &&
			 !p->marks[member_index(p, member)].protected;
		return true;
	}

	entry = add_entry(p, PLAN_UNASSIGN, member, reason);
	if (!entry)
		return false;
	entry->after.state = MEMBER_UNASSIGNED;
	entry->after.state_since = in->now;
	entry->after.drifted = false;
	return true;
}

/* Plans every unclaimed member; kept waiting members join the seat candidates. */
static bool plan_unclaimed_all(struct planner *p, struct candidate *candidates, size_t *count)
{
	for (size_t i = 0; i < p->in->members->count; i++) {
		struct member *member = &p->in->members->items[i];
		bool keeps_seat;
		bool waits;

		if (p->marks[i].claimed_by)
			continue;
		if (!plan_unclaimed(p, member, &keeps_seat, &waits))
			return false;
		if (keeps_seat)
			p->plan->seats_used++;
		if (waits)
			candidates[(*count)++] = (struct candidate){
				.kept = member,
				.email = member->email,
				.external_id = member->external_id ? member->external_id : "",
				.waiting = true,
				.waiting_since = member->state_since,
			};
	}
	return true;
}


/* Step 5: seats. */

static int compare_candidates(const void *a, const void *b)
{
	const struct candidate *x = a;
	const struct candidate *y = b;
	int order;

	if (x->waiting != y->waiting)
		return x->waiting ? -1 : 1;
	if (x->waiting && x->waiting_since != y->waiting_since)
		return x->waiting_since < y->waiting_since ? -1 : 1;

	order = identity_email_compare(x->email, y->email);
	return order ? order : strcmp(x->external_id, y->external_id);
}

/* Gives the kept waiting member of c the free seat. */
static bool give_kept_seat(struct planner *p, struct candidate *c)
{
	struct plan_entry *entry = add_entry(p, PLAN_ASSIGN, c->kept,
					     keep_text(p, "seat became free"));

	if (!entry)
		return false;
	entry->after.state = MEMBER_ACTIVE;
	entry->after.state_since = p->in->now;
	p->plan->seats_used++;
	return true;
}

/* The words a wait reason adds when the row was a manual member adopted by email. */
static const char *adoption_note(const struct match *match)
{
	return match->adopted ? "; existing member adopted by email" : "";
}

/* When the state of c after the plan began: now, or the recorded time of a restored row. */
static int64_t candidate_since(const struct planner *p, const struct candidate *c,
			       enum member_state state)
{
	if (c->restored && c->restored_state == state && c->restored_since > 0)
		return c->restored_since;
	return p->in->now;
}

static bool give_seat(struct planner *p, struct candidate *c)
{
	struct match *match = c->match;
	struct plan_entry *entry;

	if (c->kept)
		return give_kept_seat(p, c);
	entry = add_entry(p, PLAN_ASSIGN, match->member, assign_reason(p, match));

	if (!entry || !apply_identity(p, &entry->after, match->identity))
		return false;
	entry->after.state = MEMBER_ACTIVE;
	entry->after.state_since = candidate_since(p, c, MEMBER_ACTIVE);
	if (!match->member)
		entry->after.created_at = p->in->now;
	p->plan->seats_used++;
	return true;
}

static bool deny_seat(struct planner *p, struct candidate *c)
{
	struct match *match = c->match;
	struct plan_entry *entry;

	if (c->kept)
		return true;
	if (c->waiting && !c->restored)
		return plan_attribute_update(p, match);

	entry = add_entry(p, PLAN_WAIT, match->member, c->restored ? assign_reason(p, match) :
			  keep_format(p, "no free seat: %zu of %ld seats used%s", p->plan->seats_used,
				      p->in->seats, adoption_note(match)));
	if (!entry || !apply_identity(p, &entry->after, match->identity))
		return false;
	entry->after.state = MEMBER_WAITING;
	entry->after.state_since = candidate_since(p, c, MEMBER_WAITING);
	if (!match->member)
		entry->after.created_at = p->in->now;
	return true;
}

static bool hand_out_seats(struct planner *p, struct candidate *candidates, size_t count)
{
	sort_unless_sorted(candidates, count, sizeof(*candidates), compare_candidates);

	for (size_t i = 0; i < count; i++) {
		bool seat_free = p->plan->seats_used < (size_t)p->in->seats;
		bool ok = seat_free ? give_seat(p, &candidates[i]) : deny_seat(p, &candidates[i]);

		if (!ok)
			return false;
	}
	return true;
}

/* Active members who keep their seat, newest seat first when some must go. */
static int compare_newest_seat(const void *a, const void *b)
{
	const struct match *x = *(struct match *const *)a;
	const struct match *y = *(struct match *const *)b;

	if (x->member->state_since != y->member->state_since)
		return x->member->state_since > y->member->state_since ? -1 : 1;
	return x->member->id > y->member->id ? -1 : 1;
}

static bool demote_over_limit(struct planner *p, struct match **staying, size_t count)
{
	size_t excess;

	if (p->plan->seats_used <= (size_t)p->in->seats)
		return true;

	excess = p->plan->seats_used - (size_t)p->in->seats;
	qsort(staying, count, sizeof(*staying), compare_newest_seat);

	for (size_t i = 0; i < count && excess > 0; i++, excess--) {
		struct plan_entry *entry = add_entry(p, PLAN_WAIT, staying[i]->member,
						     keep_format(p, "seat limit lowered to %ld%s",
								 p->in->seats,
								 adoption_note(staying[i])));

		if (!entry || !apply_identity(p, &entry->after, staying[i]->identity))
			return false;
		entry->after.state = MEMBER_WAITING;
		entry->after.state_since = p->in->now;
		staying[i]->skipped = true; /* handled: no attribute update later */
		p->plan->seats_used--;
	}
	return true;
}

static void add_new_candidate(struct candidate *candidates, size_t *count, struct match *match)
{
	match->new_candidate = false;
	candidates[(*count)++] = (struct candidate){
		.match = match,
		.email = match->identity->email,
		.external_id = match->identity->external_id,
	};
}

/*
 * Appends the new candidates in email order, which is their order among the
 * candidates, so that a plan without waiting members needs no sort.  A
 * candidate missing from the email order, which step 2 rules out, is
 * appended after them, and the seat step sorts.  Frees the email order.
 */
static void add_new_candidates(struct planner *p, struct candidate *candidates, size_t *count)
{
	for (size_t i = 0; i < p->by_email_match_count; i++) {
		if (p->by_email_matches[i]->new_candidate)
			add_new_candidate(candidates, count, p->by_email_matches[i]);
	}
	for (size_t i = 0; i < p->in->identities->count; i++) {
		if (p->matches[i].new_candidate)
			add_new_candidate(candidates, count, &p->matches[i]);
	}
	free(p->by_email_matches);
	p->by_email_matches = NULL;
	p->by_email_match_count = 0;
}

/*
 * Reports an inactive identity without a row of its own whose address a
 * seated manual member has.  Inactive identities are matched by id only,
 * because an address can belong to a new person by now.  So the manual
 * member keeps its seat, and the report lets an admin check whether it is
 * the same person.
 */
static bool note_inactive_namesake(struct planner *p, const struct match *match)
{
	const struct identity *identity = match->identity;
	const struct member *seated = identity->email ?
				      find_seated_by_email(p, identity->email) : NULL;

	if (!seated || !member_adoptable(p, seated) || seated->state != MEMBER_ACTIVE)
		return true;
	return add_problem(p, identity,
			   format_text("%s in %s, while the member %s, which the IdP does not "
				       "manage, holds a seat with the same address; if it is the "
				       "same person, remove that member (release the roster first)",
				       inactive_words(identity->status), p->in->source_title,
				       seated->email));
}

/*
 * Fills *c for an identity whose row was deleted outside rostersync while
 * it held a seat or waited for one, and returns true.  A seat holder comes
 * first among the candidates, because its seat is the one the deletion
 * freed.  A waiting member keeps its place in the line.
 */
static bool restored_candidate(const struct planner *p, struct match *match,
			       struct candidate *c)
{
	const struct plan_input *in = p->in;
	const char *id = match->identity->external_id;
	size_t low = 0, high = in->deleted_count;

	if (!in->deleted_states || !in->deleted_since)
		return false;
	while (low < high) {
		size_t mid = low + (high - low) / 2;

		if (strcmp(in->deleted_ids[mid], id) < 0)
			low = mid + 1;
		else
			high = mid;
	}
	if (low == in->deleted_count || strcmp(in->deleted_ids[low], id) != 0 ||
	    in->deleted_states[low] == MEMBER_UNASSIGNED)
		return false;

	*c = (struct candidate){
		.match = match,
		.email = match->identity->email,
		.external_id = id,
		.waiting = true,
		.waiting_since = in->deleted_states[low] == MEMBER_ACTIVE ? 0 : in->deleted_since[low],
		.restored = true,
		.restored_state = in->deleted_states[low],
		.restored_since = in->deleted_since[low],
	};
	return true;
}

/*
 * Sorts every identity into: inactive (unassign or nothing), staying on its
 * seat (maybe an update), or a seat candidate.  Unclaimed active members
 * that stay (manual ones) hold their seats too.
 */
static bool plan_identities(struct planner *p)
{
	size_t n = p->in->identities->count;
	struct candidate *candidates = calloc(n + p->in->members->count + 1, sizeof(*candidates));
	struct match **staying = calloc(n + 1, sizeof(*staying));
	size_t candidate_count = 0, staying_count = 0;
	bool ok = candidates && staying;

	for (size_t i = 0; ok && i < n; i++) {
		struct match *match = &p->matches[i];
		struct member *member = match->member;

		if (match->skipped)
			continue;
		if (match->identity->activity == IDENTITY_INACTIVE) {
			if (member && member->state == MEMBER_UNASSIGNED)
				ok = plan_attribute_update(p, match);
			else if (member)
				ok = plan_inactive(p, match);
			else
				ok = note_inactive_namesake(p, match);
		} else if (member && member->state == MEMBER_ACTIVE) {
			staying[staying_count++] = match;
			p->plan->seats_used++;
		} else if (member && member->state == MEMBER_WAITING) {
			candidates[candidate_count++] = (struct candidate){
				.match = match,
				.email = match->identity->email,
				.external_id = match->identity->external_id,
				.waiting = true,
				.waiting_since = member->state_since,
			};
		} else if (!member && restored_candidate(p, match, &candidates[candidate_count])) {
			candidate_count++;
		} else {
			match->new_candidate = true;
		}
	}
	add_new_candidates(p, candidates, &candidate_count);

	ok = ok && plan_unclaimed_all(p, candidates, &candidate_count);
	ok = ok && demote_over_limit(p, staying, staying_count);
	for (size_t i = 0; ok && i < staying_count; i++) {
		if (!staying[i]->skipped)
			ok = plan_attribute_update(p, staying[i]);
	}
	ok = ok && hand_out_seats(p, candidates, candidate_count);

	free(candidates);
	free(staying);
	return ok;
}

/* Step 6: order, id and threshold. */

static int op_rank(enum plan_op op)
{
	static const int rank[PLAN_OP_COUNT] = {
		[PLAN_UNASSIGN] = 0, [PLAN_UPDATE] = 1, [PLAN_ASSIGN] = 2, [PLAN_WAIT] = 3,
	};

	return rank[op];
}

static int compare_entries(const void *a, const void *b)
{
	const struct plan_entry *x = a;
	const struct plan_entry *y = b;
	int order = op_rank(x->op) - op_rank(y->op);

	if (order)
		return order;
	order = identity_email_compare(x->after.email ? x->after.email : "",
				       y->after.email ? y->after.email : "");
	if (order)
		return order;
	order = compare_text(x->after.external_id, y->after.external_id);
	if (order)
		return order;
	return (x->after.id > y->after.id) - (x->after.id < y->after.id);
}

static void hash_text(EVP_MD_CTX *ctx, const char *text)
{
	if (text)
		EVP_DigestUpdate(ctx, text, strlen(text));
	EVP_DigestUpdate(ctx, "\x1f", 1);
}

/*
 * The plan id: SHA-256 over the roster version and each entry's op, member,
 * ids, email and states.
 */
static bool compute_plan_id(struct plan *plan, int64_t roster_version)
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int digest_len = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	char version[32];

	snprintf(version, sizeof(version), "%lld", (long long)roster_version);
	if (ok)
		hash_text(ctx, version);

	for (size_t i = 0; ok && i < plan->count; i++) {
		const struct plan_entry *e = &plan->entries[i];
		char numbers[64];

		snprintf(numbers, sizeof(numbers), "%lld/%d/%d",
			 e->before ? (long long)e->before->id : 0LL,
			 e->before ? (int)e->before->state : -1, (int)e->after.state);
		hash_text(ctx, plan_op_name(e->op));
		hash_text(ctx, numbers);
		hash_text(ctx, e->after.source);
		hash_text(ctx, e->after.external_id);
		hash_text(ctx, e->after.email);
		EVP_DigestUpdate(ctx, "\x1e", 1);
	}

	ok = ok && EVP_DigestFinal_ex(ctx, digest, &digest_len) && digest_len >= 8;
	for (size_t i = 0; ok && i < 8; i++)
		snprintf(plan->id + 2 * i, 3, "%02x", digest[i]);
	EVP_MD_CTX_free(ctx);
	return ok;
}

bool plan_entry_loses_seat(const struct plan_entry *entry)
{
	return (entry->op == PLAN_UNASSIGN || entry->op == PLAN_WAIT) && entry->before &&
	       entry->before->state == MEMBER_ACTIVE;
}

/* Seat losses of a plan, which the deletion threshold checks. */
struct threshold_count {
	size_t losses;      /* seats taken from active members */
	size_t unassigns;   /* unassigns of active members */
	size_t demoted;     /* active members moved to the waiting list */
};

static void count_for_threshold(const struct plan *plan, struct threshold_count *count)
{
	memset(count, 0, sizeof(*count));
	for (size_t i = 0; i < plan->count; i++) {
		const struct plan_entry *e = &plan->entries[i];

		if (!plan_entry_loses_seat(e))
			continue;
		count->losses++;
		if (e->op == PLAN_UNASSIGN)
			count->unassigns++;
		else
			count->demoted++;
	}
}

/*
 * Writes "N unassigns", or, when some of the losses move active members to
 * the waiting list (a lowered seat limit), "N seat losses (U unassigns, W
 * members moved to the waiting list)".
 */
static void describe_count(const struct threshold_count *count, char *out, size_t size)
{
	if (count->demoted == 0)
		snprintf(out, size, "%zu unassigns", count->losses);
	else
		snprintf(out, size, "%zu seat losses (%zu unassigns, %zu members moved to the "
			 "waiting list)", count->losses, count->unassigns, count->demoted);
}

/*
 * Trips the deletion threshold when the seat losses exceed either limit, or
 * when the IdP returned no user for a roster with members to unassign.  A
 * seat loss is an active member unassigned or moved to the waiting list (a
 * lowered seat limit).  Unassigns of members whose account was suspended or
 * deactivated count like removals.  A waiting member unassigned held no
 * seat, and a member already unassigned produces no unassign, so neither
 * counts.  Returns false only when memory for the reason runs out: the
 * caller then fails the run instead of applying a plan that tripped.
 */
static bool check_threshold(const struct plan_input *in, struct plan *plan)
{
	struct threshold_count count;
	char what[160];
	bool over_count;
	bool over_percent;
	char *reason;

	count_for_threshold(plan, &count);
	over_count = in->max_unassign > 0 && count.losses > (size_t)in->max_unassign;
	over_percent = in->max_unassign_percent > 0 && plan->active_before > 0 &&
		       count.losses * 100 > (size_t)in->max_unassign_percent * plan->active_before;

	describe_count(&count, what, sizeof(what));
	if (in->identities->count == 0 && plan->counts[PLAN_UNASSIGN] > 0)
		reason = format_text("%s returned no assigned users, which would unassign %zu members",
				     in->source_title, plan->counts[PLAN_UNASSIGN]);
	else if (over_count && over_percent)
		reason = format_text("%s exceed sync.max_unassign (%ld) and are more than "
				     "sync.max_unassign_percent (%ld%%) of %zu active members", what,
				     in->max_unassign, in->max_unassign_percent, plan->active_before);
	else if (over_count)
		reason = format_text("%s exceed sync.max_unassign (%ld)", what, in->max_unassign);
	else if (over_percent)
		reason = format_text("%s are more than sync.max_unassign_percent (%ld%%) of %zu "
				     "active members", what, in->max_unassign_percent,
				     plan->active_before);
	else
		return true;

	plan->threshold_tripped = true;
	plan->threshold_reason = reason;
	return reason != NULL;
}

static void planner_release(struct planner *p)
{
	free(p->by_external_id);
	free(p->by_email);
	free(p->marks);
	free(p->matches);
	free(p->by_email_matches);
}

/*
 * Allocates room for the most entries a plan can have: one per identity and
 * one per member.  Pages that no entry uses are never touched, so they cost
 * address space but no memory, and the array is never copied to grow.
 */
static bool reserve_entries(struct planner *p)
{
	size_t most = p->in->identities->count + p->in->members->count + 1;

	p->plan->entries = malloc(most * sizeof(*p->plan->entries));
	if (!p->plan->entries)
		return false;
	p->entries_capacity = most;
	return true;
}

static bool plan_steps(struct planner *p)
{
	const struct identity_set *identities = p->in->identities;

	if (!build_indexes(p) || !reserve_entries(p))
		return false;

	p->matches = calloc(identities->count + 1, sizeof(*p->matches));
	if (!p->matches)
		return false;
	for (size_t i = 0; i < identities->count; i++)
		p->matches[i].identity = &identities->items[i];

	for (size_t i = 0; i < identities->count; i++) {
		if (!screen_identity(p, &p->matches[i]))
			return false;
	}
	if (!screen_email_conflicts(p))
		return false;

	for (size_t i = 0; i < identities->count; i++) {
		if (!p->matches[i].skipped && !match_identity(p, &p->matches[i]))
			return false;
	}
	return plan_identities(p);
}

enum rs_err plan_build(const struct plan_input *in, struct plan *out)
{
	struct planner p = { .in = in, .plan = out };
	bool ok;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < in->members->count; i++) {
		if (in->members->items[i].state == MEMBER_ACTIVE)
			out->active_before++;
	}

	ok = plan_steps(&p);
	planner_release(&p);
	if (ok && out->count > 0)
		sort_unless_sorted(out->entries, out->count, sizeof(*out->entries), compare_entries);
	if (ok)
		ok = compute_plan_id(out, in->roster_version);
	if (!ok) {
		plan_release(out);
		return RS_ERR_INTERNAL;
	}

	if (!check_threshold(in, out)) {
		plan_release(out);
		return RS_ERR_INTERNAL;
	}
	return RS_OK;
}

void plan_release(struct plan *plan)
{
	for (size_t i = 0; i < plan->problem_count; i++) {
		free(plan->problems[i].external_id);
		free(plan->problems[i].email);
		free(plan->problems[i].message);
	}
	free(plan->entries);
	free(plan->problems);
	free(plan->threshold_reason);
	strpool_release(&plan->strings);
	memset(plan, 0, sizeof(*plan));
}
