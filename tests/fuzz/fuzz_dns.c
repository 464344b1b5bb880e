// SPDX-License-Identifier: GPL-2.0
/* libFuzzer: bytes → dns_parse_query() → dns_answer() / dns_build_error()
 * with a small fixed record set. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "wgnet/dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct dns_record recs[4];
static int ready;

static void setup(void)
{
	strcpy(recs[0].name, "web");
	recs[0].addr.family = AF_INET;
	recs[0].addr.a[10] = recs[0].addr.a[11] = 0xff;
	recs[0].addr.a[12] = 172;
	recs[0].addr.a[13] = 18;
	recs[0].addr.a[15] = 3;
	strcpy(recs[1].name, "Alias.Example.");
	recs[1].addr = recs[0].addr;
	strcpy(recs[2].name, "web");
	recs[2].addr.family = AF_INET6;
	recs[2].addr.a[0] = 0xfd;
	recs[2].addr.a[15] = 3;
	/* a name that is not valid: must never match or crash */
	memset(recs[3].name, 'x', 255);
	recs[3].addr = recs[2].addr;
	ready = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[DNS_TCP_MAX];
	char text[4 * DNS_NAME_WIRE_MAX];
	struct dns_query q;
	struct ip_addr ip;
	int action, n;

	if (!ready)
		setup();
	if (dns_parse_query(data, size, &q)) {
		if (q.err_rcode >= 0)
			dns_build_error(&q, q.err_rcode, out, DNS_UDP_MAX);
		return 0;
	}
	if (!dns_name_str(q.qname, q.qname_len, text, sizeof(text)))
		dns_reverse_parse(text, &ip);
	/* UDP-sized, then TCP-sized, then a buffer too small */
	n = dns_answer(&q, recs, 4, out, DNS_UDP_MAX, &action);
	if (n > (int)DNS_EDNS_MAX)
		__builtin_trap();
	q.max_reply = DNS_TCP_MAX;
	dns_answer(&q, recs, 4, out, sizeof(out), &action);
	dns_answer(&q, recs, 4, out, 40, &action);
	dns_build_error(&q, DNS_RCODE_SERVFAIL, out, DNS_UDP_MAX);
	return 0;
}
