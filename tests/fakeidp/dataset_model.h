/*
 * dataset_model.h - the inside of struct dataset, shared by dataset.c and
 * the two models that supply its users and groups: records read from the
 * JSON file (dataset_file.c) and generated ones (dataset_synthetic.c).
 * Every other file goes through the accessors in fakeidp.h.
 */
#ifndef FAKEIDP_DATASET_MODEL_H
#define FAKEIDP_DATASET_MODEL_H

#include "churn.h"
#include "fakeidp.h"

/* The accessors of fakeidp.h, implemented once per model. */
struct dataset_model {
	size_t (*assignment_count)(const struct dataset *ds);
	void (*assignment_at)(const struct dataset *ds, size_t i, struct fake_assignment *out);
	size_t (*app_group_count)(const struct dataset *ds);
	void (*app_group_at)(const struct dataset *ds, size_t i, struct fake_group *out,
			     long *priority);
	bool (*find_user)(const struct dataset *ds, const char *key, struct fake_user *out);
	bool (*find_group)(const struct dataset *ds, const char *id, struct fake_group *out);
	size_t (*member_count)(const struct fake_group *group);
	void (*member_at)(const struct fake_group *group, size_t i, struct fake_user *out);
	const char *(*user_id)(const struct fake_user *user);
	bool (*user_field)(const struct fake_user *user, enum user_field field, struct buf *out);
	const char *(*user_status)(const struct fake_user *user);
	const cJSON *(*user_profile)(const struct fake_user *user);
	const cJSON *(*user_raw)(const struct fake_user *user);
	const char *(*group_id)(const struct fake_group *group);
	bool (*group_field)(const struct fake_group *group, enum group_field field,
			    struct buf *out);
};

struct file_user {
	const char *id;
	const cJSON *json;
};

struct file_group {
	const char *id;
	const cJSON *json;
	size_t *members;        /* indices into users, ascending (so by id) */
	size_t member_count;
	long priority;          /* position in assignments.groups, -1 if absent */
};

/* One element of the app-user list. */
struct file_entry {
	size_t user;
	bool by_group;
	size_t group;           /* granting group when by_group */
	unsigned int sub;
};

struct dataset {
	int refs;               /* guarded by the store's lock */
	cJSON *root;            /* the parsed file, or NULL */
	struct dataset_control control;
	struct graph_data *graph;       /* the Graph directory, never NULL once built */
	const struct dataset_model *model;

	/* Filled by dataset_file_load(); users and groups sorted by id. */
	struct file_user *users;
	size_t user_count;
	struct file_group *groups;
	size_t group_count;
	struct file_entry *entries;
	size_t entry_count;
	size_t *app_groups;     /* indices into groups, by id */
	size_t app_group_count;

	/* Set by dataset_synthetic_init(). */
	long synthetic_users;
	long synthetic_groups;
	int user_id_width;
	int group_id_width;

	/* The churn applied to the app-user list; all 0 without --churn. */
	struct churn churn;
};

extern const struct dataset_model dataset_file_model;
extern const struct dataset_model dataset_synthetic_model;

/*
 * Reads "users", "groups", "assignments" and "duplicate_group_entries" of
 * root (which may be NULL) into ds.  On failure err contains the reason, and
 * dataset_file_release() must still be called.
 */
bool dataset_file_load(struct dataset *ds, const cJSON *root, char *err, size_t err_len);
void dataset_file_release(struct dataset *ds);

/*
 * Makes ds serve users generated on the fly, with churn_percent (0 to 100)
 * of them changed as dataset_synthetic.c describes; nothing is allocated.
 */
void dataset_synthetic_init(struct dataset *ds, long users, long groups, long churn_percent);

#endif
