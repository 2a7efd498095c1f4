/*
 * jwt.c - JWS signing with OpenSSL 3 EVP, and the two tokens rostersync
 * sends: client assertions and DPoP proofs.
 *
 * OpenSSL errors are logged by their reason string, which never contains
 * key material.  The password callback rejects encrypted keys instead of
 * prompting on a terminal, because the agent runs unattended.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "jwt.h"
#include "log.h"

/* Bytes of one P-256 coordinate, and of r and s in an ES256 signature. */
#define P256_BYTES 32

/* Shortest RSA key accepted, in bits. */
#define MIN_RSA_BITS 2048

struct jwt_key {
	EVP_PKEY *pkey;
	bool rsa;
};

struct jwt_certificate {
	X509 *x509;
};

const char *jwt_alg_name(enum jwt_alg alg)
{
	switch (alg) {
	case JWT_RS256:
		return "RS256";
	case JWT_PS256:
		return "PS256";
	case JWT_ES256:
		return "ES256";
	}
	return "none";
}

/* Copies the reason of the last OpenSSL error into out and clears the queue. */
static const char *openssl_reason(char *out, size_t size)
{
	unsigned long code = ERR_peek_last_error();
	const char *reason = code ? ERR_reason_error_string(code) : NULL;

	snprintf(out, size, "%s", reason ? reason : "unknown OpenSSL error");
	ERR_clear_error();
	return out;
}

/* ---- encodings ---- */

char *jwt_base64url(const void *data, size_t len)
{
	size_t size;
	char *text;
	int written;

	if (len > (size_t)INT_MAX / 2)
		return NULL;
	size = 4 * ((len + 2) / 3) + 1;
	text = malloc(size);
	if (text == NULL)
		return NULL;
	written = EVP_EncodeBlock((unsigned char *)text, data, (int)len);
	if (written < 0) {
		free(text);
		return NULL;
	}

	/* Base64 to base64url: "+" and "/" become "-" and "_", and padding goes. */
	for (int i = 0; i < written; i++) {
		if (text[i] == '+')
			text[i] = '-';
		else if (text[i] == '/')
			text[i] = '_';
	}
	while (written > 0 && text[written - 1] == '=')
		written--;
	text[written] = '\0';
	return text;
}

char *jwt_sha256_base64url(const char *text)
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int digest_len = 0;

	if (EVP_Digest(text, strlen(text), digest, &digest_len, EVP_sha256(), NULL) != 1) {
		ERR_clear_error();
		return NULL;
	}
	return jwt_base64url(digest, digest_len);
}

bool jwt_uuid(char out[JWT_UUID_SIZE])
{
	unsigned char b[16];

	if (RAND_bytes(b, sizeof(b)) != 1) {
		ERR_clear_error();
		return false;
	}
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);   /* version 4 */
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);   /* RFC 4122 variant */
	snprintf(out, JWT_UUID_SIZE,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
		 b[12], b[13], b[14], b[15]);
	return true;
}

void jwt_text_free(char *text)
{
	if (text == NULL)
		return;
	explicit_bzero(text, strlen(text));
	free(text);
}

/* ---- keys ---- */

/* Rejects encrypted PEM keys instead of prompting for a passphrase. */
static int no_password(char *buf, int size, int rwflag, void *context)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)context;
	return -1;
}

static bool key_curve_is_p256(EVP_PKEY *pkey)
{
	char name[64];
	size_t len = 0;

	if (EVP_PKEY_get_group_name(pkey, name, sizeof(name), &len) != 1)
		return false;
	return strcmp(name, "prime256v1") == 0 || strcmp(name, "P-256") == 0;
}

/* Checks that pkey is an RSA key of MIN_RSA_BITS or more, or a P-256 key. */
static enum rs_err check_key(EVP_PKEY *pkey, const char *key_name, bool *rsa)
{
	*rsa = EVP_PKEY_is_a(pkey, "RSA");
	if (*rsa && EVP_PKEY_get_bits(pkey) < MIN_RSA_BITS) {
		log_msg(LOG_ERROR, "%s: the RSA key has %d bits; use one of at least %d bits",
			key_name, EVP_PKEY_get_bits(pkey), MIN_RSA_BITS);
		return RS_ERR_CONFIG;
	}
	if (!*rsa && !(EVP_PKEY_is_a(pkey, "EC") && key_curve_is_p256(pkey))) {
		log_msg(LOG_ERROR, "%s: the key is neither RSA nor EC on the P-256 curve; create "
			"one with \"openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048\"",
			key_name);
		return RS_ERR_CONFIG;
	}
	return RS_OK;
}

static enum rs_err key_wrap(EVP_PKEY *pkey, bool rsa, struct jwt_key **out)
{
	struct jwt_key *key = calloc(1, sizeof(*key));

	if (key == NULL) {
		EVP_PKEY_free(pkey);
		return RS_ERR_INTERNAL;
	}
	key->pkey = pkey;
	key->rsa = rsa;
	*out = key;
	return RS_OK;
}

/*
 * Writes into note a remark on what a PEM file that is no private key
 * contains, such as "; the file contains a CERTIFICATE", or "" without a
 * label.
 */
static const char *pem_label_note(const char *pem, size_t len, char *note, size_t size)
{
	const char *begin = memmem(pem, len, "-----BEGIN ", 11);
	const char *label = begin ? begin + 11 : NULL;
	const char *end = label ? memmem(label, len - (size_t)(label - pem), "-----", 5) : NULL;

	note[0] = '\0';
	if (end == NULL || end - label > 40)
		return note;
	snprintf(note, size, "; the file contains a %.*s", (int)(end - label), label);
	for (char *c = note; *c; c++) {
		if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
			*c = '?';
	}
	return note;
}

enum rs_err jwt_key_from_pem(const char *pem, size_t len, const char *key_name, struct jwt_key **out)
{
	char reason[256];
	char note[96];
	EVP_PKEY *pkey = NULL;
	BIO *bio;
	bool rsa;
	enum rs_err err;

	*out = NULL;
	if (len > INT_MAX)
		return RS_ERR_CONFIG;
	bio = BIO_new_mem_buf(pem, (int)len);
	if (bio == NULL)
		return RS_ERR_INTERNAL;
	pkey = PEM_read_bio_PrivateKey(bio, NULL, no_password, NULL);
	BIO_free(bio);

	if (pkey == NULL) {
		openssl_reason(reason, sizeof(reason));
		if (memmem(pem, len, "ENCRYPTED", 9) != NULL)
			log_msg(LOG_ERROR, "%s: the private key is encrypted; store it without a "
				"passphrase in a file of mode 0600", key_name);
		else
			log_msg(LOG_ERROR, "%s: not a PEM private key (%s%s); expected \"-----BEGIN "
				"PRIVATE KEY-----\", \"-----BEGIN RSA PRIVATE KEY-----\" or "
				"\"-----BEGIN EC PRIVATE KEY-----\"", key_name, reason,
				pem_label_note(pem, len, note, sizeof(note)));
		return RS_ERR_CONFIG;
	}

	err = check_key(pkey, key_name, &rsa);
	if (err != RS_OK) {
		EVP_PKEY_free(pkey);
		return err;
	}
	return key_wrap(pkey, rsa, out);
}

enum rs_err jwt_key_generate_p256(struct jwt_key **out)
{
	char reason[256];
	EVP_PKEY *pkey = EVP_EC_gen("P-256");

	*out = NULL;
	if (pkey == NULL) {
		log_msg(LOG_ERROR, "generating a P-256 key failed: %s",
			openssl_reason(reason, sizeof(reason)));
		return RS_ERR_INTERNAL;
	}
	return key_wrap(pkey, false, out);
}

void jwt_key_free(struct jwt_key *key)
{
	if (key == NULL)
		return;
	EVP_PKEY_free(key->pkey);    /* OpenSSL clears private key memory when freeing */
	free(key);
}

bool jwt_key_is_rsa(const struct jwt_key *key)
{
	return key->rsa;
}

/* Adds the base64url of a 32-byte big-endian coordinate param to jwk as name. */
static bool add_coordinate(cJSON *jwk, const EVP_PKEY *pkey, const char *param, const char *name)
{
	unsigned char bytes[P256_BYTES];
	BIGNUM *value = NULL;
	char *text;
	bool ok;

	if (EVP_PKEY_get_bn_param(pkey, param, &value) != 1) {
		ERR_clear_error();
		return false;
	}
	ok = BN_bn2binpad(value, bytes, sizeof(bytes)) == (int)sizeof(bytes);
	BN_free(value);
	text = ok ? jwt_base64url(bytes, sizeof(bytes)) : NULL;
	ok = text != NULL && cJSON_AddStringToObject(jwk, name, text) != NULL;
	free(text);
	return ok;
}

cJSON *jwt_key_public_jwk(const struct jwt_key *key)
{
	cJSON *jwk;

	if (key->rsa)
		return NULL;
	jwk = cJSON_CreateObject();
	if (jwk == NULL || cJSON_AddStringToObject(jwk, "kty", "EC") == NULL ||
	    cJSON_AddStringToObject(jwk, "crv", "P-256") == NULL ||
	    !add_coordinate(jwk, key->pkey, OSSL_PKEY_PARAM_EC_PUB_X, "x") ||
	    !add_coordinate(jwk, key->pkey, OSSL_PKEY_PARAM_EC_PUB_Y, "y")) {
		cJSON_Delete(jwk);
		return NULL;
	}
	return jwk;
}

/* ---- signing ---- */

/* Converts a DER ECDSA signature into the fixed-size r || s form of JWS. */
static bool ecdsa_der_to_raw(const unsigned char *der, size_t der_len,
			     unsigned char raw[2 * P256_BYTES])
{
	const unsigned char *p = der;
	ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
	const BIGNUM *r;
	const BIGNUM *s;
	bool ok;

	if (sig == NULL)
		return false;
	ECDSA_SIG_get0(sig, &r, &s);
	ok = BN_bn2binpad(r, raw, P256_BYTES) == P256_BYTES &&
	     BN_bn2binpad(s, raw + P256_BYTES, P256_BYTES) == P256_BYTES;
	ECDSA_SIG_free(sig);
	return ok;
}

static bool set_padding(EVP_PKEY_CTX *pctx, enum jwt_alg alg)
{
	if (alg == JWT_PS256)
		return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
		       EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1 &&
		       EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) == 1;
	if (alg == JWT_RS256)
		return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1;
	return true;
}

/* Signs input with SHA-256 and returns the base64url signature. */
static char *sign_input(const struct jwt_key *key, enum jwt_alg alg, const char *input)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	unsigned char *sig = NULL;
	unsigned char raw[2 * P256_BYTES];
	size_t sig_len = 0;
	char *encoded = NULL;

	if (ctx == NULL || EVP_DigestSignInit(ctx, &pctx, EVP_sha256(), NULL, key->pkey) != 1 ||
	    !set_padding(pctx, alg) ||
	    EVP_DigestSign(ctx, NULL, &sig_len, (const unsigned char *)input, strlen(input)) != 1)
		goto out;
	sig = malloc(sig_len);
	if (sig == NULL ||
	    EVP_DigestSign(ctx, sig, &sig_len, (const unsigned char *)input, strlen(input)) != 1)
		goto out;

	if (alg == JWT_ES256) {
		if (ecdsa_der_to_raw(sig, sig_len, raw))
			encoded = jwt_base64url(raw, sizeof(raw));
	} else {
		encoded = jwt_base64url(sig, sig_len);
	}

out:
	if (encoded == NULL) {
		char reason[256];

		log_msg(LOG_ERROR, "signing a %s token failed: %s", jwt_alg_name(alg),
			openssl_reason(reason, sizeof(reason)));
	}
	free(sig);
	EVP_MD_CTX_free(ctx);
	return encoded;
}

/* Serialises object unformatted and returns its base64url. */
static char *encode_json(const cJSON *object)
{
	char *text = cJSON_PrintUnformatted(object);
	char *encoded;

	if (text == NULL)
		return NULL;
	encoded = jwt_base64url(text, strlen(text));
	cJSON_free(text);
	return encoded;
}

enum rs_err jwt_sign(const struct jwt_key *key, enum jwt_alg alg, cJSON *header,
		     const cJSON *claims, char **out)
{
	char *header_text = NULL;
	char *claims_text = NULL;
	char *input = NULL;
	char *signature = NULL;
	enum rs_err err = RS_ERR_INTERNAL;

	*out = NULL;
	if (key->rsa != (alg != JWT_ES256)) {
		log_msg(LOG_ERROR, "cannot sign %s with %s key", jwt_alg_name(alg),
			key->rsa ? "an RSA" : "a P-256");
		return RS_ERR_CONFIG;
	}
	if (!cJSON_HasObjectItem(header, "alg") &&
	    cJSON_AddStringToObject(header, "alg", jwt_alg_name(alg)) == NULL)
		return RS_ERR_INTERNAL;

	header_text = encode_json(header);
	claims_text = encode_json(claims);
	if (header_text == NULL || claims_text == NULL ||
	    asprintf(&input, "%s.%s", header_text, claims_text) < 0) {
		input = NULL;
		goto out;
	}
	signature = sign_input(key, alg, input);
	if (signature == NULL)
		goto out;
	if (asprintf(out, "%s.%s", input, signature) < 0) {
		*out = NULL;
		goto out;
	}
	err = RS_OK;

out:
	free(header_text);
	jwt_text_free(claims_text);
	jwt_text_free(input);
	free(signature);
	return err;
}

/* Creates {"alg": alg, "typ": typ}. */
static cJSON *new_header(enum jwt_alg alg, const char *typ)
{
	cJSON *header = cJSON_CreateObject();

	if (header == NULL || cJSON_AddStringToObject(header, "alg", jwt_alg_name(alg)) == NULL ||
	    cJSON_AddStringToObject(header, "typ", typ) == NULL) {
		cJSON_Delete(header);
		return NULL;
	}
	return header;
}

static bool add_text(cJSON *object, const char *name, const char *value)
{
	return value == NULL || cJSON_AddStringToObject(object, name, value) != NULL;
}

static bool add_time(cJSON *object, const char *name, time_t value)
{
	return cJSON_AddNumberToObject(object, name, (double)value) != NULL;
}

static bool add_jti(cJSON *claims)
{
	char jti[JWT_UUID_SIZE];

	return jwt_uuid(jti) && add_text(claims, "jti", jti);
}

enum rs_err jwt_client_assertion(const struct jwt_key *key, enum jwt_alg alg,
				 const struct jwt_assertion *assertion, char **out)
{
	cJSON *header = new_header(alg, "JWT");
	cJSON *claims = cJSON_CreateObject();
	enum rs_err err = RS_ERR_INTERNAL;

	*out = NULL;
	if (header == NULL || claims == NULL ||
	    !add_text(header, "kid", assertion->key_id) ||
	    (assertion->thumbprint_name != NULL &&
	     !add_text(header, assertion->thumbprint_name, assertion->thumbprint)))
		goto out;

	if (!add_text(claims, "iss", assertion->client_id) ||
	    !add_text(claims, "sub", assertion->client_id) ||
	    !add_text(claims, "aud", assertion->audience) || !add_jti(claims) ||
	    !add_time(claims, "iat", assertion->now) ||
	    (assertion->not_before && !add_time(claims, "nbf", assertion->now)) ||
	    !add_time(claims, "exp", assertion->now + assertion->lifetime))
		goto out;

	err = jwt_sign(key, alg, header, claims, out);

out:
	cJSON_Delete(header);
	cJSON_Delete(claims);
	return err;
}

enum rs_err jwt_dpop_proof(const struct jwt_key *key, const struct jwt_dpop *dpop, char **out)
{
	cJSON *header = new_header(JWT_ES256, "dpop+jwt");
	cJSON *claims = cJSON_CreateObject();
	cJSON *jwk = jwt_key_public_jwk(key);
	char *htu = strndup(dpop->url, strcspn(dpop->url, "?#"));
	char *ath = dpop->access_token ? jwt_sha256_base64url(dpop->access_token) : NULL;
	enum rs_err err = RS_ERR_INTERNAL;

	*out = NULL;
	if (header == NULL || claims == NULL || jwk == NULL || htu == NULL ||
	    (dpop->access_token != NULL && ath == NULL))
		goto out;
	cJSON_AddItemToObject(header, "jwk", jwk);
	jwk = NULL;

	if (!add_jti(claims) || !add_text(claims, "htm", dpop->method) ||
	    !add_text(claims, "htu", htu) || !add_time(claims, "iat", dpop->now) ||
	    !add_text(claims, "nonce", dpop->nonce) || !add_text(claims, "ath", ath))
		goto out;

	err = jwt_sign(key, JWT_ES256, header, claims, out);

out:
	cJSON_Delete(jwk);
	cJSON_Delete(header);
	cJSON_Delete(claims);
	free(htu);
	free(ath);
	return err;
}

/* ---- certificates ---- */

enum rs_err jwt_certificate_for_key(const char *pem, size_t len, const char *key_name,
				    const struct jwt_key *key, struct jwt_certificate **out,
				    size_t *count)
{
	X509 *x509;
	BIO *bio;

	*out = NULL;
	*count = 0;
	if (len > INT_MAX)
		return RS_ERR_CONFIG;
	bio = BIO_new_mem_buf(pem, (int)len);
	if (bio == NULL)
		return RS_ERR_INTERNAL;
	while (*out == NULL && (x509 = PEM_read_bio_X509(bio, NULL, no_password, NULL)) != NULL) {
		(*count)++;
		if (X509_check_private_key(x509, key->pkey) != 1) {
			X509_free(x509);
			continue;
		}

		*out = calloc(1, sizeof(**out));
		if (*out == NULL) {
			X509_free(x509);
			BIO_free(bio);
			return RS_ERR_INTERNAL;
		}
		(*out)->x509 = x509;
	}
	BIO_free(bio);
	ERR_clear_error();
	if (*count > 0)
		return RS_OK;
	log_msg(LOG_ERROR, "%s: no PEM certificate found; expected \"-----BEGIN CERTIFICATE-----\"",
		key_name);
	return RS_ERR_CONFIG;
}

void jwt_certificate_free(struct jwt_certificate *certificate)
{
	if (certificate == NULL)
		return;
	X509_free(certificate->x509);
	free(certificate);
}

char *jwt_certificate_thumbprint(const struct jwt_certificate *certificate, bool sha256)
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int digest_len = 0;

	if (X509_digest(certificate->x509, sha256 ? EVP_sha256() : EVP_sha1(), digest,
			&digest_len) != 1) {
		ERR_clear_error();
		return NULL;
	}
	return jwt_base64url(digest, digest_len);
}

bool jwt_certificate_not_after(const struct jwt_certificate *certificate, time_t *out)
{
	const ASN1_TIME *not_after = X509_get0_notAfter(certificate->x509);
	struct tm tm;

	if (not_after == NULL || ASN1_TIME_to_tm(not_after, &tm) != 1) {
		ERR_clear_error();
		return false;
	}
	*out = timegm(&tm);
	return true;
}
