// SPDX-License-Identifier: GPL-2.0
/*
 * DNS messages for the embedded responder: query parsing, answers from the
 * container's records, error replies and reverse names. Pure: no sockets, no
 * allocation. Every read is bounded by the message length, and compression
 * pointers are never followed, so no input can loop.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "wgnet/dns.h"

#define DNS_OPT_LEN 11 /* root name, type, class, ttl, rdlen 0 */
#define DNS_EDNS_OURS 1232 /* the UDP size we advertise */

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static void wr32(uint8_t *p, uint32_t v)
{
	wr16(p, v >> 16);
	wr16(p + 2, v & 0xffff);
}

/* ASCII only: DNS case-insensitivity must not depend on the locale. */
static uint8_t lc(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? c | 0x20 : c;
}

/*
 * Read an uncompressed name at *off into out (DNS_NAME_WIRE_MAX bytes).
 * Label lengths 64..255 are pointers (0xc0) or the obsolete extended label
 * types (0x40, 0x80): all rejected, which also enforces the 63-byte limit.
 */
static int name_read(const uint8_t *pkt, size_t len, size_t *off, uint8_t *out,
		     size_t *outlen)
{
	size_t o = *off, total = 0;
	uint8_t l;

	for (;;) {
		if (o >= len)
			return -EBADMSG;
		l = pkt[o];
		if (l & 0xc0)
			return -EBADMSG;
		if (total + 1 + l > DNS_NAME_WIRE_MAX || o + 1 + l > len)
			return -EBADMSG;
		memcpy(out + total, pkt + o, 1 + l);
		total += 1 + l;
		o += 1 + l;
		if (!l)
			break;
	}
	*off = o;
	*outlen = total;
	return 0;
}

/* Step over a possibly compressed name without following the pointer. */
static int name_skip(const uint8_t *pkt, size_t len, size_t *off)
{
	size_t o = *off, total = 0;
	uint8_t l;

	for (;;) {
		if (o >= len)
			return -EBADMSG;
		l = pkt[o];
		if ((l & 0xc0) == 0xc0) {
			if (o + 2 > len)
				return -EBADMSG;
			o += 2;
			break;
		}
		if (l & 0xc0)
			return -EBADMSG;
		total += 1 + l;
		if (total > DNS_NAME_WIRE_MAX || o + 1 + l > len)
			return -EBADMSG;
		o += 1 + l;
		if (!l)
			break;
	}
	*off = o;
	return 0;
}

/* Step over one resource record; report its type, class and whether its
 * owner is the root name (as an OPT record's must be). */
static int rr_skip(const uint8_t *pkt, size_t len, size_t *off, uint16_t *type,
		   uint16_t *class, bool *root)
{
	size_t o = *off;
	uint16_t rdlen;

	if (o >= len)
		return -EBADMSG;
	*root = pkt[o] == 0;
	if (name_skip(pkt, len, &o))
		return -EBADMSG;
	if (o + 10 > len)
		return -EBADMSG;
	*type = rd16(pkt + o);
	*class = rd16(pkt + o + 2);
	rdlen = rd16(pkt + o + 8);
	o += 10;
	if (o + rdlen > len)
		return -EBADMSG;
	*off = o + rdlen;
	return 0;
}

/* Look for an OPT record in the additional section. Anything malformed after
 * the question is ignored: the question is what we answer. */
static void parse_edns(const uint8_t *pkt, size_t len, size_t off,
		       struct dns_query *q)
{
	unsigned int skip = rd16(pkt + 6) + rd16(pkt + 8);
	unsigned int ar = rd16(pkt + 10), i;
	uint16_t type, class;
	bool root;

	/* Each record takes at least 11 bytes, so these loops end with the
	 * message even for counts of 65535. */
	for (i = 0; i < skip; i++)
		if (rr_skip(pkt, len, &off, &type, &class, &root))
			return;
	for (i = 0; i < ar; i++) {
		if (rr_skip(pkt, len, &off, &type, &class, &root))
			return;
		if (type == DNS_T_OPT && root && !q->edns) {
			q->edns = true;
			/* class is the requestor's UDP payload size */
			if (class < DNS_UDP_MAX)
				class = DNS_UDP_MAX;
			q->max_reply = class > DNS_EDNS_MAX ? DNS_EDNS_MAX :
							      class;
		}
	}
}

int dns_parse_query(const uint8_t *pkt, size_t len, struct dns_query *q)
{
	size_t off = DNS_HDR_LEN;
	unsigned int opcode;

	if (!q)
		return -EINVAL;
	memset(q, 0, sizeof(*q));
	q->err_rcode = -1;
	q->max_reply = DNS_UDP_MAX;
	if (!pkt || len < DNS_HDR_LEN)
		return -EBADMSG;
	q->id = rd16(pkt);
	q->flags = rd16(pkt + 2);
	/* Never answer a response: two responders could loop. */
	if (q->flags & DNS_F_QR)
		return -EBADMSG;
	opcode = (q->flags >> 11) & 0xf;
	if (opcode) {
		q->err_rcode = DNS_RCODE_NOTIMP;
		return -EBADMSG;
	}
	q->err_rcode = DNS_RCODE_FORMERR;
	if (rd16(pkt + 4) != 1)
		return -EBADMSG;
	if (name_read(pkt, len, &off, q->qname, &q->qname_len))
		return -EBADMSG;
	if (off + 4 > len)
		return -EBADMSG;
	q->qtype = rd16(pkt + off);
	q->qclass = rd16(pkt + off + 2);
	off += 4;
	if (q->qtype == 0 || q->qtype == DNS_T_OPT)
		return -EBADMSG;
	q->has_question = true;
	/* Zone transfers and the MAILA/MAILB meta types, and classes other
	 * than IN (CHAOS "version.bind" and friends): not implemented. */
	if ((q->qtype >= 251 && q->qtype <= 254) || q->qclass != DNS_C_IN) {
		q->err_rcode = DNS_RCODE_NOTIMP;
		return -EBADMSG;
	}
	parse_edns(pkt, len, off, q);
	q->err_rcode = -1;
	return 0;
}

/* Text name to wire form (lowercase). Accepts one trailing dot; rejects
 * empty names and labels, labels over 63 and names over 255 bytes. */
static int name_to_wire(const char *s, uint8_t *out, size_t *wlen)
{
	size_t o = 0, l;
	const char *dot;

	if (!*s || !strcmp(s, "."))
		return -EINVAL;
	while (*s) {
		dot = strchr(s, '.');
		l = dot ? (size_t)(dot - s) : strlen(s);
		if (!l || l > DNS_LABEL_MAX ||
		    o + 1 + l + 1 > DNS_NAME_WIRE_MAX)
			return -EINVAL;
		out[o++] = l;
		for (size_t i = 0; i < l; i++)
			out[o++] = lc((uint8_t)s[i]);
		s += l;
		if (*s == '.')
			s++;
	}
	out[o++] = 0;
	*wlen = o;
	return 0;
}

/* Both names uncompressed wire form; b already lowercase. Length bytes are
 * below 'A', so a case-insensitive byte compare is a label compare. */
static bool name_eq(const uint8_t *a, size_t alen, const uint8_t *b,
		    size_t blen)
{
	if (alen != blen)
		return false;
	for (size_t i = 0; i < alen; i++)
		if (lc(a[i]) != b[i])
			return false;
	return true;
}

static bool addr_same(const struct ip_addr *a, const struct ip_addr *b)
{
	if (a->family != b->family)
		return false;
	if (a->family == AF_INET)
		return !memcmp(a->a + 12, b->a + 12, 4);
	return a->family == AF_INET6 && !memcmp(a->a, b->a, 16);
}

int dns_name_str(const uint8_t *wire, size_t wlen, char *buf, size_t len)
{
	size_t i = 0, o = 0;
	uint8_t l, c;

	if (!wire || !buf || !len)
		return -EINVAL;
	if (wlen >= 1 && wire[0] == 0) {
		if (len < 2)
			return -ENOSPC;
		strcpy(buf, ".");
		return 0;
	}
	while (i < wlen && wire[i]) {
		l = wire[i++];
		if (l > DNS_LABEL_MAX || i + l > wlen)
			return -EINVAL;
		if (o && o + 1 < len)
			buf[o++] = '.';
		else if (o)
			return -ENOSPC;
		for (; l; l--) {
			c = wire[i++];
			if ((lc(c) >= 'a' && lc(c) <= 'z') ||
			    (c >= '0' && c <= '9') || c == '-' || c == '_') {
				if (o + 2 > len)
					return -ENOSPC;
				buf[o++] = c;
			} else {
				if (o + 5 > len)
					return -ENOSPC;
				o += snprintf(buf + o, 5, "\\%03u", c);
			}
		}
	}
	if (i >= wlen)
		return -EINVAL; /* no root label */
	buf[o] = '\0';
	return 0;
}

int dns_reverse_name(const struct ip_addr *ip, char *buf, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	int r;

	if (!ip || !buf)
		return -EINVAL;
	if (ip->family == AF_INET) {
		r = snprintf(buf, len, "%u.%u.%u.%u.in-addr.arpa", ip->a[15],
			     ip->a[14], ip->a[13], ip->a[12]);
		return r < 0 || (size_t)r >= len ? -ENOSPC : 0;
	}
	if (ip->family != AF_INET6)
		return -EINVAL;
	if (len < 64 + sizeof("ip6.arpa"))
		return -ENOSPC;
	for (int i = 15; i >= 0; i--) {
		buf[o++] = hex[ip->a[i] & 0xf];
		buf[o++] = '.';
		buf[o++] = hex[ip->a[i] >> 4];
		buf[o++] = '.';
	}
	strcpy(buf + o, "ip6.arpa");
	return 0;
}

static int rev4_parse(const char *s, size_t len, struct ip_addr *ip)
{
	unsigned int v[4], n = 0, val, digits;
	uint8_t be4[4];
	size_t i = 0;

	while (n < 4) {
		val = 0;
		digits = 0;
		while (i < len && s[i] >= '0' && s[i] <= '9' && digits < 3) {
			val = val * 10 + (s[i++] - '0');
			digits++;
		}
		if (!digits || val > 255)
			return -EINVAL;
		v[n++] = val;
		if (n < 4 && (i >= len || s[i++] != '.'))
			return -EINVAL;
	}
	if (i != len)
		return -EINVAL;
	for (n = 0; n < 4; n++)
		be4[3 - n] = (uint8_t)v[n];
	ip_from_v4(be4, ip);
	return 0;
}

static int rev6_parse(const char *s, size_t len, struct ip_addr *ip)
{
	int h;

	/* 32 nibbles, each followed by a dot except the last */
	if (len != 63)
		return -EINVAL;
	memset(ip, 0, sizeof(*ip));
	for (int n = 0; n < 32; n++) {
		h = hexval(s[2 * n]);
		if (h < 0 || (n < 31 && s[2 * n + 1] != '.'))
			return -EINVAL;
		/* first nibble is the low half of the last byte */
		ip->a[15 - n / 2] |= n % 2 ? h << 4 : h;
	}
	ip->family = AF_INET6;
	return 0;
}

int dns_reverse_parse(const char *name, struct ip_addr *ip)
{
	static const char v4[] = ".in-addr.arpa", v6[] = ".ip6.arpa";
	char buf[DNS_REV_STRLEN];
	size_t len;

	if (!name || !ip)
		return -EINVAL;
	len = strlen(name);
	if (len && name[len - 1] == '.')
		len--;
	if (len >= sizeof(buf))
		return -EINVAL;
	for (size_t i = 0; i < len; i++)
		buf[i] = lc((uint8_t)name[i]);
	buf[len] = '\0';
	if (len > sizeof(v4) - 1 && !strcmp(buf + len - (sizeof(v4) - 1), v4))
		return rev4_parse(buf, len - (sizeof(v4) - 1), ip);
	if (len > sizeof(v6) - 1 && !strcmp(buf + len - (sizeof(v6) - 1), v6))
		return rev6_parse(buf, len - (sizeof(v6) - 1), ip);
	return -EINVAL;
}

/* Header and question; the counts are filled in by finish(). */
static size_t start_reply(const struct dns_query *q, uint8_t *out)
{
	size_t o = DNS_HDR_LEN;

	memset(out, 0, DNS_HDR_LEN);
	wr16(out, q->id);
	if (q->has_question) {
		memcpy(out + o, q->qname, q->qname_len);
		o += q->qname_len;
		wr16(out + o, q->qtype);
		wr16(out + o + 2, q->qclass);
		o += 4;
	}
	return o;
}

static size_t finish(const struct dns_query *q, uint8_t *out, size_t o,
		     uint16_t flags, int rcode, unsigned int ancount)
{
	unsigned int arcount = 0;

	if (q->edns) {
		memset(out + o, 0, DNS_OPT_LEN);
		wr16(out + o + 1, DNS_T_OPT);
		wr16(out + o + 3, DNS_EDNS_OURS);
		o += DNS_OPT_LEN;
		arcount = 1;
	}
	flags |= DNS_F_QR | DNS_F_RA | (q->flags & (DNS_F_RD | DNS_F_CD));
	wr16(out + 2, flags | (rcode & 0xf));
	wr16(out + 4, q->has_question ? 1 : 0);
	wr16(out + 6, ancount);
	wr16(out + 8, 0);
	wr16(out + 10, arcount);
	return o;
}

int dns_build_error(const struct dns_query *q, int rcode, uint8_t *out,
		    size_t outlen)
{
	size_t need;

	if (!q || !out || rcode < 0 || rcode > 15)
		return -EINVAL;
	need = DNS_HDR_LEN + (q->has_question ? q->qname_len + 4 : 0) +
	       (q->edns ? DNS_OPT_LEN : 0);
	if (outlen < need)
		return -ENOSPC;
	return finish(q, out, start_reply(q, out), 0, rcode, 0);
}

/* One answer: owner is a pointer to the question name at offset 12. */
static bool put_rr(uint8_t *out, size_t *o, size_t limit, uint16_t type,
		   const uint8_t *rdata, size_t rdlen)
{
	if (*o + 12 + rdlen > limit)
		return false;
	wr16(out + *o, 0xc000 | DNS_HDR_LEN);
	wr16(out + *o + 2, type);
	wr16(out + *o + 4, DNS_C_IN);
	wr32(out + *o + 6, DNS_TTL);
	wr16(out + *o + 10, rdlen);
	memcpy(out + *o + 12, rdata, rdlen);
	*o += 12 + rdlen;
	return true;
}

static bool single_label(const struct dns_query *q)
{
	return q->qname_len > 1 && q->qname_len == (size_t)q->qname[0] + 2;
}

/* PTR for one of our addresses: the first record with it. */
static const struct dns_record *reverse_match(const struct dns_query *q,
					      const struct dns_record *recs,
					      size_t n)
{
	char text[4 * DNS_NAME_WIRE_MAX];
	struct ip_addr ip;

	if (dns_name_str(q->qname, q->qname_len, text, sizeof(text)) ||
	    dns_reverse_parse(text, &ip))
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (addr_same(&recs[i].addr, &ip))
			return &recs[i];
	return NULL;
}

int dns_answer(const struct dns_query *q, const struct dns_record *recs,
	       size_t n, uint8_t *out, size_t outlen, int *action)
{
	uint8_t wire[DNS_NAME_WIRE_MAX];
	const struct dns_record *ptr;
	unsigned int ancount = 0;
	bool found = false, tc = false;
	size_t limit, o, wlen;
	uint16_t type;

	if (!q || !out || !action || !q->has_question || (n && !recs))
		return -EINVAL;
	*action = DNS_REPLY;
	limit = q->max_reply < DNS_UDP_MAX ? DNS_UDP_MAX : q->max_reply;
	if (limit > outlen)
		limit = outlen;
	/* room for header, question and OPT, kept free for the OPT */
	if (limit < DNS_HDR_LEN + q->qname_len + 4 + DNS_OPT_LEN)
		return -ENOSPC;
	if (q->edns)
		limit -= DNS_OPT_LEN;
	o = start_reply(q, out);

	for (size_t i = 0; i < n; i++) {
		const struct ip_addr *a = &recs[i].addr;

		if (name_to_wire(recs[i].name, wire, &wlen) ||
		    !name_eq(q->qname, q->qname_len, wire, wlen))
			continue;
		found = true;
		if (a->family == AF_INET)
			type = DNS_T_A;
		else if (a->family == AF_INET6)
			type = DNS_T_AAAA;
		else
			continue;
		if (q->qtype != type && q->qtype != DNS_T_ANY)
			continue;
		if (tc)
			continue;
		if (put_rr(out, &o, limit, type,
			   ip_bytes(a), ip_len(a->family)))
			ancount++;
		else
			tc = true;
	}
	if (!found) {
		ptr = reverse_match(q, recs, n);
		if (ptr) {
			found = true;
			if ((q->qtype == DNS_T_PTR || q->qtype == DNS_T_ANY) &&
			    !name_to_wire(ptr->name, wire, &wlen)) {
				if (put_rr(out, &o, limit, DNS_T_PTR, wire,
					   wlen))
					ancount++;
				else
					tc = true;
			}
		}
	}
	if (!found) {
		*action = DNS_FORWARD;
		return finish(q, out, o, 0,
			      single_label(q) ? DNS_RCODE_NXDOMAIN :
						DNS_RCODE_SERVFAIL,
			      0);
	}
	return finish(q, out, o, DNS_F_AA | (tc ? DNS_F_TC : 0),
		      DNS_RCODE_NOERROR, ancount);
}
