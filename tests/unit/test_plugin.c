// SPDX-License-Identifier: GPL-2.0
/* The Docker plugin's pure request parser (host/plugin_json.c), with the
 * bodies dockerd 20.10 sends (docs/docker-plugin.md). */
#include <CUnit/CUnit.h>
#include <errno.h>
#include <string.h>

#include "../../host/plugin.h"

void suite_plugin(void);

#define NID "c8c75fae81f53c3ed6de184687a098b23ae6104c62da9ab878e64eef6e9d6156"
#define EID "2fe8dc699f23e657675633d011e0f15c397622f7cd2503b9efe4bcd1b37acea1"

static int parse(const char *path, const char *body, struct plugin_req *r,
		 char *err)
{
	return plugin_parse(path, body, body ? strlen(body) : 0, r, err,
			    PLUGIN_ERR_MAX);
}

static void test_routes(void)
{
	struct plugin_req r;
	char err[PLUGIN_ERR_MAX];
	bool ipam;

	CU_ASSERT_EQUAL(plugin_route("/Plugin.Activate", &ipam), PM_ACTIVATE);
	CU_ASSERT_FALSE(ipam);
	CU_ASSERT_EQUAL(plugin_route("/IpamDriver.RequestPool", &ipam),
			PM_REQ_POOL);
	CU_ASSERT_TRUE(ipam);
	CU_ASSERT_EQUAL(plugin_route("/NetworkDriver.Nope", &ipam), PM_UNKNOWN);
	CU_ASSERT_EQUAL(parse("/Nope", "{}", &r, err), -ENOENT);
	/* Calls without arguments: no body, or "null". */
	CU_ASSERT_EQUAL(parse("/Plugin.Activate", NULL, &r, err), 0);
	CU_ASSERT_EQUAL(
		parse("/NetworkDriver.GetCapabilities", "null", &r, err), 0);
	CU_ASSERT_EQUAL(parse("/NetworkDriver.Leave", "[1]", &r, err), -EINVAL);
	CU_ASSERT_EQUAL(parse("/NetworkDriver.Leave", "{\"NetworkID\":", &r,
			      err),
			-EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "bad JSON"));
}

static void test_create_network(void)
{
	struct plugin_req r;
	char err[PLUGIN_ERR_MAX], buf[IPNET_STRLEN];

	CU_ASSERT_EQUAL_FATAL(
		parse("/NetworkDriver.CreateNetwork",
		      "{\"NetworkID\":\"" NID
		      "\",\"Options\":{\"com.docker.network.enable_ipv6\":false,"
		      "\"com.docker.network.internal\":true,\"com.docker.network.generic\":{\"wgnet.name\":\"shared\"}},"
		      "\"IPv4Data\":[{\"AddressSpace\":\"wgnet\",\"Gateway\":\"10.90.0.1/24\",\"Pool\":\"10.90.0.0/24\"}],"
		      "\"IPv6Data\":[]}",
		      &r, err),
		0);
	CU_ASSERT_STRING_EQUAL(r.network_id, NID);
	CU_ASSERT_TRUE(r.has_pool4);
	CU_ASSERT_STRING_EQUAL(prefix_fmt(&r.pool4, buf), "10.90.0.0/24");
	CU_ASSERT_STRING_EQUAL(ip_fmt(&r.gw4, buf), "10.90.0.1");
	CU_ASSERT_TRUE(r.internal);
	CU_ASSERT_FALSE(r.has_v6);
	CU_ASSERT_STRING_EQUAL(r.name, "shared");
	CU_ASSERT_EQUAL(
		parse("/NetworkDriver.CreateNetwork",
		      "{\"NetworkID\":\"" NID
		      "\",\"Options\":{\"com.docker.network.generic\":{\"mtu\":\"9000\"}}}",
		      &r, err),
		-EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "unknown option -o mtu"));
	CU_ASSERT_EQUAL(parse("/NetworkDriver.CreateNetwork",
			      "{\"NetworkID\":\"abc\"}", &r, err),
			-EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "NetworkID must be 64"));
	CU_ASSERT_EQUAL(parse("/NetworkDriver.CreateNetwork",
			      "{\"NetworkID\":\"" NID
			      "\",\"IPv4Data\":[{\"Pool\":\"10.90.0.1/24\"}]}",
			      &r, err),
			-EINVAL); /* host bits set */
	CU_ASSERT_EQUAL(
		parse("/NetworkDriver.CreateNetwork",
		      "{\"NetworkID\":\"" NID
		      "\",\"IPv4Data\":[{\"Pool\":\"10.90.0.0/24\",\"AuxAddresses\":{\"x\":\"10.90.0.9\"}}]}",
		      &r, err),
		-EINVAL);
}

static void test_endpoint_and_ports(void)
{
	struct plugin_req r;
	char err[PLUGIN_ERR_MAX], buf[IPNET_STRLEN];
	json_t *p;

	CU_ASSERT_EQUAL_FATAL(
		parse("/NetworkDriver.CreateEndpoint",
		      "{\"NetworkID\":\"" NID "\",\"EndpointID\":\"" EID "\","
		      "\"Interface\":{\"Address\":\"10.90.0.2/24\",\"AddressIPv6\":\"\",\"MacAddress\":\"02:42:0A:5a:00:02\"},"
		      "\"Options\":{}}",
		      &r, err),
		0);
	CU_ASSERT_STRING_EQUAL(ip_fmt(&r.addr4, buf), "10.90.0.2");
	CU_ASSERT_EQUAL(r.plen4, 24);
	CU_ASSERT_STRING_EQUAL(r.mac, "02:42:0a:5a:00:02");
	CU_ASSERT_EQUAL(parse("/NetworkDriver.CreateEndpoint",
			      "{\"NetworkID\":\"" NID "\",\"EndpointID\":\"" EID
			      "\",\"Interface\":{}}",
			      &r, err),
			-EINVAL);
	CU_ASSERT_EQUAL_FATAL(
		parse("/NetworkDriver.ProgramExternalConnectivity",
		      "{\"NetworkID\":\"" NID "\",\"EndpointID\":\"" EID
		      "\",\"Options\":{"
		      "\"com.docker.network.portmap\":[{\"Proto\":6,\"IP\":\"\",\"Port\":80,\"HostIP\":\"\",\"HostPort\":8081,\"HostPortEnd\":8081},"
		      "{\"Proto\":17,\"IP\":\"\",\"Port\":53,\"HostIP\":\"10.0.0.1\",\"HostPort\":5353,\"HostPortEnd\":5353}]}}",
		      &r, err),
		0);
	CU_ASSERT_EQUAL_FATAL(json_array_size(r.ports), 2);
	p = json_array_get(r.ports, 0);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(p, "proto")),
			       "tcp");
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(p, "host_port")),
			8081);
	CU_ASSERT_EQUAL(
		json_integer_value(json_object_get(p, "container_port")), 80);
	CU_ASSERT_PTR_NULL(json_object_get(p, "host_ip"));
	p = json_array_get(r.ports, 1);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(p, "host_ip")),
			       "10.0.0.1");
	plugin_req_clear(&r);
	/* -p 80 (no host port), ranges, sctp: refused with a reason */
	CU_ASSERT_EQUAL(
		parse("/NetworkDriver.ProgramExternalConnectivity",
		      "{\"NetworkID\":\"" NID "\",\"EndpointID\":\"" EID
		      "\",\"Options\":{"
		      "\"com.docker.network.portmap\":[{\"Proto\":6,\"Port\":80,\"HostPort\":0}]}}",
		      &r, err),
		-EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "explicit host port"));
	CU_ASSERT_EQUAL(
		parse("/NetworkDriver.ProgramExternalConnectivity",
		      "{\"NetworkID\":\"" NID "\",\"EndpointID\":\"" EID
		      "\",\"Options\":{"
		      "\"com.docker.network.portmap\":[{\"Proto\":6,\"Port\":80,\"HostPort\":8000,\"HostPortEnd\":8010}]}}",
		      &r, err),
		-EINVAL);
	CU_ASSERT_EQUAL(
		parse("/NetworkDriver.ProgramExternalConnectivity",
		      "{\"NetworkID\":\"" NID "\",\"EndpointID\":\"" EID
		      "\",\"Options\":{"
		      "\"com.docker.network.portmap\":[{\"Proto\":132,\"Port\":80,\"HostPort\":80}]}}",
		      &r, err),
		-EINVAL);
}

static void test_ipam(void)
{
	struct plugin_req r;
	char err[PLUGIN_ERR_MAX], buf[IPNET_STRLEN];

	CU_ASSERT_EQUAL_FATAL(
		parse("/IpamDriver.RequestPool",
		      "{\"AddressSpace\":\"wgnet\",\"Pool\":\"10.90.0.0/24\",\"SubPool\":\"10.90.0.128/25\",\"Options\":{},\"V6\":false}",
		      &r, err),
		0);
	CU_ASSERT_STRING_EQUAL(prefix_fmt(&r.subpool4, buf), "10.90.0.128/25");
	CU_ASSERT_EQUAL(parse("/IpamDriver.RequestPool",
			      "{\"Pool\":\"\",\"V6\":false}", &r, err),
			-EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "needs --subnet"));
	CU_ASSERT_EQUAL(parse("/IpamDriver.RequestPool",
			      "{\"Pool\":\"fd00::/64\",\"V6\":true}", &r, err),
			-EINVAL);
	CU_ASSERT_EQUAL(
		parse("/IpamDriver.RequestPool",
		      "{\"Pool\":\"10.90.0.0/24\",\"SubPool\":\"10.91.0.0/25\"}",
		      &r, err),
		-EINVAL);
	CU_ASSERT_EQUAL_FATAL(
		parse("/IpamDriver.RequestAddress",
		      "{\"PoolID\":\"10.90.0.0/24\",\"Address\":\"\",\"Options\":{\"RequestAddressType\":\"com.docker.network.gateway\"}}",
		      &r, err),
		0);
	CU_ASSERT_TRUE(r.gateway_req);
	CU_ASSERT_EQUAL(r.addr4.family, 0);
	CU_ASSERT_EQUAL_FATAL(
		parse("/IpamDriver.RequestAddress",
		      "{\"PoolID\":\"10.90.0.0/24\",\"Address\":\"10.90.0.7\",\"Options\":null}",
		      &r, err),
		0);
	CU_ASSERT_FALSE(r.gateway_req);
	CU_ASSERT_STRING_EQUAL(ip_fmt(&r.addr4, buf), "10.90.0.7");
	CU_ASSERT_EQUAL(
		parse("/IpamDriver.RequestAddress",
		      "{\"PoolID\":\"10.90.0.0/24\",\"Address\":\"10.91.0.7\"}",
		      &r, err),
		-EINVAL);
	CU_ASSERT_EQUAL(parse("/IpamDriver.ReleasePool",
			      "{\"PoolID\":\"pool-1\"}", &r, err),
			-EINVAL);
}

void suite_plugin(void)
{
	CU_pSuite s = CU_add_suite("plugin", NULL, NULL);

	CU_add_test(s, "routes and bodies", test_routes);
	CU_add_test(s, "CreateNetwork", test_create_network);
	CU_add_test(s, "CreateEndpoint and port bindings",
		    test_endpoint_and_ports);
	CU_add_test(s, "IPAM requests", test_ipam);
}
