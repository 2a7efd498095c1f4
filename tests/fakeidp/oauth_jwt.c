/*
 * oauth_jwt.c - JWT checks for the fake token endpoints, with OpenSSL 3.
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
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "oauth_jwt.h"

/* Maximum length of a token part that is decoded, in characters. */
#define MAX_PART 65536

char *fake_base64url(const unsigned char *data, size_t len)
{
	char *text = malloc(4 * ((len + 2) / 3) + 1);
	int written;

	if (text == NULL || len > INT_MAX / 2) {
		free(text);
		return NULL;
	}
	written = EVP_EncodeBlock((unsigned char *)text, data, (int)len);
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

char *fake_sha256_base64url(const char *text)
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int len = 0;

	if (EVP_Digest(text, strlen(text), digest, &len, EVP_sha256(), NULL) != 1)
		return NULL;
	return fake_base64url(digest, len);
}

/* Decodes len characters of base64url; NULL when they are not base64url. */
static unsigned char *base64url_decode(const char *text, size_t len, size_t *out_len)
{
	size_t padded = (len + 3) / 4 * 4;
	char *copy;
	unsigned char *out;
	int decoded;

	if (len == 0 || len > MAX_PART || len % 4 == 1)
		return NULL;
	copy = malloc(padded + 1);
	out = malloc(padded + 1);
	if (copy == NULL || out == NULL)
		goto fail;
	for (size_t i = 0; i < len; i++) {
		char c = text[i];

		if (c == '-')
			c = '+';
		else if (c == '_')
			c = '/';
		else if (c == '+' || c == '/' || c == '=')
			goto fail;
		copy[i] = c;
	}
	memset(copy + len, '=', padded - len);
	decoded = EVP_DecodeBlock(out, (unsigned char *)copy, (int)padded);
	if (decoded < 0)
		goto fail;
	free(copy);
	*out_len = (size_t)decoded - (padded - len);
	out[*out_len] = '\0';
	return out;

fail:
	free(copy);
	free(out);
	return NULL;
}

static cJSON *decode_object(const char *text, size_t len)
{
	size_t size;
	unsigned char *bytes = base64url_decode(text, len, &size);
	cJSON *object = bytes ? cJSON_ParseWithLength((const char *)bytes, size) : NULL;

	free(bytes);
	if (object != NULL && !cJSON_IsObject(object)) {
		cJSON_Delete(object);
		return NULL;
	}
	return object;
}

bool fake_jwt_parse(const char *token, struct fake_jwt *out)
{
	const char *dot1 = strchr(token, '.');
	const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;

	memset(out, 0, sizeof(*out));
	if (dot2 == NULL || strchr(dot2 + 1, '.') != NULL)
		return false;
	out->header = decode_object(token, (size_t)(dot1 - token));
	out->claims = decode_object(dot1 + 1, (size_t)(dot2 - dot1 - 1));
	out->signature = base64url_decode(dot2 + 1, strlen(dot2 + 1), &out->signature_len);
	out->input = strndup(token, (size_t)(dot2 - token));
	if (out->header && out->claims && out->signature && out->input)
		return true;
	fake_jwt_release(out);
	return false;
}

void fake_jwt_release(struct fake_jwt *jwt)
{
	cJSON_Delete(jwt->header);
	cJSON_Delete(jwt->claims);
	free(jwt->input);
	free(jwt->signature);
	memset(jwt, 0, sizeof(*jwt));
}

const char *fake_jwt_text(const cJSON *object, const char *name)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, name);

	return cJSON_IsString(item) ? item->valuestring : NULL;
}

bool fake_jwt_number(const cJSON *object, const char *name, double *out)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, name);

	if (!cJSON_IsNumber(item))
		return false;
	*out = item->valuedouble;
	return true;
}

/* Converts a 64-byte r || s ES256 signature to DER; NULL when it has another size. */
static unsigned char *es256_to_der(const unsigned char *raw, size_t raw_len, size_t *der_len)
{
	ECDSA_SIG *sig;
	BIGNUM *r;
	BIGNUM *s;
	unsigned char *der = NULL;
	int len;

	if (raw_len != 64)
		return NULL;
	sig = ECDSA_SIG_new();
	r = BN_bin2bn(raw, 32, NULL);
	s = BN_bin2bn(raw + 32, 32, NULL);
	if (sig == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(sig, r, s) != 1) {
		BN_free(r);
		BN_free(s);
		ECDSA_SIG_free(sig);
		return NULL;
	}
	len = i2d_ECDSA_SIG(sig, &der);
	ECDSA_SIG_free(sig);
	if (len <= 0)
		return NULL;
	*der_len = (size_t)len;
	return der;
}

bool fake_jwt_verify(const struct fake_jwt *jwt, EVP_PKEY *key, const char *alg)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	const unsigned char *sig = jwt->signature;
	size_t sig_len = jwt->signature_len;
	unsigned char *der = NULL;
	bool rsa = EVP_PKEY_is_a(key, "RSA");
	bool ok = false;

	if (ctx == NULL || EVP_DigestVerifyInit(ctx, &pctx, EVP_sha256(), NULL, key) != 1)
		goto out;
	if (strcmp(alg, "RS256") == 0 && rsa) {
		ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1;
	} else if (strcmp(alg, "PS256") == 0 && rsa) {
		ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
		     EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32) == 1;
	} else if (strcmp(alg, "ES256") == 0 && !rsa) {
		der = es256_to_der(jwt->signature, jwt->signature_len, &sig_len);
		sig = der;
		ok = der != NULL;
	}
	ok = ok && EVP_DigestVerify(ctx, sig, sig_len, (const unsigned char *)jwt->input,
				    strlen(jwt->input)) == 1;

out:
	OPENSSL_free(der);
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return ok;
}

EVP_PKEY *fake_public_key_from_pem(const char *pem)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	EVP_PKEY *key = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;

	BIO_free(bio);
	ERR_clear_error();
	return key;
}

/* Decodes a 32-byte coordinate of jwk into out. */
static bool read_coordinate(const cJSON *jwk, const char *name, unsigned char out[32])
{
	const char *text = fake_jwt_text(jwk, name);
	size_t len = 0;
	unsigned char *bytes = text ? base64url_decode(text, strlen(text), &len) : NULL;
	bool ok = bytes != NULL && len == 32;

	if (ok)
		memcpy(out, bytes, 32);
	free(bytes);
	return ok;
}

EVP_PKEY *fake_public_key_from_jwk(const cJSON *jwk)
{
	unsigned char point[65] = { 0x04 };
	OSSL_PARAM_BLD *build = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *key = NULL;
	const char *kty = fake_jwt_text(jwk, "kty");
	const char *crv = fake_jwt_text(jwk, "crv");

	if (!cJSON_IsObject(jwk) || kty == NULL || crv == NULL || strcmp(kty, "EC") != 0 ||
	    strcmp(crv, "P-256") != 0 || cJSON_HasObjectItem(jwk, "d") ||
	    !read_coordinate(jwk, "x", point + 1) || !read_coordinate(jwk, "y", point + 33))
		return NULL;

	build = OSSL_PARAM_BLD_new();
	if (build == NULL ||
	    OSSL_PARAM_BLD_push_utf8_string(build, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) != 1 ||
	    OSSL_PARAM_BLD_push_octet_string(build, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point)) != 1)
		goto out;
	params = OSSL_PARAM_BLD_to_param(build);
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1)
		key = NULL;

out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(build);
	ERR_clear_error();
	return key;
}

char *fake_jwk_thumbprint(const cJSON *jwk)
{
	const char *x = fake_jwt_text(jwk, "x");
	const char *y = fake_jwt_text(jwk, "y");
	char *canonical = NULL;
	char *thumbprint;

	/* RFC 7638: the required members in lexical order, without white space. */
	if (x == NULL || y == NULL ||
	    asprintf(&canonical, "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}",
		     x, y) < 0)
		return NULL;
	thumbprint = fake_sha256_base64url(canonical);
	free(canonical);
	return thumbprint;
}
