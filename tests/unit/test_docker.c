// SPDX-License-Identifier: GPL-2.0
/* Docker Engine API: the pure translation (routes, filters, request bodies,
 * error mapping, prune matching), then the HTTP server on a unix socket in
 * a temp dir over a real host with a SQLite store, driven with libcurl. */
#include <CUnit/CUnit.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../../host/docker_api.h"
#include "../../host/host.h"
#include "wgnet/log.h"
#include "../../host/store.h"

void suite_docker(void);

/* --- routes --- */

static void route(const char *method, const char *path, enum docker_route r,
		  int status, const char *ref)
{
	struct docker_match m;

	docker_route_match(method, path, &m);
	CU_ASSERT_EQUAL(m.route, r);
	if (r == DR_NONE)
		CU_ASSERT_EQUAL(m.status, status);
	if (ref)
		CU_ASSERT_STRING_EQUAL(m.ref, ref);
	if (m.route != r || (r == DR_NONE && m.status != status))
		fprintf(stderr, "\n  route %s %s → %d/%d (%s)\n", method, path,
			m.route, m.status, m.message);
}

static void test_routes(void)
{
	struct docker_match m;

	route("GET", "/_ping", DR_PING, 0, NULL);
	route("HEAD", "/_ping", DR_PING, 0, NULL);
	route("HEAD", "/v1.41/_ping", DR_PING, 0, NULL);
	route("POST", "/_ping", DR_NONE, 405, NULL);
	route("GET", "/version", DR_VERSION, 0, NULL);
	route("GET", "/v1.24/version", DR_VERSION, 0, NULL);
	route("GET", "/v1.41/info", DR_INFO, 0, NULL);
	route("GET", "/v1.41/networks", DR_NET_LIST, 0, NULL);
	route("GET", "/networks", DR_NET_LIST, 0, NULL);
	route("POST", "/networks", DR_NONE, 405, NULL);
	route("GET", "/v1.41/networks/net1", DR_NET_INSPECT, 0, "net1");
	route("DELETE", "/v1.41/networks/abc123", DR_NET_REMOVE, 0, "abc123");
	route("POST", "/v1.41/networks/create", DR_NET_CREATE, 0, "");
	route("POST", "/v1.41/networks/prune", DR_NET_PRUNE, 0, "");
	/* as Docker's router: GET of "create" looks for a network so named */
	route("GET", "/v1.41/networks/create", DR_NET_INSPECT, 0, "create");
	route("PUT", "/v1.41/networks/net1", DR_NONE, 405, NULL);
	route("POST", "/v1.41/networks/net1/connect", DR_NET_CONNECT, 0,
	      "net1");
	route("POST", "/networks/n2/disconnect", DR_NET_DISCONNECT, 0, "n2");
	route("GET", "/v1.41/networks/net1/connect", DR_NONE, 405, NULL);
	route("POST", "/v1.41/networks/net1/bogus", DR_NONE, 404, NULL);
	route("GET", "/v1.41/containers/json", DR_NONE, 404, NULL);
	route("GET", "/v1.41/networks/", DR_NONE, 404, NULL);
	route("GET", "/", DR_NONE, 404, NULL);
	route("GET", "", DR_NONE, 404, NULL);
	route("GET", "networks", DR_NONE, 404, NULL);
	route("GET", "/v1.x/networks", DR_NONE, 404, NULL);
	route("GET", "/v1.50/networks", DR_NONE, 400, NULL);
	route("GET", "/v1.12/networks", DR_NONE, 400, NULL);
	route("GET", "/v99999999999999999999.1/networks", DR_NONE, 404, NULL);
	docker_route_match("GET", "/v1.50/networks", &m);
	CU_ASSERT_PTR_NOT_NULL(strstr(m.message, "too new"));
	CU_ASSERT_PTR_NOT_NULL(strstr(m.message, DOCKER_API_VERSION));
	docker_route_match("POST", "/_ping", &m);
	CU_ASSERT_STRING_EQUAL(m.allow, "GET, HEAD");
	docker_route_match("GET", "/nothing", &m);
	CU_ASSERT_STRING_EQUAL(m.message, "page not found");

	char longp[600];

	snprintf(longp, sizeof(longp), "/networks/%0500d", 7);
	route("GET", longp, DR_NONE, 404, NULL);
	CU_ASSERT_EQUAL(docker_version_num("1.41"), 1041);
	CU_ASSERT_EQUAL(docker_version_num("1.9"), 1009);
	CU_ASSERT(docker_version_num("1.41") > docker_version_num("1.9"));
	CU_ASSERT_EQUAL(docker_version_num("1"), -1);
	CU_ASSERT_EQUAL(docker_version_num("1.4x"), -1);
	CU_ASSERT_EQUAL(docker_version_num(""), -1);
}

/* --- filters --- */

static void test_filters(void)
{
	json_t *f = NULL;
	char *em = NULL;

	CU_ASSERT_EQUAL(
		docker_filters_parse(NULL, docker_list_filters, &f, &em), 0);
	CU_ASSERT_PTR_NULL(f);
	CU_ASSERT_EQUAL(docker_filters_parse("", docker_list_filters, &f, &em),
			0);
	CU_ASSERT_PTR_NULL(f);
	/* Docker's map form and the legacy list form give the same thing. */
	CU_ASSERT_EQUAL(
		docker_filters_parse(
			"{\"name\":{\"net1\":true,\"net2\":true},\"label\":[\"a=b\"]}",
			docker_list_filters, &f, &em),
		0);
	CU_ASSERT_EQUAL(json_array_size(json_object_get(f, "name")), 2);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(
				       json_object_get(f, "label"), 0)),
			       "a=b");
	json_decref(f);
	/* a key without values does not restrict */
	CU_ASSERT_EQUAL(docker_filters_parse("{\"name\":{}}",
					     docker_list_filters, &f, &em),
			0);
	CU_ASSERT_PTR_NULL(f);
	CU_ASSERT_EQUAL(docker_filters_parse("{\"foo\":[\"x\"]}",
					     docker_list_filters, &f, &em),
			-EINVAL);
	CU_ASSERT_STRING_EQUAL(em, "invalid filter 'foo'");
	CU_ASSERT_EQUAL(docker_filters_parse("{\"name\":", docker_list_filters,
					     &f, &em),
			-EINVAL);
	CU_ASSERT_EQUAL(docker_filters_parse("[1]", docker_list_filters, &f,
					     &em),
			-EINVAL);
	CU_ASSERT_EQUAL(docker_filters_parse("{\"name\":[1]}",
					     docker_list_filters, &f, &em),
			-EINVAL);
	CU_ASSERT_EQUAL(docker_filters_parse("{\"name\":{\"x\":1}}",
					     docker_list_filters, &f, &em),
			-EINVAL);
	CU_ASSERT_EQUAL(docker_filters_parse("{\"name\":\"x\"}",
					     docker_list_filters, &f, &em),
			-EINVAL);
	CU_ASSERT_EQUAL(docker_filters_parse("{\"dangling\":[\"maybe\"]}",
					     docker_list_filters, &f, &em),
			-EINVAL);
	CU_ASSERT_STRING_EQUAL(em, "invalid filter 'dangling=maybe'");
	CU_ASSERT_EQUAL(docker_filters_parse("{\"type\":[\"custom\"]}",
					     docker_list_filters, &f, &em),
			0);
	json_decref(f);
	CU_ASSERT_EQUAL(docker_filters_parse("{\"type\":[\"odd\"]}",
					     docker_list_filters, &f, &em),
			-EINVAL);
	/* prune takes label, label! and until only, as Docker */
	CU_ASSERT_EQUAL(docker_filters_parse("{\"name\":[\"x\"]}",
					     docker_prune_filters, &f, &em),
			-EINVAL);
	CU_ASSERT_EQUAL(
		docker_filters_parse(
			"{\"until\":{\"1h\":true},\"label!\":[\"keep\"]}",
			docker_prune_filters, &f, &em),
		0);
	CU_ASSERT_EQUAL(json_object_size(f), 2);
	json_decref(f);
	free(em);
}

static void test_until_and_prune(void)
{
	int64_t now = 1800000000, t = 0;
	json_t *net, *f;

	CU_ASSERT_EQUAL(docker_parse_until("10m", now, &t), 0);
	CU_ASSERT_EQUAL(t, now - 600);
	CU_ASSERT_EQUAL(docker_parse_until("1h30m", now, &t), 0);
	CU_ASSERT_EQUAL(t, now - 5400);
	CU_ASSERT_EQUAL(docker_parse_until("1500000000", now, &t), 0);
	CU_ASSERT_EQUAL(t, 1500000000);
	CU_ASSERT_EQUAL(docker_parse_until("2026-11-25T13:00:00Z", now, &t), 0);
	CU_ASSERT_EQUAL(t, 1795611600);
	CU_ASSERT_EQUAL(docker_parse_until("2026-11-25", now, &t), 0);
	CU_ASSERT_EQUAL(t, 1795564800);
	CU_ASSERT_EQUAL(docker_parse_until("soon", now, &t), -EINVAL);
	CU_ASSERT_EQUAL(docker_parse_until("", now, &t), -EINVAL);
	CU_ASSERT_EQUAL(docker_parse_until("5x", now, &t), -EINVAL);

	net = json_pack("{s:s,s:s,s:{s:s,s:s}}", "Name", "n", "Created",
			"2026-11-25T13:00:00Z", "Labels", "env", "test", "keep",
			"");
	CU_ASSERT(docker_prune_match(NULL, net, now));
	f = json_pack("{s:[s]}", "label", "env=test");
	CU_ASSERT(docker_prune_match(f, net, now));
	json_decref(f);
	/* label values are ANDed */
	f = json_pack("{s:[s,s]}", "label", "env=test", "other");
	CU_ASSERT_FALSE(docker_prune_match(f, net, now));
	json_decref(f);
	f = json_pack("{s:[s]}", "label", "env=prod");
	CU_ASSERT_FALSE(docker_prune_match(f, net, now));
	json_decref(f);
	f = json_pack("{s:[s]}", "label!", "keep");
	CU_ASSERT_FALSE(docker_prune_match(f, net, now));
	json_decref(f);
	f = json_pack("{s:[s]}", "label!", "other");
	CU_ASSERT(docker_prune_match(f, net, now));
	json_decref(f);
	/* created 2026-11-25T13:00Z: older than "until" now-1h, not 2025 */
	f = json_pack("{s:[s]}", "until", "1h");
	CU_ASSERT(docker_prune_match(f, net, now));
	json_decref(f);
	f = json_pack("{s:[s]}", "until", "2025-01-01");
	CU_ASSERT_FALSE(docker_prune_match(f, net, now));
	json_decref(f);
	json_decref(net);
}

/* --- request bodies --- */

static json_t *create_ok(const char *body)
{
	json_t *a = NULL;
	char *em = NULL;
	int rc = docker_create_args(body, strlen(body), &a, &em);

	CU_ASSERT_EQUAL(rc, 0);
	if (rc)
		fprintf(stderr, "\n  create: %s\n", em);
	free(em);
	return a;
}

static void create_bad(const char *body, const char *want)
{
	json_t *a = NULL;
	char *em = NULL;

	CU_ASSERT_EQUAL(docker_create_args(body, strlen(body), &a, &em),
			-EINVAL);
	CU_ASSERT_PTR_NULL(a);
	CU_ASSERT_PTR_NOT_NULL(em);
	if (em && want && !strstr(em, want)) {
		fprintf(stderr, "\n  create error \"%s\" lacks \"%s\"\n", em,
			want);
		CU_FAIL("error text");
	}
	free(em);
}

static const char *js(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "(none)";
}

static void test_create_args(void)
{
	json_t *a;

	/* What the 28.x CLI sends for create with every IPAM flag. */
	a = create_ok(
		"{\"Name\":\"net1\",\"CheckDuplicate\":true,\"Driver\":\"bridge\",\"Scope\":\"\","
		"\"EnableIPv6\":true,\"IPAM\":{\"Driver\":\"default\",\"Options\":{},"
		"\"Config\":[{\"Subnet\":\"10.1.0.0/24\",\"IPRange\":\"10.1.0.128/25\","
		"\"Gateway\":\"10.1.0.254\",\"AuxiliaryAddresses\":{}},"
		"{\"Subnet\":\"fd00:1::/64\",\"Gateway\":\"fd00:1::1\"}]},"
		"\"Internal\":true,\"Attachable\":false,\"Ingress\":false,\"ConfigOnly\":false,"
		"\"ConfigFrom\":null,\"Options\":{\"mtu\":\"1400\"},\"Labels\":{\"a\":\"b\"}}");
	CU_ASSERT_STRING_EQUAL(js(a, "name"), "net1");
	CU_ASSERT_STRING_EQUAL(js(a, "driver"), "bridge");
	CU_ASSERT_STRING_EQUAL(js(a, "subnet"), "10.1.0.0/24");
	CU_ASSERT_STRING_EQUAL(js(a, "ip_range"), "10.1.0.128/25");
	CU_ASSERT_STRING_EQUAL(js(a, "gateway"), "10.1.0.254");
	CU_ASSERT_STRING_EQUAL(js(a, "subnet6"), "fd00:1::/64");
	CU_ASSERT_STRING_EQUAL(js(a, "gateway6"), "fd00:1::1");
	CU_ASSERT(json_is_true(json_object_get(a, "ipv6")));
	CU_ASSERT(json_is_true(json_object_get(a, "internal")));
	CU_ASSERT_STRING_EQUAL(js(json_object_get(a, "labels"), "a"), "b");
	CU_ASSERT_STRING_EQUAL(js(json_object_get(a, "options"), "mtu"),
			       "1400");
	json_decref(a);
	/* minimal: just a name; EnableIPv6 null (28.x) is "not set" */
	a = create_ok("{\"Name\":\"n\",\"EnableIPv6\":null,\"IPAM\":null}");
	CU_ASSERT_EQUAL(json_object_size(a), 1);
	json_decref(a);

	create_bad("", "JSON object");
	create_bad("[]", "JSON object");
	create_bad("{\"Name\":", "invalid JSON");
	create_bad("{\"Name\":\"a\",\"Name\":\"b\"}", "invalid JSON");
	create_bad("{}", "name");
	create_bad("{\"Name\":\"\"}", "name");
	create_bad("{\"Name\":5}", "Name");
	create_bad("{\"Name\":\"n\",\"Internal\":\"yes\"}", "Internal");
	create_bad("{\"Name\":\"n\",\"Labels\":{\"a\":1}}", "Labels");
	create_bad("{\"Name\":\"n\",\"Labels\":[]}", "Labels");
	create_bad("{\"Name\":\"n\",\"Scope\":\"swarm\"}", "scope");
	create_bad("{\"Name\":\"n\",\"EnableIPv4\":false}", "IPv4");
	create_bad("{\"Name\":\"n\",\"Ingress\":true}", "ingress");
	create_bad("{\"Name\":\"n\",\"ConfigOnly\":true}", "config-only");
	create_bad("{\"Name\":\"n\",\"ConfigFrom\":{\"Network\":\"x\"}}",
		   "config-only");
	create_bad("{\"Name\":\"n\",\"IPAM\":{\"Driver\":\"dhcp\"}}", "dhcp");
	create_bad("{\"Name\":\"n\",\"IPAM\":{\"Options\":{\"a\":\"b\"}}}",
		   "IPAM options");
	create_bad("{\"Name\":\"n\",\"IPAM\":{\"Config\":{}}}", "IPAM.Config");
	create_bad("{\"Name\":\"n\",\"IPAM\":{\"Config\":[1]}}", "IPAM.Config");
	create_bad("{\"Name\":\"n\",\"IPAM\":{\"Config\":[{\"Subnet\":1}]}}",
		   "Subnet");
	create_bad(
		"{\"Name\":\"n\",\"IPAM\":{\"Config\":[{\"Subnet\":\"10.0.0.0/8\"},{\"Subnet\":\"11.0.0.0/8\"}]}}",
		"only one IPv4");
	create_bad(
		"{\"Name\":\"n\",\"IPAM\":{\"Config\":[{\"Subnet\":\"10.0.0.0/8\",\"AuxiliaryAddresses\":{\"h\":\"10.0.0.5\"}}]}}",
		"auxiliary");
}

static void test_connect_args(void)
{
	const char *b;
	json_t *a = NULL;
	char *em = NULL;

	b = "{\"Container\":\"c1\",\"EndpointConfig\":{\"IPAMConfig\":{\"IPv4Address\":\"10.1.0.7\","
	    "\"IPv6Address\":\"fd00:1::7\",\"LinkLocalIPs\":[]},\"Links\":null,\"Aliases\":[\"web\",\"www\"],"
	    "\"NetworkID\":\"\",\"MacAddress\":\"\",\"DriverOpts\":null}}";
	CU_ASSERT_EQUAL(docker_connect_args("net1", b, strlen(b), &a, &em), 0);
	CU_ASSERT_STRING_EQUAL(js(a, "network"), "net1");
	CU_ASSERT_STRING_EQUAL(js(a, "container"), "c1");
	CU_ASSERT_STRING_EQUAL(js(a, "ip"), "10.1.0.7");
	CU_ASSERT_STRING_EQUAL(js(a, "ip6"), "fd00:1::7");
	CU_ASSERT_EQUAL(json_array_size(json_object_get(a, "aliases")), 2);
	json_decref(a);
	b = "{\"Container\":\"c1\",\"EndpointConfig\":null}";
	CU_ASSERT_EQUAL(docker_connect_args("n", b, strlen(b), &a, &em), 0);
	CU_ASSERT_EQUAL(json_object_size(a), 2);
	json_decref(a);
	b = "{\"Container\":\"\"}";
	CU_ASSERT_EQUAL(docker_connect_args("n", b, strlen(b), &a, &em),
			-EINVAL);
	b = "{\"Container\":\"c\",\"EndpointConfig\":{\"Aliases\":[1]}}";
	CU_ASSERT_EQUAL(docker_connect_args("n", b, strlen(b), &a, &em),
			-EINVAL);
	b = "{\"Container\":\"c\",\"EndpointConfig\":{\"Aliases\":\"x\"}}";
	CU_ASSERT_EQUAL(docker_connect_args("n", b, strlen(b), &a, &em),
			-EINVAL);
	b = "{\"Container\":\"c\",\"EndpointConfig\":{\"MacAddress\":\"02:00:00:00:00:01\"}}";
	CU_ASSERT_EQUAL(docker_connect_args("n", b, strlen(b), &a, &em),
			-EINVAL);
	b = "{\"Container\":\"c\",\"EndpointConfig\":{\"Links\":[\"a:b\"]}}";
	CU_ASSERT_EQUAL(docker_connect_args("n", b, strlen(b), &a, &em),
			-EINVAL);
	b = "{\"Container\":\"c\",\"EndpointConfig\":{\"IPAMConfig\":{\"IPv4Address\":7}}}";
	CU_ASSERT_EQUAL(docker_connect_args("n", b, strlen(b), &a, &em),
			-EINVAL);
	CU_ASSERT_PTR_NULL(a);

	b = "{\"Container\":\"c1\",\"Force\":true}";
	CU_ASSERT_EQUAL(docker_disconnect_args("net1", b, strlen(b), &a, &em),
			0);
	CU_ASSERT_STRING_EQUAL(js(a, "container"), "c1");
	CU_ASSERT(json_is_true(json_object_get(a, "force")));
	json_decref(a);
	b = "{\"Container\":\"c1\",\"Force\":\"yes\"}";
	CU_ASSERT_EQUAL(docker_disconnect_args("net1", b, strlen(b), &a, &em),
			-EINVAL);
	CU_ASSERT_EQUAL(docker_disconnect_args("net1", NULL, 0, &a, &em),
			-EINVAL);
	free(em);
}

static void test_errors(void)
{
	char msg[256];

	CU_ASSERT_EQUAL(docker_error_status(DR_NET_INSPECT, -ENOENT,
					    "network net9 not found", msg,
					    sizeof(msg)),
			404);
	CU_ASSERT_STRING_EQUAL(msg, "network net9 not found");
	CU_ASSERT_EQUAL(docker_error_status(DR_NET_CONNECT, -ENOENT,
					    "no such container: c9", msg,
					    sizeof(msg)),
			404);
	CU_ASSERT_STRING_EQUAL(msg, "No such container: c9");
	CU_ASSERT_EQUAL(
		docker_error_status(DR_NET_CREATE, -EEXIST,
				    "network with name n already exists", msg,
				    sizeof(msg)),
		409);
	CU_ASSERT_EQUAL(
		docker_error_status(
			DR_NET_CREATE, -EEXIST,
			"subnet 10.0.0.0/8 overlaps with network a (10.1.0.0/16)",
			msg, sizeof(msg)),
		403);
	CU_ASSERT_PTR_NOT_NULL(strstr(
		msg, "Pool overlaps with other one on this address space"));
	CU_ASSERT_EQUAL(docker_error_status(DR_NET_CONNECT, -EEXIST, "x", msg,
					    sizeof(msg)),
			403);
	CU_ASSERT_EQUAL(docker_error_status(DR_NET_REMOVE, -EBUSY, "x", msg,
					    sizeof(msg)),
			409);
	CU_ASSERT_EQUAL(docker_error_status(DR_NET_CREATE, -EINVAL, "bad", msg,
					    sizeof(msg)),
			400);
	CU_ASSERT_EQUAL(docker_error_status(DR_NET_CONNECT, -ENOSPC, NULL, msg,
					    sizeof(msg)),
			503);
	CU_ASSERT_STRING_EQUAL(msg, strerror(ENOSPC));
	CU_ASSERT_EQUAL(docker_error_status(DR_NET_CONNECT, -EHOSTUNREACH, "g",
					    msg, sizeof(msg)),
			503);
	CU_ASSERT_EQUAL(docker_error_status(DR_NET_LIST, -EIO, "store", msg,
					    sizeof(msg)),
			500);
}

static void test_sock_default(void)
{
	char buf[64];

	CU_ASSERT_EQUAL(docker_sock_default("/run/wgnet/host.sock", buf,
					    sizeof(buf)),
			0);
	CU_ASSERT_STRING_EQUAL(buf, DOCKER_DEFAULT_SOCK);
	CU_ASSERT_EQUAL(docker_sock_default("/tmp/x/h.sock", buf, sizeof(buf)),
			0);
	CU_ASSERT_STRING_EQUAL(buf, "/tmp/x/docker.sock");
	CU_ASSERT_EQUAL(docker_sock_default("h.sock", buf, sizeof(buf)), 0);
	CU_ASSERT_STRING_EQUAL(buf, "docker.sock");
	CU_ASSERT_EQUAL(
		docker_sock_default(
			"/a/very/long/path/that/does/not/fit/in/the/buffer/host.sock",
			buf, 20),
		-ENAMETOOLONG);
}

/* --- the server --- */

static char tdir[64];
static char sock[128];
static struct store *st;
static struct host *hst;
static struct docker_api *api;

struct resp {
	long status;
	char *body;
	size_t len;
	char headers[4096];
	size_t hlen;
};

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
	struct resp *r = ud;
	char *nb = realloc(r->body, r->len + sz * n + 1);

	if (!nb)
		return 0;
	memcpy(nb + r->len, p, sz * n);
	r->len += sz * n;
	nb[r->len] = '\0';
	r->body = nb;
	return sz * n;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
	struct resp *r = ud;
	size_t k = sz * n;

	if (r->hlen + k < sizeof(r->headers)) {
		memcpy(r->headers + r->hlen, p, k);
		r->hlen += k;
		r->headers[r->hlen] = '\0';
	}
	return k;
}

/* One request; the body is "" when there is none. */
static long req(const char *method, const char *path, const char *body,
		struct resp *r)
{
	CURL *c = curl_easy_init();
	char url[1024];
	struct curl_slist *hd = NULL;

	memset(r, 0, sizeof(*r));
	r->body = calloc(1, 1);
	snprintf(url, sizeof(url), "http://docker%s", path);
	curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, sock);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	if (!strcmp(method, "HEAD"))
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	else
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	if (body) {
		hd = curl_slist_append(hd, "Content-Type: application/json");
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, hd);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	else
		r->status = -1;
	curl_slist_free_all(hd);
	curl_easy_cleanup(c);
	return r->status;
}

static json_t *body_json(struct resp *r)
{
	return json_loads(r->body ? r->body : "", 0, NULL);
}

static void resp_free(struct resp *r)
{
	free(r->body);
	r->body = NULL;
}

/* status and, if want_msg, the {"message"} contains it */
static void expect(const char *method, const char *path, const char *body,
		   long status, const char *want_msg)
{
	struct resp r;
	json_t *j;

	req(method, path, body, &r);
	CU_ASSERT_EQUAL(r.status, status);
	if (r.status != status)
		fprintf(stderr, "\n  %s %s → %ld %s\n", method, path, r.status,
			r.body);
	if (want_msg) {
		const char *m;

		j = body_json(&r);
		m = json_string_value(json_object_get(j, "message"));
		CU_ASSERT_PTR_NOT_NULL(m);
		if (m && !strstr(m, want_msg)) {
			fprintf(stderr, "\n  message \"%s\" lacks \"%s\"\n", m,
				want_msg);
			CU_FAIL("message text");
		}
		json_decref(j);
	}
	resp_free(&r);
}

static int srv_init(void)
{
	char uri[128];

	log_level = LOG_LVL_ERR;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	snprintf(tdir, sizeof(tdir), "/tmp/wgnet-tdocker-XXXXXX");
	if (!mkdtemp(tdir))
		return -1;
	snprintf(sock, sizeof(sock), "%s/docker.sock", tdir);
	snprintf(uri, sizeof(uri), "sqlite:%s/state.db", tdir);
	st = store_open(uri);
	if (!st)
		return -1;
	hst = host_new(st, "test", 30);
	if (!hst)
		return -1;
	return docker_api_start(hst, sock, &api) ? -1 : 0;
}

static int srv_cleanup(void)
{
	char cmd[160];

	docker_api_stop(api);
	host_free(hst);
	if (st)
		st->ops->close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tdir);
	if (system(cmd))
		return -1;
	curl_global_cleanup();
	return 0;
}

static void test_http_ping_version(void)
{
	struct resp r;
	struct stat sb;
	json_t *j;

	CU_ASSERT_EQUAL(stat(sock, &sb), 0);
	CU_ASSERT(S_ISSOCK(sb.st_mode));
	CU_ASSERT_EQUAL(sb.st_mode & 0777, 0660);
	CU_ASSERT_EQUAL(req("GET", "/_ping", NULL, &r), 200);
	CU_ASSERT_STRING_EQUAL(r.body, "OK");
	CU_ASSERT_PTR_NOT_NULL(strcasestr(r.headers, "Api-Version: 1.41"));
	CU_ASSERT_PTR_NOT_NULL(strcasestr(r.headers, "OSType: linux"));
	CU_ASSERT_PTR_NOT_NULL(
		strcasestr(r.headers, "Docker-Experimental: false"));
	resp_free(&r);
	CU_ASSERT_EQUAL(req("HEAD", "/_ping", NULL, &r), 200);
	CU_ASSERT_EQUAL(r.len, 0);
	CU_ASSERT_PTR_NOT_NULL(strcasestr(r.headers, "Api-Version: 1.41"));
	resp_free(&r);
	CU_ASSERT_EQUAL(req("GET", "/v1.41/version", NULL, &r), 200);
	j = body_json(&r);
	CU_ASSERT_STRING_EQUAL(js(j, "ApiVersion"), DOCKER_API_VERSION);
	CU_ASSERT_STRING_EQUAL(js(j, "MinAPIVersion"), DOCKER_API_MIN_VERSION);
	CU_ASSERT_STRING_EQUAL(js(j, "Os"), "linux");
	CU_ASSERT_PTR_NOT_NULL(
		strcasestr(r.headers, "Content-Type: application/json"));
	json_decref(j);
	resp_free(&r);
	CU_ASSERT_EQUAL(req("GET", "/info", NULL, &r), 200);
	j = body_json(&r);
	CU_ASSERT_STRING_EQUAL(js(j, "OSType"), "linux");
	json_decref(j);
	resp_free(&r);
	expect("GET", "/v1.41/containers/json", NULL, 404, "page not found");
	expect("POST", "/_ping", "{}", 405, "method not allowed");
	expect("GET", "/v1.99/networks", NULL, 400, "too new");
	CU_ASSERT_EQUAL(req("PUT", "/networks/x", NULL, &r), 405);
	CU_ASSERT_PTR_NOT_NULL(strcasestr(r.headers, "Allow: GET, DELETE"));
	resp_free(&r);
}

static void test_http_networks(void)
{
	struct resp r;
	json_t *j;
	char id[80] = "", path[160];

	/* create: 201 {"Id","Warning"} */
	CU_ASSERT_EQUAL(
		req("POST", "/v1.41/networks/create",
		    "{\"Name\":\"dn1\",\"Driver\":\"bridge\",\"CheckDuplicate\":true,"
		    "\"IPAM\":{\"Driver\":\"default\",\"Config\":[{\"Subnet\":\"10.201.0.0/24\","
		    "\"IPRange\":\"10.201.0.128/25\",\"Gateway\":\"10.201.0.254\"}]},"
		    "\"Labels\":{\"env\":\"test\"},\"Internal\":true}",
		    &r),
		201);
	j = body_json(&r);
	CU_ASSERT_EQUAL(strlen(js(j, "Id")), 64);
	CU_ASSERT_STRING_EQUAL(js(j, "Warning"), "");
	snprintf(id, sizeof(id), "%s", js(j, "Id"));
	json_decref(j);
	resp_free(&r);
	expect("POST", "/v1.41/networks/create",
	       "{\"Name\":\"dn2\",\"Labels\":{\"env\":\"prod\",\"keep\":\"1\"}}",
	       201, NULL);
	/* errors */
	expect("POST", "/v1.41/networks/create", "{\"Name\":\"dn1\"}", 409,
	       "network with name dn1 already exists");
	expect("POST", "/v1.41/networks/create",
	       "{\"Name\":\"dn3\",\"IPAM\":{\"Config\":[{\"Subnet\":\"10.201.0.0/16\"}]}}",
	       403, "Pool overlaps with other one on this address space");
	expect("POST", "/v1.41/networks/create",
	       "{\"Name\":\"dn3\",\"IPAM\":{\"Config\":[{\"Subnet\":\"10.202.0.300/24\"}]}}",
	       400, "10.202.0.300/24");
	expect("POST", "/v1.41/networks/create",
	       "{\"Name\":\"dn3\",\"IPAM\":{\"Config\":[{\"Subnet\":\"10.202.0.0/24\",\"Gateway\":\"10.9.9.9\"}]}}",
	       400, "gateway");
	expect("POST", "/v1.41/networks/create", "{\"Name\":\"bad name\"}", 400,
	       "invalid network name");
	expect("POST", "/v1.41/networks/create",
	       "{\"Name\":\"x\",\"Driver\":\"overlay\"}", 400, "overlay");
	expect("POST", "/v1.41/networks/create", "not json", 400,
	       "invalid JSON");
	expect("POST", "/v1.41/networks/create", NULL, 400, "JSON object");

	/* inspect by name, id and id prefix */
	CU_ASSERT_EQUAL(req("GET", "/v1.41/networks/dn1", NULL, &r), 200);
	j = body_json(&r);
	CU_ASSERT_STRING_EQUAL(js(j, "Id"), id);
	CU_ASSERT(json_is_true(json_object_get(j, "Internal")));
	CU_ASSERT_STRING_EQUAL(
		js(json_array_get(json_object_get(json_object_get(j, "IPAM"),
						  "Config"),
				  0),
		   "IPRange"),
		"10.201.0.128/25");
	CU_ASSERT(json_is_object(json_object_get(j, "Containers")));
	json_decref(j);
	resp_free(&r);
	snprintf(path, sizeof(path), "/v1.41/networks/%s", id);
	expect("GET", path, NULL, 200, NULL);
	snprintf(path, sizeof(path), "/v1.41/networks/%.10s?verbose=false", id);
	expect("GET", path, NULL, 200, NULL);
	expect("GET", "/v1.41/networks/dn1?scope=swarm", NULL, 404,
	       "not found");
	expect("GET", "/v1.41/networks/net9", NULL, 404,
	       "network net9 not found");

	/* list with filters in both of Docker's forms */
	CU_ASSERT_EQUAL(req("GET", "/v1.41/networks", NULL, &r), 200);
	j = body_json(&r);
	CU_ASSERT_EQUAL(json_array_size(j), 2);
	json_decref(j);
	resp_free(&r);
	CU_ASSERT_EQUAL(
		req("GET",
		    "/v1.41/networks?filters=%7B%22name%22%3A%7B%22dn1%22%3Atrue%7D%7D",
		    NULL, &r),
		200);
	j = body_json(&r);
	CU_ASSERT_EQUAL(json_array_size(j), 1);
	CU_ASSERT_STRING_EQUAL(js(json_array_get(j, 0), "Name"), "dn1");
	json_decref(j);
	resp_free(&r);
	/* labels ANDed: env=prod and keep → dn2 only; env=test and keep → none */
	CU_ASSERT_EQUAL(
		req("GET",
		    "/v1.41/networks?filters=%7B%22label%22%3A%5B%22env%3Dprod%22%2C%22keep%22%5D%7D",
		    NULL, &r),
		200);
	j = body_json(&r);
	CU_ASSERT_EQUAL(json_array_size(j), 1);
	CU_ASSERT_STRING_EQUAL(js(json_array_get(j, 0), "Name"), "dn2");
	json_decref(j);
	resp_free(&r);
	CU_ASSERT_EQUAL(
		req("GET",
		    "/v1.41/networks?filters=%7B%22label%22%3A%5B%22env%3Dtest%22%2C%22keep%22%5D%7D",
		    NULL, &r),
		200);
	j = body_json(&r);
	CU_ASSERT_EQUAL(json_array_size(j), 0);
	json_decref(j);
	resp_free(&r);
	snprintf(
		path, sizeof(path),
		"/v1.41/networks?filters=%%7B%%22id%%22%%3A%%5B%%22%.12s%%22%%5D%%7D",
		id);
	CU_ASSERT_EQUAL(req("GET", path, NULL, &r), 200);
	j = body_json(&r);
	CU_ASSERT_EQUAL(json_array_size(j), 1);
	json_decref(j);
	resp_free(&r);
	expect("GET", "/v1.41/networks?filters=%7B%22foo%22%3A%5B%22x%22%5D%7D",
	       NULL, 400, "invalid filter 'foo'");
	expect("GET", "/v1.41/networks?filters=%7Bbroken", NULL, 400,
	       "invalid filter");

	/* connect/disconnect without such container */
	expect("POST", "/v1.41/networks/dn1/connect", "{\"Container\":\"c9\"}",
	       404, "No such container: c9");
	expect("POST", "/v1.41/networks/net9/connect", "{\"Container\":\"c9\"}",
	       404, "network net9 not found");
	expect("POST", "/v1.41/networks/dn1/disconnect",
	       "{\"Container\":\"c9\",\"Force\":true}", 404, "c9");
	expect("POST", "/v1.41/networks/dn1/connect", "{}", 400, "container");

	/* prune: label! keeps dn2; then everything */
	CU_ASSERT_EQUAL(
		req("POST",
		    "/v1.41/networks/prune?filters=%7B%22label%21%22%3A%5B%22keep%22%5D%7D",
		    NULL, &r),
		200);
	j = body_json(&r);
	CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "NetworksDeleted")),
			1);
	CU_ASSERT_STRING_EQUAL(
		json_string_value(json_array_get(
			json_object_get(j, "NetworksDeleted"), 0)),
		"dn1");
	json_decref(j);
	resp_free(&r);
	expect("POST",
	       "/v1.41/networks/prune?filters=%7B%22name%22%3A%5B%22x%22%5D%7D",
	       NULL, 400, "invalid filter 'name'");
	/* delete: 204, then 404 */
	CU_ASSERT_EQUAL(req("DELETE", "/v1.41/networks/dn2", NULL, &r), 204);
	CU_ASSERT_EQUAL(r.len, 0);
	resp_free(&r);
	expect("DELETE", "/v1.41/networks/dn2", NULL, 404,
	       "network dn2 not found");
	CU_ASSERT_EQUAL(req("GET", "/v1.41/networks", NULL, &r), 200);
	CU_ASSERT_STRING_EQUAL(r.body, "[]\n");
	resp_free(&r);
}

static void test_http_limits(void)
{
	size_t n = DOCKER_BODY_MAX + 100;
	char *big = malloc(n + 1);
	struct resp r;

	CU_ASSERT_FATAL(big != NULL);
	memset(big, ' ', n);
	big[0] = '{';
	big[n - 1] = '}';
	big[n] = '\0';
	CU_ASSERT_EQUAL(req("POST", "/v1.41/networks/create", big, &r), 413);
	resp_free(&r);
	free(big);
	/* the server is still there */
	CU_ASSERT_EQUAL(req("GET", "/_ping", NULL, &r), 200);
	resp_free(&r);
}

/* A second server on a live socket: refused; on a stale file: replaced. */
static void test_socket_reuse(void)
{
	struct docker_api *d2 = NULL;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char path[160];
	int fd;

	CU_ASSERT_EQUAL(docker_api_start(hst, sock, &d2), -EADDRINUSE);
	CU_ASSERT_PTR_NULL(d2);
	snprintf(path, sizeof(path), "%s/sub/dir/stale.sock", tdir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/stale.sock", tdir);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	CU_ASSERT_EQUAL(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd); /* a socket file with nobody behind it */
	CU_ASSERT_EQUAL(docker_api_start(hst, sa.sun_path, &d2), 0);
	docker_api_stop(d2);
	CU_ASSERT_EQUAL(access(sa.sun_path, F_OK), -1);
	/* parent directories are made */
	d2 = NULL;
	CU_ASSERT_EQUAL(docker_api_start(hst, path, &d2), 0);
	docker_api_stop(d2);
}

void suite_docker(void)
{
	CU_pSuite s = CU_add_suite("docker", NULL, NULL);
	CU_pSuite h = CU_add_suite("docker_http", srv_init, srv_cleanup);

	CU_add_test(s, "routes and API versions", test_routes);
	CU_add_test(s, "filters query", test_filters);
	CU_add_test(s, "until and prune matching", test_until_and_prune);
	CU_add_test(s, "create body", test_create_args);
	CU_add_test(s, "connect and disconnect bodies", test_connect_args);
	CU_add_test(s, "error mapping", test_errors);
	CU_add_test(s, "default socket path", test_sock_default);
	CU_add_test(h, "ping, version, info, unknown paths",
		    test_http_ping_version);
	CU_add_test(h, "network create/inspect/list/prune/delete",
		    test_http_networks);
	CU_add_test(h, "413 for a large body", test_http_limits);
	CU_add_test(h, "socket reuse", test_socket_reuse);
}
