/*
 * test_jwt.c - base64url, signatures, client assertions, DPoP proofs and
 * certificate thumbprints.
 *
 * Keys and certificates are generated here with OpenSSL, and every
 * signature is checked with OpenSSL's verify functions, not with the code
 * under test.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "unit.h"

#include "jwt.h"
#include "log.h"

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

/* ---- helpers ---- */

/* Decodes base64url without padding into a new buffer; *len is its size. */
static unsigned char *base64url_decode(const char *text, size_t text_len, size_t *len)
{
	size_t padded = (text_len + 3) / 4 * 4;
	char *copy = calloc(1, padded + 1);
	unsigned char *out = calloc(1, padded + 1);
	int decoded;

	assert_non_null(copy);
	assert_non_null(out);
	memcpy(copy, text, text_len);
	for (size_t i = 0; i < text_len; i++) {
		if (copy[i] == '-')
			copy[i] = '+';
		else if (copy[i] == '_')
			copy[i] = '/';
		else
			assert_true(copy[i] != '=' && copy[i] != '+' && copy[i] != '/');
	}
	for (size_t i = text_len; i < padded; i++)
		copy[i] = '=';
	decoded = EVP_DecodeBlock(out, (unsigned char *)copy, (int)padded);
	assert_true(decoded >= 0);
	*len = (size_t)decoded - (padded - text_len);
	free(copy);
	return out;
}

/* The three parts of a compact JWS. */
struct parts {
	cJSON *header;
	cJSON *claims;
	unsigned char *signature;
	size_t signature_len;
	char *input;        /* header "." claims, the signed bytes */
};

static cJSON *decode_json_part(const char *text, size_t len)
{
	size_t size;
	unsigned char *bytes = base64url_decode(text, len, &size);
	cJSON *json = cJSON_ParseWithLength((const char *)bytes, size);

	assert_non_null(json);
	free(bytes);
	return json;
}

static void split_token(const char *token, struct parts *out)
{
	const char *dot1 = strchr(token, '.');
	const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;

	assert_non_null(dot1);
	assert_non_null(dot2);
	assert_null(strchr(dot2 + 1, '.'));
	out->header = decode_json_part(token, (size_t)(dot1 - token));
	out->claims = decode_json_part(dot1 + 1, (size_t)(dot2 - dot1 - 1));
	out->signature = base64url_decode(dot2 + 1, strlen(dot2 + 1), &out->signature_len);
	out->input = strndup(token, (size_t)(dot2 - token));
	assert_non_null(out->input);
}

static void parts_release(struct parts *parts)
{
	cJSON_Delete(parts->header);
	cJSON_Delete(parts->claims);
	free(parts->signature);
	free(parts->input);
}

static const char *json_string(const cJSON *object, const char *name)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, name);

	assert_true(cJSON_IsString(item));
	return item->valuestring;
}

static double json_number(const cJSON *object, const char *name)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, name);

	assert_true(cJSON_IsNumber(item));
	return item->valuedouble;
}

/* Converts a raw r || s ES256 signature to DER for EVP_DigestVerify. */
static unsigned char *raw_to_der(const unsigned char *raw, size_t raw_len, size_t *der_len)
{
	ECDSA_SIG *sig = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(raw, 32, NULL);
	BIGNUM *s = BN_bin2bn(raw + 32, 32, NULL);
	unsigned char *der = NULL;
	int len;

	assert_int_equal(raw_len, 64);
	assert_int_equal(ECDSA_SIG_set0(sig, r, s), 1);
	len = i2d_ECDSA_SIG(sig, &der);
	assert_true(len > 0);
	*der_len = (size_t)len;
	ECDSA_SIG_free(sig);
	return der;
}

/* Verifies the token's signature with pkey as alg prescribes. */
static bool verify_token(EVP_PKEY *pkey, const char *alg, const struct parts *parts)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	const unsigned char *sig = parts->signature;
	size_t sig_len = parts->signature_len;
	unsigned char *der = NULL;
	int verified;

	assert_int_equal(EVP_DigestVerifyInit(ctx, &pctx, EVP_sha256(), NULL, pkey), 1);
	if (strcmp(alg, "PS256") == 0) {
		assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
		assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32), 1);
	} else if (strcmp(alg, "RS256") == 0) {
		assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING), 1);
	} else {
		der = raw_to_der(sig, sig_len, &sig_len);
		sig = der;
	}
	verified = EVP_DigestVerify(ctx, sig, sig_len, (const unsigned char *)parts->input,
				    strlen(parts->input));
	OPENSSL_free(der);
	EVP_MD_CTX_free(ctx);
	return verified == 1;
}

/* Writes pkey as an unencrypted PKCS#8 PEM string. */
static char *key_pem(EVP_PKEY *pkey)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data;
	long len;
	char *pem;

	assert_int_equal(PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL), 1);
	len = BIO_get_mem_data(bio, &data);
	pem = strndup(data, (size_t)len);
	assert_non_null(pem);
	BIO_free(bio);
	return pem;
}

static struct jwt_key *load_key(EVP_PKEY *pkey)
{
	char *pem = key_pem(pkey);
	struct jwt_key *key = NULL;

	assert_int_equal(jwt_key_from_pem(pem, strlen(pem), "test key", &key), RS_OK);
	free(pem);
	return key;
}

static EVP_PKEY *rsa_2048(void)
{
	EVP_PKEY *pkey = EVP_RSA_gen(2048);

	assert_non_null(pkey);
	return pkey;
}

static EVP_PKEY *ec_p256(void)
{
	EVP_PKEY *pkey = EVP_EC_gen("P-256");

	assert_non_null(pkey);
	return pkey;
}

static bool uuid_shaped(const char *text)
{
	if (strlen(text) != 36 || text[14] != '4')
		return false;
	for (size_t i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? text[i] != '-' : strchr("0123456789abcdef", text[i]) == NULL)
			return false;
	}
	return true;
}

/* ---- encodings ---- */

static void base64url_vectors(void **state)
{
	static const struct {
		const char *data;
		size_t len;
		const char *encoded;
	} cases[] = {
		{ "", 0, "" },
		{ "f", 1, "Zg" },
		{ "fo", 2, "Zm8" },
		{ "foo", 3, "Zm9v" },
		{ "foob", 4, "Zm9vYg" },
		{ "fooba", 5, "Zm9vYmE" },
		{ "foobar", 6, "Zm9vYmFy" },
		{ "\xfb\xff", 2, "-_8" },
		{ "\xfa", 1, "-g" },
		{ "\x00\x00\x3f", 3, "AAA_" },
	};

	(void)state;
	for (size_t i = 0; i < COUNT(cases); i++) {
		char *encoded = jwt_base64url(cases[i].data, cases[i].len);

		assert_non_null(encoded);
		assert_string_equal(encoded, cases[i].encoded);
		free(encoded);
	}
}

static void ath_of_known_tokens(void **state)
{
	char *ath;

	(void)state;
	ath = jwt_sha256_base64url("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU");
	assert_string_equal(ath, "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo");
	free(ath);
	ath = jwt_sha256_base64url("abc");
	assert_string_equal(ath, "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
	free(ath);
}

static void uuid_is_random_v4(void **state)
{
	char first[JWT_UUID_SIZE];
	char second[JWT_UUID_SIZE];

	(void)state;
	assert_true(jwt_uuid(first));
	assert_true(jwt_uuid(second));
	assert_true(uuid_shaped(first));
	assert_true(uuid_shaped(second));
	assert_string_not_equal(first, second);
	assert_non_null(strchr("89ab", first[19]));
}

/* ---- signatures ---- */

static void sign_verify_round_trips(void **state)
{
	static const struct {
		enum jwt_alg alg;
		bool rsa;
	} cases[] = {
		{ JWT_RS256, true },
		{ JWT_PS256, true },
		{ JWT_ES256, false },
	};

	(void)state;
	for (size_t i = 0; i < COUNT(cases); i++) {
		EVP_PKEY *pkey = cases[i].rsa ? rsa_2048() : ec_p256();
		EVP_PKEY *other = cases[i].rsa ? rsa_2048() : ec_p256();
		struct jwt_key *key = load_key(pkey);
		cJSON *header = cJSON_CreateObject();
		cJSON *claims = cJSON_CreateObject();
		struct parts parts;
		char *token = NULL;

		assert_true(jwt_key_is_rsa(key) == cases[i].rsa);
		cJSON_AddStringToObject(claims, "sub", "round-trip");
		assert_int_equal(jwt_sign(key, cases[i].alg, header, claims, &token), RS_OK);
		split_token(token, &parts);
		assert_string_equal(json_string(parts.header, "alg"), jwt_alg_name(cases[i].alg));
		assert_string_equal(json_string(parts.claims, "sub"), "round-trip");
		if (cases[i].alg == JWT_ES256)
			assert_int_equal(parts.signature_len, 64);
		else
			assert_int_equal(parts.signature_len, 256);
		assert_true(verify_token(pkey, jwt_alg_name(cases[i].alg), &parts));
		assert_false(verify_token(other, jwt_alg_name(cases[i].alg), &parts));

		parts_release(&parts);
		free(token);
		cJSON_Delete(header);
		cJSON_Delete(claims);
		jwt_key_free(key);
		EVP_PKEY_free(pkey);
		EVP_PKEY_free(other);
	}
}

static void sign_rejects_wrong_key_type(void **state)
{
	EVP_PKEY *pkey = ec_p256();
	struct jwt_key *key = load_key(pkey);
	cJSON *header = cJSON_CreateObject();
	cJSON *claims = cJSON_CreateObject();
	char *token = NULL;

	(void)state;
	assert_int_equal(jwt_sign(key, JWT_RS256, header, claims, &token), RS_ERR_CONFIG);
	assert_null(token);
	cJSON_Delete(header);
	cJSON_Delete(claims);
	jwt_key_free(key);
	EVP_PKEY_free(pkey);
}

static void key_from_pem_rejects(void **state)
{
	EVP_PKEY *small = EVP_RSA_gen(1024);
	EVP_PKEY *p384 = EVP_EC_gen("P-384");
	EVP_PKEY *rsa = rsa_2048();
	char *small_pem = key_pem(small);
	char *p384_pem = key_pem(p384);
	BIO *bio = BIO_new(BIO_s_mem());
	struct jwt_key *key = NULL;
	char *encrypted;
	long len;

	(void)state;
	assert_int_equal(PEM_write_bio_PKCS8PrivateKey(bio, rsa, EVP_aes_256_cbc(), NULL, 0, NULL,
						       (void *)"passphrase"), 1);
	len = BIO_get_mem_data(bio, &encrypted);

	assert_int_equal(jwt_key_from_pem(small_pem, strlen(small_pem), "k", &key), RS_ERR_CONFIG);
	assert_int_equal(jwt_key_from_pem(p384_pem, strlen(p384_pem), "k", &key), RS_ERR_CONFIG);
	assert_int_equal(jwt_key_from_pem(encrypted, (size_t)len, "k", &key), RS_ERR_CONFIG);
	assert_int_equal(jwt_key_from_pem("not a key", 9, "k", &key), RS_ERR_CONFIG);
	assert_null(key);

	BIO_free(bio);
	free(small_pem);
	free(p384_pem);
	EVP_PKEY_free(small);
	EVP_PKEY_free(p384);
	EVP_PKEY_free(rsa);
}

/* ---- client assertions ---- */

static void client_assertion_claims(void **state)
{
	EVP_PKEY *pkey = rsa_2048();
	struct jwt_key *key = load_key(pkey);
	struct jwt_assertion assertion = {
		.client_id = "0oa2example", .audience = "https://acme.okta.com/oauth2/v1/token",
		.key_id = "kid-1", .thumbprint_name = "x5t#S256", .thumbprint = "dGh1bWI",
		.not_before = true, .now = 1700000000, .lifetime = 300,
	};
	struct parts parts;
	char *first = NULL;
	char *second = NULL;

	(void)state;
	assert_int_equal(jwt_client_assertion(key, JWT_PS256, &assertion, &first), RS_OK);
	assert_int_equal(jwt_client_assertion(key, JWT_PS256, &assertion, &second), RS_OK);
	split_token(first, &parts);

	assert_string_equal(json_string(parts.header, "alg"), "PS256");
	assert_string_equal(json_string(parts.header, "typ"), "JWT");
	assert_string_equal(json_string(parts.header, "kid"), "kid-1");
	assert_string_equal(json_string(parts.header, "x5t#S256"), "dGh1bWI");
	assert_string_equal(json_string(parts.claims, "iss"), "0oa2example");
	assert_string_equal(json_string(parts.claims, "sub"), "0oa2example");
	assert_string_equal(json_string(parts.claims, "aud"), "https://acme.okta.com/oauth2/v1/token");
	assert_true(uuid_shaped(json_string(parts.claims, "jti")));
	assert_true(json_number(parts.claims, "iat") == 1700000000);
	assert_true(json_number(parts.claims, "nbf") == 1700000000);
	assert_true(json_number(parts.claims, "exp") == 1700000300);
	assert_true(verify_token(pkey, "PS256", &parts));
	assert_string_not_equal(first, second);

	parts_release(&parts);
	jwt_text_free(first);
	jwt_text_free(second);
	jwt_key_free(key);
	EVP_PKEY_free(pkey);
}

static void client_assertion_minimal_header(void **state)
{
	EVP_PKEY *pkey = ec_p256();
	struct jwt_key *key = load_key(pkey);
	struct jwt_assertion assertion = {
		.client_id = "c", .audience = "https://a.example/t", .now = 10, .lifetime = 300,
	};
	struct parts parts;
	char *token = NULL;

	(void)state;
	assert_int_equal(jwt_client_assertion(key, JWT_ES256, &assertion, &token), RS_OK);
	split_token(token, &parts);
	assert_int_equal(cJSON_GetArraySize(parts.header), 2);
	assert_null(cJSON_GetObjectItemCaseSensitive(parts.claims, "nbf"));
	assert_true(json_number(parts.claims, "exp") == 310);
	assert_true(verify_token(pkey, "ES256", &parts));
	parts_release(&parts);
	jwt_text_free(token);
	jwt_key_free(key);
	EVP_PKEY_free(pkey);
}

/* ---- DPoP proofs ---- */

/* Checks that jwk is the public key of pkey and carries no private part. */
static void expect_public_jwk(const cJSON *jwk, EVP_PKEY *pkey)
{
	unsigned char bytes[32];
	BIGNUM *x = NULL;
	BIGNUM *y = NULL;
	char *expected;

	assert_int_equal(cJSON_GetArraySize(jwk), 4);
	assert_string_equal(json_string(jwk, "kty"), "EC");
	assert_string_equal(json_string(jwk, "crv"), "P-256");
	assert_null(cJSON_GetObjectItemCaseSensitive(jwk, "d"));
	assert_int_equal(EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &x), 1);
	assert_int_equal(EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &y), 1);
	assert_int_equal(BN_bn2binpad(x, bytes, 32), 32);
	expected = jwt_base64url(bytes, 32);
	assert_string_equal(json_string(jwk, "x"), expected);
	free(expected);
	assert_int_equal(BN_bn2binpad(y, bytes, 32), 32);
	expected = jwt_base64url(bytes, 32);
	assert_string_equal(json_string(jwk, "y"), expected);
	free(expected);
	BN_free(x);
	BN_free(y);
}

static void dpop_proof_claims(void **state)
{
	EVP_PKEY *pkey = ec_p256();
	struct jwt_key *key = load_key(pkey);
	struct jwt_dpop dpop = {
		.method = "GET", .url = "https://acme.okta.com/api/v1/apps/0oa1/users?limit=500#x",
		.nonce = "n-1", .access_token = "abc", .now = 1700000123,
	};
	struct parts parts;
	char *proof = NULL;

	(void)state;
	assert_int_equal(jwt_dpop_proof(key, &dpop, &proof), RS_OK);
	split_token(proof, &parts);

	assert_string_equal(json_string(parts.header, "typ"), "dpop+jwt");
	assert_string_equal(json_string(parts.header, "alg"), "ES256");
	expect_public_jwk(cJSON_GetObjectItemCaseSensitive(parts.header, "jwk"), pkey);
	assert_string_equal(json_string(parts.claims, "htm"), "GET");
	assert_string_equal(json_string(parts.claims, "htu"),
			    "https://acme.okta.com/api/v1/apps/0oa1/users");
	assert_string_equal(json_string(parts.claims, "nonce"), "n-1");
	assert_string_equal(json_string(parts.claims, "ath"),
			    "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
	assert_true(json_number(parts.claims, "iat") == 1700000123);
	assert_true(uuid_shaped(json_string(parts.claims, "jti")));
	assert_true(verify_token(pkey, "ES256", &parts));

	parts_release(&parts);
	jwt_text_free(proof);
	jwt_key_free(key);
	EVP_PKEY_free(pkey);
}

static void dpop_proof_for_token_request(void **state)
{
	struct jwt_key *key = NULL;
	struct jwt_dpop dpop = {
		.method = "POST", .url = "https://acme.okta.com/oauth2/v1/token", .now = 5,
	};
	struct parts parts;
	char *proof = NULL;

	(void)state;
	assert_int_equal(jwt_key_generate_p256(&key), RS_OK);
	assert_false(jwt_key_is_rsa(key));
	assert_int_equal(jwt_dpop_proof(key, &dpop, &proof), RS_OK);
	split_token(proof, &parts);
	assert_string_equal(json_string(parts.claims, "htm"), "POST");
	assert_string_equal(json_string(parts.claims, "htu"), "https://acme.okta.com/oauth2/v1/token");
	assert_null(cJSON_GetObjectItemCaseSensitive(parts.claims, "nonce"));
	assert_null(cJSON_GetObjectItemCaseSensitive(parts.claims, "ath"));
	assert_int_equal(cJSON_GetArraySize(parts.claims), 4);
	parts_release(&parts);
	jwt_text_free(proof);
	jwt_key_free(key);
}

static void dpop_needs_p256_key(void **state)
{
	EVP_PKEY *pkey = rsa_2048();
	struct jwt_key *key = load_key(pkey);
	struct jwt_dpop dpop = { .method = "GET", .url = "https://a.example/", .now = 1 };
	char *proof = NULL;

	(void)state;
	assert_null(jwt_key_public_jwk(key));
	assert_int_not_equal(jwt_dpop_proof(key, &dpop, &proof), RS_OK);
	assert_null(proof);
	jwt_key_free(key);
	EVP_PKEY_free(pkey);
}

/* ---- certificates ---- */

/* Creates a self-signed certificate for pkey, valid for days from now. */
static char *certificate_pem(EVP_PKEY *pkey, long days, X509 **x509_out)
{
	X509 *x509 = X509_new();
	BIO *bio = BIO_new(BIO_s_mem());
	char *data;
	char *pem;
	long len;

	assert_non_null(x509);
	assert_int_equal(X509_set_version(x509, 2), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x509), 42), 1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x509), 0));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x509), days * 86400));
	assert_int_equal(X509_set_pubkey(x509, pkey), 1);
	assert_int_equal(X509_NAME_add_entry_by_txt(X509_get_subject_name(x509), "CN", MBSTRING_ASC,
						    (const unsigned char *)"rostersync test", -1, -1, 0), 1);
	assert_int_equal(X509_set_issuer_name(x509, X509_get_subject_name(x509)), 1);
	assert_true(X509_sign(x509, pkey, EVP_sha256()) > 0);
	assert_int_equal(PEM_write_bio_X509(bio, x509), 1);
	len = BIO_get_mem_data(bio, &data);
	pem = strndup(data, (size_t)len);
	BIO_free(bio);
	*x509_out = x509;
	return pem;
}

/* base64url of digest over the DER encoding of x509, computed without jwt.c. */
static char *expected_thumbprint(X509 *x509, const EVP_MD *md)
{
	unsigned char *der = NULL;
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int digest_len = 0;
	int der_len = i2d_X509(x509, &der);

	assert_true(der_len > 0);
	assert_int_equal(EVP_Digest(der, (size_t)der_len, digest, &digest_len, md, NULL), 1);
	OPENSSL_free(der);
	return jwt_base64url(digest, digest_len);
}

static void certificate_thumbprints(void **state)
{
	EVP_PKEY *pkey = rsa_2048();
	EVP_PKEY *other = rsa_2048();
	struct jwt_key *key = load_key(pkey);
	struct jwt_key *other_key = load_key(other);
	struct jwt_certificate *certificate = NULL;
	X509 *x509;
	char *pem = certificate_pem(pkey, 30, &x509);
	char *expected;
	char *actual;
	time_t not_after;
	size_t count = 0;

	(void)state;
	assert_int_equal(jwt_certificate_for_key(pem, strlen(pem), "c", key, &certificate, &count),
			 RS_OK);
	assert_non_null(certificate);
	assert_int_equal(count, 1);

	expected = expected_thumbprint(x509, EVP_sha256());
	actual = jwt_certificate_thumbprint(certificate, true);
	assert_string_equal(actual, expected);
	assert_int_equal(strlen(actual), 43);
	free(expected);
	free(actual);
	expected = expected_thumbprint(x509, EVP_sha1());
	actual = jwt_certificate_thumbprint(certificate, false);
	assert_string_equal(actual, expected);
	assert_int_equal(strlen(actual), 27);
	free(expected);
	free(actual);

	assert_true(jwt_certificate_not_after(certificate, &not_after));
	assert_true(not_after > time(NULL) + 29 * 86400);
	assert_true(not_after <= time(NULL) + 30 * 86400);

	jwt_certificate_free(certificate);
	assert_int_equal(jwt_certificate_for_key(pem, strlen(pem), "c", other_key, &certificate,
						 &count), RS_OK);
	assert_null(certificate);
	assert_int_equal(count, 1);

	X509_free(x509);
	free(pem);
	jwt_key_free(key);
	jwt_key_free(other_key);
	EVP_PKEY_free(pkey);
	EVP_PKEY_free(other);
}

/* A chain with the CA before the leaf still finds the leaf of the key. */
static void certificate_found_in_chain(void **state)
{
	EVP_PKEY *leaf_pkey = rsa_2048();
	EVP_PKEY *ca_pkey = rsa_2048();
	struct jwt_key *key = load_key(leaf_pkey);
	struct jwt_certificate *certificate = NULL;
	X509 *leaf;
	X509 *ca;
	char *leaf_pem = certificate_pem(leaf_pkey, 30, &leaf);
	char *ca_pem = certificate_pem(ca_pkey, 30, &ca);
	char *chain = NULL;
	char *expected = expected_thumbprint(leaf, EVP_sha256());
	char *actual;
	size_t count = 0;

	(void)state;
	assert_true(asprintf(&chain, "%s%s", ca_pem, leaf_pem) > 0);
	assert_int_equal(jwt_certificate_for_key(chain, strlen(chain), "c", key, &certificate,
						 &count), RS_OK);
	assert_non_null(certificate);
	assert_int_equal(count, 2);
	actual = jwt_certificate_thumbprint(certificate, true);
	assert_string_equal(actual, expected);

	free(actual);
	free(expected);
	free(chain);
	jwt_certificate_free(certificate);
	X509_free(leaf);
	X509_free(ca);
	free(leaf_pem);
	free(ca_pem);
	jwt_key_free(key);
	EVP_PKEY_free(leaf_pkey);
	EVP_PKEY_free(ca_pkey);
}

static void certificate_rejects_garbage(void **state)
{
	struct jwt_certificate *certificate = NULL;
	static const char text[] = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";

	EVP_PKEY *pkey = rsa_2048();
	struct jwt_key *key = load_key(pkey);
	size_t count = 0;

	(void)state;
	assert_int_equal(jwt_certificate_for_key(text, strlen(text), "c", key, &certificate,
						 &count), RS_ERR_CONFIG);
	assert_null(certificate);
	assert_int_equal(count, 0);
	jwt_key_free(key);
	EVP_PKEY_free(pkey);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(base64url_vectors),
		cmocka_unit_test(ath_of_known_tokens),
		cmocka_unit_test(uuid_is_random_v4),
		cmocka_unit_test(sign_verify_round_trips),
		cmocka_unit_test(sign_rejects_wrong_key_type),
		cmocka_unit_test(key_from_pem_rejects),
		cmocka_unit_test(client_assertion_claims),
		cmocka_unit_test(client_assertion_minimal_header),
		cmocka_unit_test(dpop_proof_claims),
		cmocka_unit_test(dpop_proof_for_token_request),
		cmocka_unit_test(dpop_needs_p256_key),
		cmocka_unit_test(certificate_thumbprints),
		cmocka_unit_test(certificate_found_in_chain),
		cmocka_unit_test(certificate_rejects_garbage),
	};

	log_configure(LOG_DEBUG, LOG_FORMAT_TEXT);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
