/* edgesplit: RSA signatures for TLS handshakes computed by the host's OpenSSL 3 libcrypto.
 *
 * BoringSSL (inside swift-nio-ssl) signs RSA-2048 with its MULX/ADX Montgomery code; the host's
 * OpenSSL 3 uses AVX-512 IFMA where the CPU has it and is about twice as fast there, and an RSA
 * signature is most of the CPU a full handshake with an RSA certificate costs. Only the
 * private-key operation moves: the handshake, the record layer and ECDSA keys stay in BoringSSL.
 * Symbols here do not clash with BoringSSL's, which swift-nio-ssl prefixes. */
#ifndef ES_HOST_RSA_H
#define ES_HOST_RSA_H

#include <stddef.h>
#include <stdint.h>

typedef struct es_host_rsa_key es_host_rsa_key;

/* An RSA private key from DER (PKCS#1 or PKCS#8). NULL when the bytes are not an RSA private
 * key the host library can use. */
es_host_rsa_key *es_host_rsa_key_from_der(const uint8_t *der, size_t length);

void es_host_rsa_key_free(es_host_rsa_key *key);

/* Bytes of a signature (the modulus size). */
size_t es_host_rsa_signature_size(const es_host_rsa_key *key);

/* Signs `message` (not hashed: the scheme names the hash) with a TLS SignatureScheme:
 * 0x0401/0x0501/0x0601 rsa_pkcs1_sha256/384/512, 0x0804/0x0805/0x0806 rsa_pss_rsae_sha256/384/512
 * (salt length = hash length, MGF1 with the same hash, as RFC 8446 §4.2.3 requires). Writes
 * at most `capacity` bytes to `signature`; returns the signature's length, or -1. */
long es_host_rsa_sign(const es_host_rsa_key *key, uint16_t scheme, const uint8_t *message, size_t length,
		      uint8_t *signature, size_t capacity);

/* The host library's version text, e.g. "OpenSSL 3.0.17 1 Jul 2025". */
const char *es_host_rsa_library(void);

#endif
