/*
 * oauth.c - the OAuth 2.0 token endpoints of the fake IdP and the check of
 * the access tokens they issue.
 *
 *   POST /oauth2/v1/token                 Okta org authorization server:
 *                                         private_key_jwt client assertion,
 *                                         DPoP proof with the nonce round
 *   POST /{tenant}/oauth2/v2.0/token      Microsoft identity platform:
 *                                         client secret or certificate
 *                                         assertion (x5t#S256 or x5t)
 *
 * Both read the dataset's "oauth" settings and issue opaque random tokens.
 * A client assertion or DPoP proof whose jti was seen before is refused.
 * Issued tokens live in one table for the whole process, so they survive
 * dataset reloads.  Okta and Graph routes accept them through
 * oauth_check_api().  Error bodies have each server's shape: Okta's
 * {error, error_description}, and Entra's with error_codes, trace_id and
 * correlation_id.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/rand.h>

#include "fakeidp.h"
#include "oauth_jwt.h"

/* Issued tokens kept; the oldest is dropped when the table is full. */
#define TOKEN_SLOTS 512
/* Client assertion ids remembered to reject a replayed assertion. */
#define JTI_SLOTS 1024
/* Accepted clock difference for iat and nbf, in seconds. */
#define CLOCK_SKEW 300
/* Maximum client assertion lifetime Okta accepts, in seconds. */
#define OKTA_MAX_ASSERTION_LIFETIME 3600

#define JWT_BEARER "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

struct oauth_settings {
	const char *client_id;
	EVP_PKEY *public_key;           /* from public_key_pem; NULL when absent */
	const char *key_id;             /* required kid, or NULL */
	const char *client_secret;      /* Entra; NULL rejects every secret */
	bool client_secret_expired;
	const char *thumbprint_s256;    /* x5t#S256 of the Entra certificate */
	const char *thumbprint_sha1;    /* x5t of the Entra certificate */
	const char *tenant;             /* Entra tenant in the path; NULL accepts any */
	const char *scope;              /* Entra scope; NULL: <origin>/.default */
	const cJSON *scopes;            /* Okta scopes that may be granted */
	bool require_dpop;
	double token_lifetime;          /* seconds a token is accepted */
	long expires_in;                /* seconds reported in the response */
	const char *nonce;              /* DPoP nonce of the token endpoint */
	const char *api_nonce;          /* DPoP nonce the API requires */
};

/* One issued access token. */
struct issued {
	char token[48];
	char jkt[48];                   /* DPoP key thumbprint; "" for Bearer */
	enum oauth_issuer issuer;
	double expires;                 /* wall-clock seconds */
};

static pthread_mutex_t store_lock = PTHREAD_MUTEX_INITIALIZER;
static struct issued issued[TOKEN_SLOTS];
static size_t issued_next;
static char used_jti[JTI_SLOTS][80];
static size_t jti_next;

static double wall_clock(void)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

/* ---- settings ---- */

static const char *const setting_keys[] = {
	"client_id", "public_key_pem", "key_id", "client_secret", "client_secret_expired",
	"certificate_thumbprint_s256", "certificate_thumbprint_sha1", "tenant", "scope",
	"scopes", "require_dpop", "token_lifetime", "expires_in", "nonce", "api_nonce",
	"comment", NULL
};

static bool setting_text(const cJSON *item, const char *key, const char **out,
			 char *err, size_t err_len)
{
	const cJSON *value = cJSON_GetObjectItemCaseSensitive(item, key);

	if (value == NULL || cJSON_IsNull(value))
		return true;
	if (!cJSON_IsString(value)) {
		snprintf(err, err_len, "oauth.%s: must be a string", key);
		return false;
	}
	*out = value->valuestring;
	return true;
}

static bool setting_bool(const cJSON *item, const char *key, bool *out, char *err, size_t err_len)
{
	const cJSON *value = cJSON_GetObjectItemCaseSensitive(item, key);

	if (value == NULL)
		return true;
	if (!cJSON_IsBool(value)) {
		snprintf(err, err_len, "oauth.%s: must be true or false", key);
		return false;
	}
	*out = cJSON_IsTrue(value);
	return true;
}

static bool setting_seconds(const cJSON *item, const char *key, double *out,
			    char *err, size_t err_len)
{
	const cJSON *value = cJSON_GetObjectItemCaseSensitive(item, key);

	if (value == NULL)
		return true;
	if (!cJSON_IsNumber(value) || !(value->valuedouble > 0 && value->valuedouble <= 86400)) {
		snprintf(err, err_len, "oauth.%s: must be a number of seconds from 0 to 86400", key);
		return false;
	}
	*out = value->valuedouble;
	return true;
}

static bool check_setting_keys(const cJSON *item, char *err, size_t err_len)
{
	const cJSON *member;

	cJSON_ArrayForEach(member, item) {
		size_t i = 0;

		while (setting_keys[i] != NULL && strcmp(setting_keys[i], member->string) != 0)
			i++;
		if (setting_keys[i] == NULL) {
			snprintf(err, err_len, "oauth: unknown key \"%s\"", member->string);
			return false;
		}
	}
	return true;
}

static bool read_settings(const cJSON *item, struct oauth_settings *s, char *err, size_t err_len)
{
	const char *pem = NULL;
	double expires_in = 0;

	if (!check_setting_keys(item, err, err_len) ||
	    !setting_text(item, "client_id", &s->client_id, err, err_len) ||
	    !setting_text(item, "public_key_pem", &pem, err, err_len) ||
	    !setting_text(item, "key_id", &s->key_id, err, err_len) ||
	    !setting_text(item, "client_secret", &s->client_secret, err, err_len) ||
	    !setting_bool(item, "client_secret_expired", &s->client_secret_expired, err, err_len) ||
	    !setting_text(item, "certificate_thumbprint_s256", &s->thumbprint_s256, err, err_len) ||
	    !setting_text(item, "certificate_thumbprint_sha1", &s->thumbprint_sha1, err, err_len) ||
	    !setting_text(item, "tenant", &s->tenant, err, err_len) ||
	    !setting_text(item, "scope", &s->scope, err, err_len) ||
	    !setting_bool(item, "require_dpop", &s->require_dpop, err, err_len) ||
	    !setting_seconds(item, "token_lifetime", &s->token_lifetime, err, err_len) ||
	    !setting_seconds(item, "expires_in", &expires_in, err, err_len) ||
	    !setting_text(item, "nonce", &s->nonce, err, err_len) ||
	    !setting_text(item, "api_nonce", &s->api_nonce, err, err_len))
		return false;

	s->expires_in = expires_in > 0 ? (long)ceil(expires_in) : (long)ceil(s->token_lifetime);
	s->scopes = cJSON_GetObjectItemCaseSensitive(item, "scopes");
	if (s->scopes != NULL && !cJSON_IsArray(s->scopes)) {
		snprintf(err, err_len, "oauth.scopes: must be an array of strings");
		return false;
	}
	if (pem != NULL) {
		s->public_key = fake_public_key_from_pem(pem);
		if (s->public_key == NULL) {
			snprintf(err, err_len, "oauth.public_key_pem: not a PEM public key");
			return false;
		}
	}
	return true;
}

bool oauth_settings_parse(const cJSON *item, struct oauth_settings **out, char *err, size_t err_len)
{
	struct oauth_settings *settings;

	*out = NULL;
	if (item == NULL || cJSON_IsNull(item))
		return true;
	if (!cJSON_IsObject(item)) {
		snprintf(err, err_len, "oauth: must be an object");
		return false;
	}
	settings = calloc(1, sizeof(*settings));
	if (settings == NULL) {
		snprintf(err, err_len, "out of memory");
		return false;
	}
	settings->token_lifetime = 3600;
	if (!read_settings(item, settings, err, err_len)) {
		oauth_settings_free(settings);
		return false;
	}
	*out = settings;
	return true;
}

void oauth_settings_free(struct oauth_settings *settings)
{
	if (settings == NULL)
		return;
	EVP_PKEY_free(settings->public_key);
	free(settings);
}

/* ---- the token table ---- */

static bool new_token(char out[48])
{
	unsigned char bytes[32];
	char *text;

	if (RAND_bytes(bytes, sizeof(bytes)) != 1)
		return false;
	text = fake_base64url(bytes, sizeof(bytes));
	if (text == NULL)
		return false;
	snprintf(out, 48, "%s", text);
	free(text);
	return true;
}

static void store_token(const struct issued *token)
{
	pthread_mutex_lock(&store_lock);
	issued[issued_next] = *token;
	issued_next = (issued_next + 1) % TOKEN_SLOTS;
	pthread_mutex_unlock(&store_lock);
}

/* Copies the issued token equal to text into *out; false when unknown. */
static bool find_token(const char *text, enum oauth_issuer issuer, struct issued *out)
{
	bool found = false;

	pthread_mutex_lock(&store_lock);
	for (size_t i = 0; i < TOKEN_SLOTS && !found; i++) {
		if (issued[i].token[0] != '\0' && issued[i].issuer == issuer &&
		    strcmp(issued[i].token, text) == 0) {
			*out = issued[i];
			found = true;
		}
	}
	pthread_mutex_unlock(&store_lock);
	return found;
}

/* Records jti; false when it was used before. */
static bool claim_jti(const char *jti)
{
	bool fresh = true;

	pthread_mutex_lock(&store_lock);
	for (size_t i = 0; i < JTI_SLOTS && fresh; i++) {
		if (strcmp(used_jti[i], jti) == 0)
			fresh = false;
	}
	if (fresh) {
		snprintf(used_jti[jti_next], sizeof(used_jti[0]), "%s", jti);
		jti_next = (jti_next + 1) % JTI_SLOTS;
	}
	pthread_mutex_unlock(&store_lock);
	return fresh;
}

/* ---- requests ---- */

bool oauth_path(const char *path)
{
	const char *entra = "/oauth2/v2.0/token";
	const char *slash;

	if (strcmp(path, "/oauth2/v1/token") == 0)
		return true;
	slash = path[0] == '/' ? strchr(path + 1, '/') : NULL;
	return slash != NULL && slash > path + 1 && strcmp(slash, entra) == 0;
}

/* The decoded fields of an application/x-www-form-urlencoded body. */
struct form {
	char *names[16];
	char *values[16];
	size_t count;
};

static void form_parse(const struct buf *body, struct form *form)
{
	const char *p = body->data ? body->data : "";
	const char *end = p + body->len;

	memset(form, 0, sizeof(*form));
	while (p < end && form->count < 16) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *field_end = amp ? amp : end;
		const char *eq = memchr(p, '=', (size_t)(field_end - p));

		if (eq != NULL) {
			form->names[form->count] = percent_decode(p, (size_t)(eq - p), true);
			form->values[form->count] = percent_decode(eq + 1, (size_t)(field_end - eq - 1),
								   true);
			form->count++;
		}
		p = field_end + 1;
	}
}

static const char *form_get(const struct form *form, const char *name)
{
	for (size_t i = 0; i < form->count; i++) {
		if (form->names[i] != NULL && strcmp(form->names[i], name) == 0)
			return form->values[i];
	}
	return NULL;
}

static void form_release(struct form *form)
{
	for (size_t i = 0; i < form->count; i++) {
		free(form->names[i]);
		free(form->values[i]);
	}
}

/* The absolute URL of the request without its query: origin and path. */
static void request_url(const struct fake_exchange *ex, char *out, size_t size)
{
	snprintf(out, size, "%s%s", ex->origin, ex->request->path);
}

static const struct oauth_settings *settings_of(const struct fake_exchange *ex)
{
	return dataset_control(ex->dataset)->oauth;
}

/* ---- error bodies ---- */

static void okta_token_error(struct fake_exchange *ex, unsigned int status, const char *error,
			     const char *description)
{
	struct buf *b = &ex->response.body;

	response_release(&ex->response);
	ex->response.status = status;
	BUF_LIT(b, "{\"error\":");
	buf_json_string(b, error);
	BUF_LIT(b, ",\"error_description\":");
	buf_json_string(b, description);
	BUF_LIT(b, "}");
}

/* A GUID made from the exchange, for trace and correlation ids. */
static void exchange_guid(const struct fake_exchange *ex, const char *salt, char out[37])
{
	char id[33];

	exchange_make_id(ex, salt, id, sizeof(id));
	for (size_t i = 0; i < 32; i++)
		id[i] = "0123456789abcdef"[(unsigned char)id[i] % 16];
	snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", id, id + 8, id + 12, id + 16, id + 20);
}

static void entra_token_error(struct fake_exchange *ex, unsigned int status, const char *error,
			      long code, const char *message)
{
	struct buf *b = &ex->response.body;
	struct buf description;
	char trace[37];
	char correlation[37];
	char timestamp[32];
	time_t now = time(NULL);
	struct tm tm;

	exchange_guid(ex, "trace", trace);
	exchange_guid(ex, "correlation", correlation);
	gmtime_r(&now, &tm);
	strftime(timestamp, sizeof(timestamp), "%Y-%m-%d %H:%M:%SZ", &tm);
	buf_init(&description);
	buf_printf(&description, "AADSTS%ld: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\n"
		   "Timestamp: %s", code, message, trace, correlation, timestamp);

	response_release(&ex->response);
	ex->response.status = status;
	BUF_LIT(b, "{\"error\":");
	buf_json_string(b, error);
	BUF_LIT(b, ",\"error_description\":");
	buf_json_string(b, description.failed ? message : description.data);
	buf_printf(b, ",\"error_codes\":[%ld],\"timestamp\":", code);
	buf_json_string(b, timestamp);
	BUF_LIT(b, ",\"trace_id\":");
	buf_json_string(b, trace);
	BUF_LIT(b, ",\"correlation_id\":");
	buf_json_string(b, correlation);
	buf_printf(b, ",\"error_uri\":\"https://login.microsoftonline.com/error?code=%ld\"}", code);
	buf_release(&description);
}

/* ---- DPoP proofs ---- */

/* What a DPoP proof must match. */
struct proof_check {
	const char *method;
	const char *url;
	const char *nonce;              /* required nonce, or NULL */
	const char *access_token;       /* required ath source, or NULL */
};

enum proof_result { PROOF_VALID, PROOF_INVALID, PROOF_NEEDS_NONCE };

/* Verifies proof; on success copies its key thumbprint into jkt. */
static enum proof_result check_proof(const char *proof, const struct proof_check *check,
				     char jkt[48], const char **reason)
{
	struct fake_jwt jwt;
	const cJSON *jwk;
	EVP_PKEY *key = NULL;
	const char *typ;
	const char *alg;
	const char *nonce;
	char *ath = NULL;
	char *thumbprint = NULL;
	double iat = 0;
	enum proof_result result = PROOF_INVALID;

	if (!fake_jwt_parse(proof, &jwt)) {
		*reason = "The DPoP proof JWT is malformed.";
		return PROOF_INVALID;
	}
	typ = fake_jwt_text(jwt.header, "typ");
	alg = fake_jwt_text(jwt.header, "alg");
	jwk = cJSON_GetObjectItemCaseSensitive(jwt.header, "jwk");
	key = fake_public_key_from_jwk(jwk);
	nonce = fake_jwt_text(jwt.claims, "nonce");
	ath = check->access_token ? fake_sha256_base64url(check->access_token) : NULL;

	if (typ == NULL || strcmp(typ, "dpop+jwt") != 0) {
		*reason = "The DPoP proof JWT 'typ' header is invalid.";
	} else if (alg == NULL || strcmp(alg, "ES256") != 0 || key == NULL) {
		*reason = "The DPoP proof JWT header 'jwk' or 'alg' is invalid.";
	} else if (!fake_jwt_verify(&jwt, key, alg)) {
		*reason = "The DPoP proof JWT signature is invalid.";
	} else if (!fake_jwt_text(jwt.claims, "jti")) {
		*reason = "The DPoP proof JWT is missing the 'jti' claim.";
	} else if (!fake_jwt_number(jwt.claims, "iat", &iat) || fabs(iat - wall_clock()) > CLOCK_SKEW) {
		*reason = "The DPoP proof JWT 'iat' claim is invalid.";
	} else if (!fake_jwt_text(jwt.claims, "htm") ||
		   strcmp(fake_jwt_text(jwt.claims, "htm"), check->method) != 0) {
		*reason = "'htm' claim in the DPoP proof JWT is invalid.";
	} else if (!fake_jwt_text(jwt.claims, "htu") ||
		   strcmp(fake_jwt_text(jwt.claims, "htu"), check->url) != 0) {
		*reason = "'htu' claim in the DPoP proof JWT is invalid.";
	} else if (ath != NULL && (!fake_jwt_text(jwt.claims, "ath") ||
				   strcmp(fake_jwt_text(jwt.claims, "ath"), ath) != 0)) {
		*reason = "'ath' claim in the DPoP proof JWT is invalid.";
	} else if (check->nonce != NULL && (nonce == NULL || strcmp(nonce, check->nonce) != 0)) {
		*reason = "Authorization server requires nonce in DPoP proof.";
		result = PROOF_NEEDS_NONCE;
	} else if (!claim_jti(fake_jwt_text(jwt.claims, "jti"))) {
		*reason = "The DPoP proof JWT has already been used.";
	} else {
		thumbprint = fake_jwk_thumbprint(jwk);
		if (thumbprint != NULL) {
			snprintf(jkt, 48, "%s", thumbprint);
			result = PROOF_VALID;
		}
	}

	free(thumbprint);
	free(ath);
	EVP_PKEY_free(key);
	fake_jwt_release(&jwt);
	return result;
}

/* ---- client assertions ---- */

enum assertion_result {
	ASSERTION_VALID,
	ASSERTION_BAD_SIGNATURE,        /* Entra 700027 */
	ASSERTION_BAD_TIME,             /* Entra 700024 */
	ASSERTION_BAD_CLAIMS,
	ASSERTION_REPLAYED,
};

/* Checks the header: kid for Okta, the certificate thumbprint for Entra. */
static bool assertion_header_valid(const struct fake_jwt *jwt, const struct oauth_settings *s,
				   enum oauth_issuer issuer)
{
	const char *kid = fake_jwt_text(jwt->header, "kid");
	const char *s256 = fake_jwt_text(jwt->header, "x5t#S256");
	const char *sha1 = fake_jwt_text(jwt->header, "x5t");

	if (issuer == OAUTH_ISSUER_OKTA)
		return s->key_id == NULL || (kid != NULL && strcmp(kid, s->key_id) == 0);
	if (s256 != NULL)
		return s->thumbprint_s256 != NULL && strcmp(s256, s->thumbprint_s256) == 0;
	return sha1 != NULL && s->thumbprint_sha1 != NULL && strcmp(sha1, s->thumbprint_sha1) == 0;
}

static enum assertion_result check_claims(const struct fake_jwt *jwt, const struct oauth_settings *s,
					  const char *audience, enum oauth_issuer issuer,
					  const char **reason)
{
	const char *iss = fake_jwt_text(jwt->claims, "iss");
	const char *sub = fake_jwt_text(jwt->claims, "sub");
	const char *aud = fake_jwt_text(jwt->claims, "aud");
	const char *jti = fake_jwt_text(jwt->claims, "jti");
	double now = wall_clock();
	double exp = 0;
	double nbf = 0;

	if (iss == NULL || sub == NULL || s->client_id == NULL || strcmp(iss, s->client_id) != 0 ||
	    strcmp(sub, s->client_id) != 0) {
		*reason = "The client_assertion token has an invalid issuer or subject.";
		return ASSERTION_BAD_CLAIMS;
	}
	if (aud == NULL || strcmp(aud, audience) != 0) {
		*reason = "The audience claim for client_assertion must be the endpoint invoked "
			  "for the request.";
		return ASSERTION_BAD_CLAIMS;
	}
	if (!fake_jwt_number(jwt->claims, "exp", &exp) || exp <= now ||
	    (issuer == OAUTH_ISSUER_OKTA && exp > now + OKTA_MAX_ASSERTION_LIFETIME) ||
	    (fake_jwt_number(jwt->claims, "nbf", &nbf) && nbf > now + CLOCK_SKEW)) {
		*reason = "Client assertion is not within its valid time range.";
		return ASSERTION_BAD_TIME;
	}
	if (jti == NULL || !claim_jti(jti)) {
		*reason = "The client_assertion token has already been used or has no jti.";
		return ASSERTION_REPLAYED;
	}
	return ASSERTION_VALID;
}

static enum assertion_result check_assertion(const char *assertion, const struct oauth_settings *s,
					     const char *audience, enum oauth_issuer issuer,
					     const char **reason)
{
	struct fake_jwt jwt;
	const char *alg;
	enum assertion_result result;

	if (!fake_jwt_parse(assertion, &jwt)) {
		*reason = "The client_assertion is not a valid JWT.";
		return ASSERTION_BAD_CLAIMS;
	}
	alg = fake_jwt_text(jwt.header, "alg");
	if (s->public_key == NULL || alg == NULL || !assertion_header_valid(&jwt, s, issuer) ||
	    !fake_jwt_verify(&jwt, s->public_key, alg)) {
		*reason = "The client_assertion signature is invalid.";
		result = ASSERTION_BAD_SIGNATURE;
	} else {
		result = check_claims(&jwt, s, audience, issuer, reason);
	}
	fake_jwt_release(&jwt);
	return result;
}

/* ---- issuing ---- */

static void issue_token(struct fake_exchange *ex, enum oauth_issuer issuer, const char *jkt,
			const char *scope)
{
	const struct oauth_settings *s = settings_of(ex);
	struct issued token = { .issuer = issuer, .expires = wall_clock() + s->token_lifetime };
	struct buf *b = &ex->response.body;

	if (!new_token(token.token)) {
		okta_token_error(ex, 500, "server_error", "fakeidp: no randomness");
		return;
	}
	snprintf(token.jkt, sizeof(token.jkt), "%s", jkt ? jkt : "");
	store_token(&token);

	response_release(&ex->response);
	ex->response.status = 200;
	buf_printf(b, "{\"token_type\":\"%s\",\"expires_in\":%ld,", jkt ? "DPoP" : "Bearer",
		   s->expires_in);
	if (issuer == OAUTH_ISSUER_ENTRA)
		buf_printf(b, "\"ext_expires_in\":%ld,", s->expires_in);
	BUF_LIT(b, "\"access_token\":");
	buf_json_string(b, token.token);
	if (scope != NULL) {
		BUF_LIT(b, ",\"scope\":");
		buf_json_string(b, scope);
	}
	BUF_LIT(b, "}");
}

/* True when every space-separated scope of requested is in the allowed list. */
static bool okta_scopes_allowed(const struct oauth_settings *s, const char *requested,
				const char **denied_out, char *denied, size_t denied_size)
{
	static const char *const defaults[] = {
		"okta.apps.read", "okta.users.read", "okta.groups.read", NULL
	};
	char *copy = strdup(requested);
	char *save = NULL;
	bool ok = copy != NULL && requested[0] != '\0';

	for (char *scope = copy ? strtok_r(copy, " ", &save) : NULL; ok && scope != NULL;
	     scope = strtok_r(NULL, " ", &save)) {
		bool found = false;
		const cJSON *item;

		if (s->scopes != NULL) {
			cJSON_ArrayForEach(item, s->scopes)
				found = found || (cJSON_IsString(item) &&
						  strcmp(item->valuestring, scope) == 0);
		} else {
			for (size_t i = 0; defaults[i] != NULL; i++)
				found = found || strcmp(defaults[i], scope) == 0;
		}
		if (!found) {
			snprintf(denied, denied_size, "The following scopes are not allowed: [%s]",
				 scope);
			*denied_out = denied;
			ok = false;
		}
	}
	free(copy);
	return ok;
}

/* Checks the DPoP proof of a token request; false after writing the error. */
static bool okta_token_proof(struct fake_exchange *ex, const struct oauth_settings *s,
			     const char *url, char jkt[48], bool *bound)
{
	const char *proof = request_header(ex->request, "dpop");
	struct proof_check check = { "POST", url, s->nonce, NULL };
	const char *reason = NULL;
	enum proof_result result;

	*bound = false;
	if (proof == NULL) {
		if (!s->require_dpop)
			return true;
		okta_token_error(ex, 400, "invalid_dpop_proof", "The DPoP proof JWT header is missing.");
		return false;
	}
	result = check_proof(proof, &check, jkt, &reason);
	if (result == PROOF_VALID) {
		*bound = true;
		return true;
	}
	if (result == PROOF_NEEDS_NONCE)
		okta_token_error(ex, 400, "use_dpop_nonce", reason);
	else
		okta_token_error(ex, 400, "invalid_dpop_proof", reason);
	return false;
}

static void okta_token(struct fake_exchange *ex, const struct oauth_settings *s,
		       const struct form *form)
{
	const char *grant = form_get(form, "grant_type");
	const char *scope = form_get(form, "scope");
	const char *type = form_get(form, "client_assertion_type");
	const char *assertion = form_get(form, "client_assertion");
	const char *reason = "Client authentication failed.";
	char denied[256];
	char url[600];
	char jkt[48] = "";
	bool bound;

	request_url(ex, url, sizeof(url));
	if (grant == NULL || strcmp(grant, "client_credentials") != 0) {
		okta_token_error(ex, 400, "unsupported_grant_type",
				 "The authorization grant type is not supported.");
		return;
	}
	if (!okta_token_proof(ex, s, url, jkt, &bound))
		return;
	if (type == NULL || strcmp(type, JWT_BEARER) != 0 || assertion == NULL ||
	    check_assertion(assertion, s, url, OAUTH_ISSUER_OKTA, &reason) != ASSERTION_VALID) {
		okta_token_error(ex, 401, "invalid_client", reason);
		return;
	}
	if (scope == NULL || !okta_scopes_allowed(s, scope, &reason, denied, sizeof(denied))) {
		okta_token_error(ex, 400, "invalid_scope", scope ? reason :
				 "The 'scope' parameter is missing.");
		return;
	}
	issue_token(ex, OAUTH_ISSUER_OKTA, bound ? jkt : NULL, scope);
}

/* Authenticates the Entra client by its secret or its assertion; false after the error. */
static bool entra_client_valid(struct fake_exchange *ex, const struct oauth_settings *s,
			       const struct form *form, const char *url)
{
	const char *secret = form_get(form, "client_secret");
	const char *assertion = form_get(form, "client_assertion");
	const char *type = form_get(form, "client_assertion_type");
	const char *reason = NULL;
	char message[512];

	if (secret != NULL) {
		snprintf(message, sizeof(message), "Invalid client secret provided. Ensure the "
			 "secret being sent in the request is the client secret value, not the "
			 "client secret ID, for a secret added to app '%s'.", s->client_id);
		if (s->client_secret == NULL || strcmp(secret, s->client_secret) != 0)
			entra_token_error(ex, 401, "invalid_client", 7000215, message);
		else if (s->client_secret_expired)
			entra_token_error(ex, 401, "invalid_client", 7000222,
					  "The provided client secret keys are expired.");
		else
			return true;
		return false;
	}
	if (assertion == NULL || type == NULL || strcmp(type, JWT_BEARER) != 0) {
		entra_token_error(ex, 400, "invalid_client", 7000218, "The request body must "
				  "contain the following parameter: 'client_assertion' or "
				  "'client_secret'.");
		return false;
	}
	switch (check_assertion(assertion, s, url, OAUTH_ISSUER_ENTRA, &reason)) {
	case ASSERTION_VALID:
		return true;
	case ASSERTION_BAD_SIGNATURE:
		entra_token_error(ex, 401, "invalid_client", 700027,
				  "Client assertion failed signature validation.");
		break;
	case ASSERTION_BAD_TIME:
		entra_token_error(ex, 400, "invalid_client", 700024, reason);
		break;
	default:
		entra_token_error(ex, 400, "invalid_client", 700021, reason);
		break;
	}
	return false;
}

static void entra_token(struct fake_exchange *ex, const struct oauth_settings *s,
			const struct form *form)
{
	const char *grant = form_get(form, "grant_type");
	const char *client_id = form_get(form, "client_id");
	const char *scope = form_get(form, "scope");
	char tenant[256];
	char message[700];
	char expected_scope[400];
	char url[600];
	size_t tenant_len = strcspn(ex->request->path + 1, "/");

	request_url(ex, url, sizeof(url));
	snprintf(tenant, sizeof(tenant), "%.*s", (int)tenant_len, ex->request->path + 1);
	snprintf(expected_scope, sizeof(expected_scope), "%s/.default", ex->origin);
	if (s->tenant != NULL && strcmp(tenant, s->tenant) != 0) {
		snprintf(message, sizeof(message), "Tenant '%s' not found. Check to make sure you "
			 "have the correct tenant ID and are signing into the correct cloud.", tenant);
		entra_token_error(ex, 400, "invalid_tenant", 90002, message);
	} else if (grant == NULL || strcmp(grant, "client_credentials") != 0) {
		entra_token_error(ex, 400, "unsupported_grant_type", 70003,
				  "The app requested an unsupported grant type.");
	} else if (client_id == NULL || s->client_id == NULL || strcmp(client_id, s->client_id) != 0) {
		snprintf(message, sizeof(message), "Application with identifier '%s' was not found "
			 "in the directory '%s'.", client_id ? client_id : "", tenant);
		entra_token_error(ex, 400, "unauthorized_client", 700016, message);
	} else if (scope == NULL || strcmp(scope, s->scope ? s->scope : expected_scope) != 0) {
		entra_token_error(ex, 400, "invalid_scope", 70011, "The provided value for the input "
				  "parameter 'scope' isn't valid.");
	} else if (entra_client_valid(ex, s, form, url)) {
		issue_token(ex, OAUTH_ISSUER_ENTRA, NULL, NULL);
	}
}

static void oauth_handle(struct fake_exchange *ex)
{
	const struct oauth_settings *s = settings_of(ex);
	bool okta = strcmp(ex->request->path, "/oauth2/v1/token") == 0;
	struct form form;

	if (strcmp(ex->request->method, "POST") != 0) {
		okta_token_error(ex, 405, "invalid_request", "The token endpoint accepts POST only.");
		return;
	}
	if (s == NULL) {
		okta_token_error(ex, 400, "invalid_client",
				 "fakeidp: the dataset has no \"oauth\" settings");
		return;
	}
	form_parse(&ex->request->body, &form);
	if (okta)
		okta_token(ex, s, &form);
	else
		entra_token(ex, s, &form);
	form_release(&form);
}

static int oauth_page(const struct fake_request *req)
{
	(void)req;
	return 0;
}

/* Errors of faults and of the rate limit, in the shape of the path's server. */
static void oauth_error(struct fake_exchange *ex, unsigned int status, const char *code,
			const char *summary)
{
	if (strcmp(ex->request->path, "/oauth2/v1/token") == 0)
		okta_token_error(ex, status, code ? code : "temporarily_unavailable",
				 summary ? summary : "The request failed.");
	else
		entra_token_error(ex, status, code ? code : "temporarily_unavailable", 90055,
				  summary ? summary : "The request failed.");
}

static void add_if_absent(struct fake_response *resp, const char *name, const char *value)
{
	if (response_header(resp, name) == NULL)
		response_add_header(resp, name, value);
}

static void oauth_decorate(struct fake_exchange *ex)
{
	const struct oauth_settings *s = ex->dataset ? settings_of(ex) : NULL;
	bool okta = strcmp(ex->request->path, "/oauth2/v1/token") == 0;
	char request_id[37];

	add_if_absent(&ex->response, "Content-Type", "application/json");
	add_if_absent(&ex->response, "Cache-Control", "no-cache, no-store");
	add_if_absent(&ex->response, "Pragma", "no-cache");
	if (okta) {
		exchange_make_id(ex, "", request_id, 28);
		add_if_absent(&ex->response, "X-Okta-Request-Id", request_id);
		if (s != NULL && s->nonce != NULL)
			add_if_absent(&ex->response, "DPoP-Nonce", s->nonce);
	} else {
		exchange_guid(ex, "request", request_id);
		add_if_absent(&ex->response, "x-ms-request-id", request_id);
	}
}

const struct personality oauth_personality = {
	.name = "oauth",
	.page = oauth_page,
	.handle = oauth_handle,
	.error = oauth_error,
	.decorate = oauth_decorate,
};

/* ---- access tokens on API requests ---- */

enum oauth_verdict oauth_check_api(const struct fake_exchange *ex, enum oauth_issuer issuer)
{
	const struct oauth_settings *s = settings_of(ex);
	const char *auth = request_header(ex->request, "authorization");
	struct issued token;
	bool dpop_scheme;
	char url[600];
	char jkt[48] = "";
	const char *reason = NULL;
	struct proof_check check;
	enum proof_result result;

	/* Without "oauth" settings the fake checks tokens as it did before OAuth. */
	if (auth == NULL || s == NULL)
		return OAUTH_NOT_OAUTH;
	dpop_scheme = strncasecmp(auth, "DPoP ", 5) == 0;
	if (!dpop_scheme && strncasecmp(auth, "Bearer ", 7) != 0)
		return OAUTH_NOT_OAUTH;
	if (!find_token(auth + (dpop_scheme ? 5 : 7), issuer, &token) ||
	    token.expires <= wall_clock())
		return OAUTH_INVALID_TOKEN;
	if (token.jkt[0] == '\0')
		return dpop_scheme ? OAUTH_INVALID_TOKEN : OAUTH_VALID;
	if (!dpop_scheme || request_header(ex->request, "dpop") == NULL)
		return OAUTH_INVALID_PROOF;

	request_url(ex, url, sizeof(url));
	check = (struct proof_check){ ex->request->method, url, s->api_nonce, token.token };
	result = check_proof(request_header(ex->request, "dpop"), &check, jkt, &reason);
	if (result == PROOF_NEEDS_NONCE)
		return OAUTH_NEED_NONCE;
	if (result != PROOF_VALID || strcmp(jkt, token.jkt) != 0)
		return OAUTH_INVALID_PROOF;
	return OAUTH_VALID;
}

void oauth_add_challenge(struct fake_exchange *ex, enum oauth_verdict verdict)
{
	const struct oauth_settings *s = settings_of(ex);
	const char *auth = request_header(ex->request, "authorization");
	bool dpop = auth != NULL && strncasecmp(auth, "DPoP ", 5) == 0;

	if (verdict == OAUTH_NEED_NONCE) {
		response_add_header(&ex->response, "WWW-Authenticate", "DPoP error=\"use_dpop_nonce\", "
				    "error_description=\"Resource server requires nonce in DPoP proof\"");
		response_add_header(&ex->response, "DPoP-Nonce", s->api_nonce);
	} else if (verdict == OAUTH_INVALID_PROOF) {
		response_add_header(&ex->response, "WWW-Authenticate", "DPoP error=\"invalid_dpop_proof\", "
				    "error_description=\"The DPoP proof is invalid\"");
	} else if (verdict == OAUTH_INVALID_TOKEN) {
		response_add_header(&ex->response, "WWW-Authenticate",
				    dpop ? "DPoP error=\"invalid_token\", error_description=\"The token "
					   "is invalid or has expired\"" :
					   "Bearer error=\"invalid_token\", error_description=\"The "
					   "token is invalid or has expired\"");
	}
}
