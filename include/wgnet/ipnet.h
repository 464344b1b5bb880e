/* SPDX-License-Identifier: GPL-2.0 */
/* IPv4/IPv6 addresses and prefixes: parsing, printing, arithmetic. */
#ifndef WGNET_IPNET_H
#define WGNET_IPNET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* IPv4 is kept v4-mapped (::ffff:a.b.c.d) in a[], as in bpf_shared.h. */
struct ip_addr {
	int family; /* AF_INET or AF_INET6; 0 = unset */
	uint8_t a[16];
};

struct ip_prefix {
	struct ip_addr addr;
	int plen; /* in the family's terms: 0..32 or 0..128 */
};

#define IPNET_STRLEN 64 /* enough for any address or prefix text */

/* 0 or -EINVAL. */
int ip_parse(const char *s, struct ip_addr *out);
/* "a.b.c.d/n" or "x::/n"; strict: host bits must be zero (else -EINVAL). */
int prefix_parse(const char *s, bool strict, struct ip_prefix *out);
/* Format into buf (IPNET_STRLEN); returns buf. */
char *ip_fmt(const struct ip_addr *ip, char *buf);
char *prefix_fmt(const struct ip_prefix *p, char *buf);

int ip_max_plen(int family); /* 32 or 128 */
/* Prefix length in the 128-bit space (IPv4: 96 + plen). */
int prefix_plen128(const struct ip_prefix *p);
bool ip_equal(const struct ip_addr *a, const struct ip_addr *b);
bool prefix_contains(const struct ip_prefix *p, const struct ip_addr *ip);
bool prefix_overlap(const struct ip_prefix *a, const struct ip_prefix *b);
/* Zero the host bits. */
void prefix_normalize(struct ip_prefix *p);
/* Last address of the prefix (broadcast for IPv4). */
void prefix_last(const struct ip_prefix *p, struct ip_addr *out);
/* out = ip + off (off may be negative); -ERANGE on overflow of the family. */
int ip_add(const struct ip_addr *ip, int64_t off, struct ip_addr *out);
/* b - a, saturated to INT64 range; both of one family. */
int64_t ip_diff(const struct ip_addr *a, const struct ip_addr *b);
/* 1 if a > b, -1 if a < b, 0 if equal. */
int ip_cmp(const struct ip_addr *a, const struct ip_addr *b);
/* IPv4 in network byte order (family must be AF_INET). */
uint32_t ip_v4_be(const struct ip_addr *ip);
void ip_from_v4_be(uint32_t be, struct ip_addr *out);
/* The address as it goes on the wire: 4 bytes for IPv4 (the last 4 of the
 * v4-mapped form), 16 for IPv6; ip_len of the family (4 or 16). */
const uint8_t *ip_bytes(const struct ip_addr *ip);
size_t ip_len(int family);
/* The same from 4 bytes in network order (a packet's or a netlink field's). */
void ip_from_v4(const void *be4, struct ip_addr *out);
/* To/from sockaddr (port in host order). */
int ip_to_sockaddr(const struct ip_addr *ip, uint16_t port,
		   struct sockaddr_storage *ss, socklen_t *len);
int ip_from_sockaddr(const struct sockaddr *sa, struct ip_addr *ip,
		     uint16_t *port);
/* "ip:port" or "[ip6]:port". */
int endpoint_parse(const char *s, struct ip_addr *ip, uint16_t *port);
/* The reverse: "ip:port" or "[ip6]:port" into buf; returns buf. */
char *endpoint_fmt(const struct ip_addr *ip, uint16_t port, char *buf,
		   size_t len);
/* The value of a hex digit (either case), -1 for any other character. */
int hexval(char c);

#endif
