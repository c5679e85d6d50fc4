"""Helpers of the Ethernet host tests: network namespaces, dnsmasq, and the in-namespace agent."""
