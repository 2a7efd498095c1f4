/*
 * dataset.c - the dataset store: reads the --data file, reloads it whenever
 * it changes, and hands out reference-counted snapshots, so that a request
 * keeps the dataset it started with while another request reloads it.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dataset_model.h"

#define DATASET_DEFAULT_APP_ID "0oaapp1"
#define DATASET_DEFAULT_RATE_LIMIT 100
#define DATASET_MAX_FILE_SIZE (1024L * 1024 * 1024)

/* Keys that may appear with --synthetic or --replay. */
static const char *const control_keys[] = {
	"app_id", "token", "forbidden", "rate_limit", "rate_limit_enforce", "faults", "comment",
	"graph", "oauth", NULL
};
/* Keys that describe users, read by dataset_file.c. */
static const char *const record_keys[] = {
	"users", "groups", "assignments", "duplicate_group_entries", NULL
};

/* What identifies one version of the file, as stat() reports it. */
struct file_signature {
	bool present;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	struct timespec ctime;
};

struct dataset_store {
	pthread_mutex_t lock;
	struct dataset_options options;
	struct dataset *current;        /* NULL while the file is missing or invalid */
	struct file_signature signature;
	bool loaded;                    /* at least one load was attempted */
	char error[512];
};

static void signature_from_stat(const struct stat *st, struct file_signature *out)
{
	memset(out, 0, sizeof(*out));
	out->present = true;
	out->dev = st->st_dev;
	out->ino = st->st_ino;
	out->size = st->st_size;
	out->mtime = st->st_mtim;
	out->ctime = st->st_ctim;
}

static bool signature_equal(const struct file_signature *a, const struct file_signature *b)
{
	return a->present == b->present && a->dev == b->dev && a->ino == b->ino &&
	       a->size == b->size && a->mtime.tv_sec == b->mtime.tv_sec &&
	       a->mtime.tv_nsec == b->mtime.tv_nsec && a->ctime.tv_sec == b->ctime.tv_sec &&
	       a->ctime.tv_nsec == b->ctime.tv_nsec;
}

static bool key_in(const char *key, const char *const *keys)
{
	for (size_t i = 0; keys[i] != NULL; i++) {
		if (strcmp(keys[i], key) == 0)
			return true;
	}
	return false;
}

static bool check_top_keys(const cJSON *root, bool control_only, char *err, size_t err_len)
{
	const cJSON *item;

	cJSON_ArrayForEach(item, root) {
		if (key_in(item->string, control_keys))
			continue;
		if (!key_in(item->string, record_keys)) {
			snprintf(err, err_len, "unknown key \"%s\"", item->string);
			return false;
		}
		if (control_only) {
			snprintf(err, err_len, "\"%s\" is not allowed with --synthetic or --replay, "
				 "which supply the users", item->string);
			return false;
		}
	}
	return true;
}

static bool get_bool(const cJSON *root, const char *key, bool *out, char *err, size_t err_len)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, key);

	if (item == NULL)
		return true;
	if (!cJSON_IsBool(item)) {
		snprintf(err, err_len, "%s: must be true or false", key);
		return false;
	}
	*out = cJSON_IsTrue(item);
	return true;
}

static bool get_string(const cJSON *root, const char *key, bool null_ok, const char **out,
		       char *err, size_t err_len)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, key);

	if (item == NULL || (null_ok && cJSON_IsNull(item)))
		return true;
	if (!cJSON_IsString(item)) {
		snprintf(err, err_len, "%s: must be a string", key);
		return false;
	}
	*out = item->valuestring;
	return true;
}

static bool load_faults(struct dataset *ds, const cJSON *root, char *err, size_t err_len)
{
	const cJSON *faults = cJSON_GetObjectItemCaseSensitive(root, "faults");
	const cJSON *item;
	char reason[256];

	if (faults == NULL || cJSON_IsNull(faults))
		return true;
	if (!cJSON_IsArray(faults)) {
		snprintf(err, err_len, "faults: must be an array");
		return false;
	}
	ds->control.faults = calloc((size_t)cJSON_GetArraySize(faults) + 1, sizeof(struct fault));
	if (ds->control.faults == NULL) {
		snprintf(err, err_len, "out of memory");
		return false;
	}
	cJSON_ArrayForEach(item, faults) {
		if (!fault_parse(item, &ds->control.faults[ds->control.fault_count], reason, sizeof(reason))) {
			snprintf(err, err_len, "faults[%zu]: %s", ds->control.fault_count, reason);
			return false;
		}
		ds->control.fault_count++;
	}
	return true;
}

static bool load_control(struct dataset *ds, const cJSON *root, char *err, size_t err_len)
{
	struct dataset_control *control = &ds->control;
	const cJSON *limit = cJSON_GetObjectItemCaseSensitive(root, "rate_limit");

	if (!get_string(root, "app_id", false, &control->app_id, err, err_len) ||
	    !get_string(root, "token", true, &control->token, err, err_len) ||
	    !get_bool(root, "forbidden", &control->forbidden, err, err_len) ||
	    !get_bool(root, "rate_limit_enforce", &control->rate_limit_enforce, err, err_len))
		return false;

	if (limit != NULL) {
		if (!cJSON_IsNumber(limit) || limit->valuedouble < 0 || limit->valuedouble > 1e9 ||
		    limit->valuedouble != (double)(long)limit->valuedouble) {
			snprintf(err, err_len, "rate_limit: must be a whole number from 0 to 1000000000");
			return false;
		}
		control->rate_limit = (long)limit->valuedouble;
	}
	if (!oauth_settings_parse(cJSON_GetObjectItemCaseSensitive(root, "oauth"), &control->oauth,
				  err, err_len))
		return false;
	return load_faults(ds, root, err, err_len);
}

static void dataset_free(struct dataset *ds)
{
	if (ds == NULL)
		return;
	dataset_file_release(ds);
	graph_data_free(ds->graph);
	free(ds->control.faults);
	oauth_settings_free(ds->control.oauth);
	cJSON_Delete(ds->root);
	free(ds);
}

/* Builds a dataset from root (NULL for none).  Takes root over. */
static struct dataset *dataset_build(const struct dataset_options *options, cJSON *root,
				     char *err, size_t err_len)
{
	struct dataset *ds = calloc(1, sizeof(*ds));

	if (ds == NULL) {
		cJSON_Delete(root);
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	ds->root = root;
	ds->refs = 1;
	ds->control.app_id = DATASET_DEFAULT_APP_ID;
	ds->control.rate_limit = DATASET_DEFAULT_RATE_LIMIT;
	ds->model = &dataset_file_model;

	if (root != NULL && !cJSON_IsObject(root)) {
		snprintf(err, err_len, "the top level must be a JSON object");
		goto fail;
	}
	if (root != NULL && (!check_top_keys(root, options->control_only, err, err_len) ||
			     !load_control(ds, root, err, err_len)))
		goto fail;
	if (!dataset_file_load(ds, root, err, err_len))
		goto fail;
	if (!graph_data_load(root ? cJSON_GetObjectItemCaseSensitive(root, "graph") : NULL,
			     options->synthetic_users, options->synthetic_groups,
			     options->synthetic_churn, &ds->graph, err, err_len))
		goto fail;
	if (options->synthetic_users > 0)
		dataset_synthetic_init(ds, options->synthetic_users, options->synthetic_groups,
				       options->synthetic_churn);
	return ds;

fail:
	dataset_free(ds);
	return NULL;
}

/* Computes the 1-based line and column of offset in text. */
static void text_position(const char *text, size_t offset, int *line, int *column)
{
	*line = 1;
	*column = 1;
	for (size_t i = 0; i < offset && text[i] != '\0'; i++) {
		if (text[i] == '\n') {
			(*line)++;
			*column = 1;
		} else {
			(*column)++;
		}
	}
}

static cJSON *parse_json(const char *text, size_t len, char *err, size_t err_len)
{
	const char *end = NULL;
	cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, false);
	int line;
	int column;

	if (root != NULL)
		return root;
	text_position(text, end ? (size_t)(end - text) : 0, &line, &column);
	snprintf(err, err_len, "invalid JSON at line %d, column %d", line, column);
	return NULL;
}

/*
 * Reads the whole file at fd into *out.  Fails when it changed while being
 * read, so that the caller retries on the next request.
 */
static bool read_whole(int fd, const struct stat *before, char **out, size_t *len,
		       char *err, size_t err_len)
{
	char *text = NULL;
	size_t size = (size_t)before->st_size;
	size_t got = 0;
	struct stat after;

	if (before->st_size > DATASET_MAX_FILE_SIZE) {
		snprintf(err, err_len, "file is larger than %ld bytes", DATASET_MAX_FILE_SIZE);
		return false;
	}
	text = malloc(size + 1);
	if (text == NULL) {
		snprintf(err, err_len, "out of memory");
		return false;
	}
	while (got < size) {
		ssize_t n = read(fd, text + got, size - got);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (fstat(fd, &after) != 0 || got != size || after.st_size != before->st_size ||
	    after.st_mtim.tv_nsec != before->st_mtim.tv_nsec ||
	    after.st_mtim.tv_sec != before->st_mtim.tv_sec) {
		snprintf(err, err_len, "file changed while it was read");
		free(text);
		return false;
	}
	text[size] = '\0';
	*out = text;
	*len = size;
	return true;
}

/*
 * Loads the file into a new dataset.  *signature describes the version read,
 * or has present false when the read must be retried.
 */
static struct dataset *load_file(const struct dataset_options *options,
				 struct file_signature *signature, char *err, size_t err_len)
{
	struct dataset *ds = NULL;
	cJSON *root;
	struct stat st;
	char *text = NULL;
	size_t len = 0;
	int fd = open(options->path, O_RDONLY | O_CLOEXEC);

	memset(signature, 0, sizeof(*signature));
	if (fd < 0 || fstat(fd, &st) != 0) {
		snprintf(err, err_len, "cannot read: %s", strerror(errno));
		goto out;
	}
	if (!read_whole(fd, &st, &text, &len, err, err_len))
		goto out;
	signature_from_stat(&st, signature);
	root = parse_json(text, len, err, err_len);
	if (root != NULL)
		ds = dataset_build(options, root, err, err_len);

out:
	if (fd >= 0)
		close(fd);
	free(text);
	return ds;
}

static void dataset_unref(struct dataset *ds)
{
	if (ds != NULL && --ds->refs == 0)
		dataset_free(ds);
}

static void describe(const struct dataset *ds, char *out, size_t len)
{
	if (ds->synthetic_users > 0)
		snprintf(out, len, "%ld synthetic users, %ld groups, churn: %ld unassigned, "
			 "%ld renamed, %ld added", ds->synthetic_users, ds->synthetic_groups,
			 ds->churn.unassigned, ds->churn.unassigned, ds->churn.added);
	else
		snprintf(out, len, "%zu users, %zu groups, %zu app-user entries, %zu faults",
			 ds->user_count, ds->group_count, ds->entry_count, ds->control.fault_count);
}

/* Reloads the file when it differs from the version loaded last.  Locked. */
static void store_refresh(struct dataset_store *store)
{
	struct file_signature now = { 0 };
	struct file_signature read_version;
	struct dataset *next;
	struct stat st;
	char summary[160];

	if (stat(store->options.path, &st) == 0)
		signature_from_stat(&st, &now);
	if (store->loaded && now.present && signature_equal(&now, &store->signature))
		return;
	if (store->loaded && !now.present && !store->signature.present && store->current == NULL)
		return;

	store->error[0] = '\0';
	next = load_file(&store->options, &read_version, store->error, sizeof(store->error));
	store->loaded = true;
	store->signature = read_version;
	dataset_unref(store->current);
	store->current = next;
	if (next == NULL) {
		fprintf(stderr, "fakeidp: dataset %s is invalid: %s; every request gets 500 "
			"until the file is fixed\n", store->options.path, store->error);
		return;
	}
	describe(next, summary, sizeof(summary));
	fprintf(stderr, "fakeidp: loaded dataset %s: %s\n", store->options.path, summary);
}

struct dataset_store *dataset_store_new(const struct dataset_options *options)
{
	struct dataset_store *store = calloc(1, sizeof(*store));

	if (store == NULL)
		return NULL;
	if (pthread_mutex_init(&store->lock, NULL) != 0) {
		free(store);
		return NULL;
	}
	store->options = *options;
	return store;
}

void dataset_store_free(struct dataset_store *store)
{
	if (store == NULL)
		return;
	dataset_unref(store->current);
	pthread_mutex_destroy(&store->lock);
	free(store);
}

struct dataset *dataset_store_acquire(struct dataset_store *store, char *err, size_t err_len)
{
	struct dataset *ds;

	pthread_mutex_lock(&store->lock);
	if (store->options.path != NULL) {
		store_refresh(store);
	} else if (!store->loaded) {
		store->current = dataset_build(&store->options, NULL, store->error, sizeof(store->error));
		store->loaded = true;
	}
	ds = store->current;
	if (ds != NULL)
		ds->refs++;
	else
		snprintf(err, err_len, "%s", store->error);
	pthread_mutex_unlock(&store->lock);
	return ds;
}

void dataset_store_release(struct dataset_store *store, struct dataset *ds)
{
	pthread_mutex_lock(&store->lock);
	dataset_unref(ds);
	pthread_mutex_unlock(&store->lock);
}

/* ---- accessors: forward to the model ------------------------------------ */

const struct dataset_control *dataset_control(const struct dataset *ds)
{
	return &ds->control;
}

const struct graph_data *dataset_graph(const struct dataset *ds)
{
	return ds->graph;
}

size_t dataset_assignment_count(const struct dataset *ds)
{
	return ds->model->assignment_count(ds);
}

void dataset_assignment_at(const struct dataset *ds, size_t i, struct fake_assignment *out)
{
	ds->model->assignment_at(ds, i, out);
}

size_t dataset_app_group_count(const struct dataset *ds)
{
	return ds->model->app_group_count(ds);
}

void dataset_app_group_at(const struct dataset *ds, size_t i, struct fake_group *out,
			  long *priority)
{
	ds->model->app_group_at(ds, i, out, priority);
}

bool dataset_find_user(const struct dataset *ds, const char *key, struct fake_user *out)
{
	return ds->model->find_user(ds, key, out);
}

bool dataset_find_group(const struct dataset *ds, const char *id, struct fake_group *out)
{
	return ds->model->find_group(ds, id, out);
}

size_t dataset_member_count(const struct fake_group *group)
{
	return group->dataset->model->member_count(group);
}

void dataset_member_at(const struct fake_group *group, size_t i, struct fake_user *out)
{
	group->dataset->model->member_at(group, i, out);
}

const char *user_id(const struct fake_user *user)
{
	return user->dataset->model->user_id(user);
}

bool user_field(const struct fake_user *user, enum user_field field, struct buf *out)
{
	return user->dataset->model->user_field(user, field, out);
}

const char *user_status(const struct fake_user *user)
{
	return user->dataset->model->user_status(user);
}

const cJSON *user_profile(const struct fake_user *user)
{
	return user->dataset->model->user_profile(user);
}

const cJSON *user_raw(const struct fake_user *user)
{
	return user->dataset->model->user_raw(user);
}

const char *group_id(const struct fake_group *group)
{
	return group->dataset->model->group_id(group);
}

bool group_field(const struct fake_group *group, enum group_field field, struct buf *out)
{
	return group->dataset->model->group_field(group, field, out);
}
