/*
 * oauth_jwt.h - what the fake token endpoints need to check a JWT: compact
 * JWS parsing, signature verification with OpenSSL, public keys from PEM
 * and from a JWK, and the JWK thumbprint of RFC 7638.  Written apart from
 * the agent's jwt.c, so that the fake does not trust the code it tests.
 */
#ifndef FAKEIDP_OAUTH_JWT_H
#define FAKEIDP_OAUTH_JWT_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

/* One parsed compact JWS. */
struct fake_jwt {
	cJSON *header;
	cJSON *claims;
	char *input;                 /* base64url(header) "." base64url(claims) */
	unsigned char *signature;
	size_t signature_len;
};

/* Splits and decodes token; false when it is not a compact JWS of two JSON objects. */
bool fake_jwt_parse(const char *token, struct fake_jwt *out);
void fake_jwt_release(struct fake_jwt *jwt);

/* True when the signature is valid for key with alg (RS256, PS256 or ES256). */
bool fake_jwt_verify(const struct fake_jwt *jwt, EVP_PKEY *key, const char *alg);

/* The string or number member name of object, or NULL / false. */
const char *fake_jwt_text(const cJSON *object, const char *name);
bool fake_jwt_number(const cJSON *object, const char *name, double *out);

/* Reads a PEM public key ("BEGIN PUBLIC KEY"); NULL when invalid. */
EVP_PKEY *fake_public_key_from_pem(const char *pem);

/* Builds the public key of an EC P-256 JWK with only public members; NULL otherwise. */
EVP_PKEY *fake_public_key_from_jwk(const cJSON *jwk);

/* Returns the RFC 7638 SHA-256 thumbprint of an EC JWK, base64url; NULL when invalid. */
char *fake_jwk_thumbprint(const cJSON *jwk);

/* Encodes len bytes as base64url without padding; the caller frees the result. */
char *fake_base64url(const unsigned char *data, size_t len);

/* Returns base64url(SHA-256(text)). */
char *fake_sha256_base64url(const char *text);

#endif
