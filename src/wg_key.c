// SPDX-License-Identifier: GPL-2.0
/*
 * WireGuard keys with libsodium: Curve25519 private keys from the system
 * CSPRNG (clamped as WireGuard does), public keys by scalar multiplication
 * with the base point, and the standard base64 text form (44 characters).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sodium.h>

#include "wgnet/log.h"
#include "wgnet/wg.h"

static int key_init(void)
{
	return sodium_init() < 0 ? -EIO : 0;
}

static void key_clamp(uint8_t key[WG_KEY_LEN])
{
	key[0] &= 248;
	key[31] = (key[31] & 127) | 64;
}

int wg_key_generate(uint8_t priv[WG_KEY_LEN])
{
	int ret = key_init();

	if (ret)
		return ret;
	randombytes_buf(priv, WG_KEY_LEN);
	key_clamp(priv);
	return 0;
}

void wg_key_public(uint8_t pub[WG_KEY_LEN], const uint8_t priv[WG_KEY_LEN])
{
	uint8_t k[WG_KEY_LEN];

	memcpy(k, priv, WG_KEY_LEN);
	key_clamp(k);
	if (key_init() || crypto_scalarmult_curve25519_base(pub, k))
		memset(pub, 0, WG_KEY_LEN);
	explicit_bzero(k, sizeof(k));
}

void wg_key_to_base64(char out[WG_KEY_B64_LEN], const uint8_t key[WG_KEY_LEN])
{
	sodium_bin2base64(out, WG_KEY_B64_LEN, key, WG_KEY_LEN,
			  sodium_base64_VARIANT_ORIGINAL);
}

int wg_key_from_base64(uint8_t key[WG_KEY_LEN], const char *b64)
{
	uint8_t tmp[WG_KEY_LEN];
	const char *end = NULL;
	size_t n = 0;
	int ret = -EINVAL;

	if (!b64 || strnlen(b64, WG_KEY_B64_LEN) != WG_KEY_B64_LEN - 1 ||
	    b64[WG_KEY_B64_LEN - 2] != '=')
		return -EINVAL;
	if (key_init())
		return -EIO;
	if (sodium_base642bin(tmp, sizeof(tmp), b64, WG_KEY_B64_LEN - 1, NULL,
			      &n, &end, sodium_base64_VARIANT_ORIGINAL) ||
	    n != WG_KEY_LEN || end != b64 + WG_KEY_B64_LEN - 1)
		goto out;
	memcpy(key, tmp, WG_KEY_LEN);
	ret = 0;
out:
	explicit_bzero(tmp, sizeof(tmp));
	return ret;
}

static int key_load(int fd, uint8_t priv[WG_KEY_LEN])
{
	char buf[128];
	ssize_t n;
	size_t len = 0;
	int ret = -EINVAL;

	while (len < sizeof(buf) - 1) {
		n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	/* The key, then optional trailing whitespace: nothing else. */
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r' ||
		       buf[len - 1] == ' ' || buf[len - 1] == '\t'))
		len--;
	buf[len] = '\0';
	if (len == WG_KEY_B64_LEN - 1)
		ret = wg_key_from_base64(priv, buf);
out:
	explicit_bzero(buf, sizeof(buf));
	return ret;
}

static int write_all(int fd, const char *p, size_t len)
{
	ssize_t n;

	while (len) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void fsync_dir(const char *path)
{
	char copy[PATH_MAX];
	int fd;

	snprintf(copy, sizeof(copy), "%s", path);
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	fsync(fd);
	close(fd);
}

/*
 * Write the new key to a private temporary file, then link() it into place:
 * link never replaces, so a key someone else wrote first wins (-EEXIST), and
 * a crash never leaves a half-written key at path.
 */
static int key_store(const char *path, const uint8_t priv[WG_KEY_LEN])
{
	char tmp[PATH_MAX], line[WG_KEY_B64_LEN + 1];
	int fd = -1, ret;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >=
	    (int)sizeof(tmp))
		return -ENAMETOOLONG;
	unlink(tmp); /* a leftover of ours from a crash */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		  0600);
	if (fd < 0)
		return -errno;
	wg_key_to_base64(line, priv);
	line[WG_KEY_B64_LEN - 1] = '\n';
	line[WG_KEY_B64_LEN] = '\0';
	if (fchmod(fd, 0600) < 0) {
		ret = -errno;
		goto out;
	}
	ret = write_all(fd, line, WG_KEY_B64_LEN);
	if (ret)
		goto out;
	if (fsync(fd) < 0) {
		ret = -errno;
		goto out;
	}
	if (link(tmp, path) < 0)
		ret = -errno;
	else
		fsync_dir(path);
out:
	explicit_bzero(line, sizeof(line));
	close(fd);
	unlink(tmp);
	return ret;
}

int wg_key_load_or_create(const char *path, uint8_t priv[WG_KEY_LEN])
{
	uint8_t key[WG_KEY_LEN];
	int fd = -1, ret, tries;

	for (tries = 0; tries < 2; tries++) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			ret = key_load(fd, key);
			close(fd);
			if (ret)
				log_err("wireguard: %s: not a valid key file",
					path);
			goto out;
		}
		if (errno != ENOENT) {
			ret = -errno;
			log_err("wireguard: open %s: %s", path,
				strerror(errno));
			goto out;
		}
		ret = wg_key_generate(key);
		if (ret)
			goto out;
		ret = key_store(path, key);
		if (ret != -EEXIST)
			break; /* else another writer won: load theirs */
	}
	if (ret)
		log_err("wireguard: store key %s: %s", path, strerror(-ret));
out:
	if (!ret)
		memcpy(priv, key, WG_KEY_LEN);
	explicit_bzero(key, sizeof(key));
	return ret;
}
