#include "es_host_rsa.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

struct es_host_rsa_key {
	EVP_PKEY *pkey;
	/* Fetched once: an implicit fetch per signature takes the provider store's lock. */
	EVP_MD *sha256, *sha384, *sha512;
};

es_host_rsa_key *es_host_rsa_key_from_der(const uint8_t *der, size_t length)
{
	const unsigned char *p = der;
	EVP_PKEY *pkey = d2i_AutoPrivateKey(NULL, &p, (long)length);
	if (!pkey)
		return NULL;
	if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA) {
		EVP_PKEY_free(pkey);
		return NULL;
	}
	es_host_rsa_key *key = OPENSSL_zalloc(sizeof *key);
	if (!key) {
		EVP_PKEY_free(pkey);
		return NULL;
	}
	key->pkey = pkey;
	key->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	key->sha384 = EVP_MD_fetch(NULL, "SHA384", NULL);
	key->sha512 = EVP_MD_fetch(NULL, "SHA512", NULL);
	if (!key->sha256 || !key->sha384 || !key->sha512) {
		es_host_rsa_key_free(key);
		return NULL;
	}
	return key;
}

void es_host_rsa_key_free(es_host_rsa_key *key)
{
	if (!key)
		return;
	EVP_MD_free(key->sha256);
	EVP_MD_free(key->sha384);
	EVP_MD_free(key->sha512);
	EVP_PKEY_free(key->pkey);
	OPENSSL_free(key);
}

size_t es_host_rsa_signature_size(const es_host_rsa_key *key)
{
	return (size_t)EVP_PKEY_get_size(key->pkey);
}

long es_host_rsa_sign(const es_host_rsa_key *key, uint16_t scheme, const uint8_t *message, size_t length,
		      uint8_t *signature, size_t capacity)
{
	const EVP_MD *md;
	int pss;
	switch (scheme) {
	case 0x0401: md = key->sha256; pss = 0; break;
	case 0x0501: md = key->sha384; pss = 0; break;
	case 0x0601: md = key->sha512; pss = 0; break;
	case 0x0804: md = key->sha256; pss = 1; break;
	case 0x0805: md = key->sha384; pss = 1; break;
	case 0x0806: md = key->sha512; pss = 1; break;
	default: return -1;
	}
	long result = -1;
	EVP_PKEY_CTX *pctx = NULL;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx)
		return -1;
	if (EVP_DigestSignInit(ctx, &pctx, md, NULL, key->pkey) != 1)
		goto out;
	if (pss && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
		    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1 ||
		    EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) != 1))
		goto out;
	size_t written = capacity;
	if (EVP_DigestSign(ctx, signature, &written, message, length) == 1)
		result = (long)written;
out:
	EVP_MD_CTX_free(ctx);
	return result;
}

const char *es_host_rsa_library(void)
{
	return OpenSSL_version(OPENSSL_VERSION);
}
