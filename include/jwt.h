/*
 * jwt.h - signed JSON Web Tokens for OAuth client assertions (RFC 7523)
 * and DPoP proofs (RFC 9449), built on OpenSSL 3 and cJSON.
 *
 * A token is the compact JWS form: base64url(header) "." base64url(claims)
 * "." base64url(signature), without padding.  Signatures:
 *   RS256  RSASSA-PKCS1-v1_5 with SHA-256;
 *   PS256  RSASSA-PSS with SHA-256, MGF1 with SHA-256 and a 32-byte salt;
 *   ES256  ECDSA on P-256 with SHA-256, as the 64-byte r || s value.
 * Private keys live in struct jwt_key, which is opaque and freed with
 * jwt_key_free().  Strings returned here that can authenticate (assertions
 * and proofs) should be released with jwt_text_free(), which wipes them.
 */
#ifndef ROSTERSYNC_JWT_H
#define ROSTERSYNC_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "error.h"

enum jwt_alg { JWT_RS256 = 0, JWT_PS256, JWT_ES256 };

/* "RS256", "PS256" or "ES256". */
const char *jwt_alg_name(enum jwt_alg alg);

/* Encodes len bytes as base64url without padding.  Returns NULL when memory runs out. */
char *jwt_base64url(const void *data, size_t len);

/* Returns base64url(SHA-256(text)), the DPoP "ath" of an access token. */
char *jwt_sha256_base64url(const char *text);

/* Length of a UUID in text form, with its NUL. */
#define JWT_UUID_SIZE 37

/* Writes a random (version 4) UUID such as "0b1e...-4...".  False when no randomness. */
bool jwt_uuid(char out[JWT_UUID_SIZE]);

/* Wipes and frees a string from this module; NULL is allowed. */
void jwt_text_free(char *text);

struct jwt_key;

/*
 * Reads an unencrypted PEM private key (PKCS#8, or the PKCS#1 RSA and SEC1
 * EC forms) of len bytes.  key_name names the key in log lines ("okta.oauth.
 * private_key_file").  Returns RS_ERR_CONFIG with a logged reason when the
 * text is not such a key, is encrypted, or is an RSA key shorter than
 * 2048 bits or an EC key on a curve other than P-256.
 */
enum rs_err jwt_key_from_pem(const char *pem, size_t len, const char *key_name, struct jwt_key **out);

/* Generates a new P-256 key, such as the per-run DPoP key. */
enum rs_err jwt_key_generate_p256(struct jwt_key **out);

void jwt_key_free(struct jwt_key *key);

/* True for an RSA key (RS256, PS256); false for a P-256 key (ES256). */
bool jwt_key_is_rsa(const struct jwt_key *key);

/*
 * Returns the public JWK of a P-256 key: {"kty":"EC","crv":"P-256","x","y"}
 * with 32-byte coordinates.  NULL for RSA keys or when memory runs out.
 */
cJSON *jwt_key_public_jwk(const struct jwt_key *key);

/*
 * Signs claims with key: header gets "alg" set to alg, then both objects are
 * serialised unformatted.  alg must fit the key (RS256 and PS256 need RSA,
 * ES256 needs P-256).  *out is a new string, NULL on failure.
 */
enum rs_err jwt_sign(const struct jwt_key *key, enum jwt_alg alg, cJSON *header,
		     const cJSON *claims, char **out);

/* A client assertion: who signs it, for which token endpoint, with which header fields. */
struct jwt_assertion {
	const char *client_id;      /* iss and sub */
	const char *audience;       /* aud: the token endpoint URL */
	const char *key_id;         /* "kid" header, or NULL */
	const char *thumbprint_name;   /* "x5t#S256" or "x5t" header, or NULL */
	const char *thumbprint;     /* its value */
	bool not_before;            /* add nbf = iat (Entra documents nbf) */
	time_t now;                 /* iat */
	long lifetime;              /* exp = now + lifetime, seconds */
};

/*
 * Builds a client assertion with header typ JWT and claims iss, sub, aud,
 * jti (a random UUID), iat, exp and, when asked, nbf.
 */
enum rs_err jwt_client_assertion(const struct jwt_key *key, enum jwt_alg alg,
				 const struct jwt_assertion *assertion, char **out);

/* The request a DPoP proof is bound to. */
struct jwt_dpop {
	const char *method;         /* htm */
	const char *url;            /* htu, without its query and fragment */
	const char *nonce;          /* nonce claim, or NULL */
	const char *access_token;   /* ath = base64url(SHA-256(token)), or NULL */
	time_t now;                 /* iat */
};

/*
 * Builds a DPoP proof signed with a P-256 key.  The header has typ
 * dpop+jwt, alg ES256 and the public jwk.  The claims are jti, htm, htu and
 * iat, plus nonce and ath when given.
 */
enum rs_err jwt_dpop_proof(const struct jwt_key *key, const struct jwt_dpop *dpop, char **out);

struct jwt_certificate;

/*
 * Reads the certificates of pem, a file that may hold a chain in any order,
 * and keeps in *out the first whose public key is key's.  *out is NULL, with
 * RS_OK, when none is; *count is the number of certificates read.
 * RS_ERR_CONFIG, with a logged reason naming key_name, when there is none.
 */
enum rs_err jwt_certificate_for_key(const char *pem, size_t len, const char *key_name,
				    const struct jwt_key *key, struct jwt_certificate **out,
				    size_t *count);
void jwt_certificate_free(struct jwt_certificate *certificate);

/*
 * Returns base64url of the SHA-256 (sha256 true, the "x5t#S256" value) or
 * SHA-1 (the "x5t" value) digest of the certificate's DER encoding.
 */
char *jwt_certificate_thumbprint(const struct jwt_certificate *certificate, bool sha256);

/* The certificate's notAfter as epoch seconds; false when it cannot be read. */
bool jwt_certificate_not_after(const struct jwt_certificate *certificate, time_t *out);

#endif
