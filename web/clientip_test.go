package web

import (
	"net/http/httptest"
	"testing"
)

func TestAnonymizeIP(t *testing.T) {
	tests := []struct{ in, want string }{
		{"203.0.113.77", "203.0.113.0"},
		{"10.1.2.3", "10.1.2.0"},
		{"0.0.0.0", "0.0.0.0"},
		{"255.255.255.255", "255.255.255.0"},
		{" 192.0.2.1 ", "192.0.2.0"},
		{"192.0.2.1:5000", "192.0.2.0"},
		{"::ffff:198.51.100.9", "198.51.100.0"},
		{"2001:db8:1:2::3", "2001:db8:1::"},
		{"2001:db8:abcd:1234:5678:9abc:def0:1234", "2001:db8:abcd::"},
		{"[2001:db8:abcd:12::1]:443", "2001:db8:abcd::"},
		{"fe80::1%eth0", "fe80::"},
		{"::1", "::"},
		{"", "unknown"},
		{"not an ip", "unknown"},
		{"203.0.113", "unknown"},
		{"999.1.1.1", "unknown"},
	}
	for _, tt := range tests {
		if got := AnonymizeIP(tt.in); got != tt.want {
			t.Errorf("AnonymizeIP(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestClientIP(t *testing.T) {
	trust, err := newProxyTrust([]string{"10.0.0.0/8", "192.0.2.1", "::1"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, remote, xff, want string
	}{
		{"direct", "198.51.100.7:1234", "", "198.51.100.7"},
		{"untrusted peer's header ignored", "198.51.100.7:1234", "203.0.113.9", "198.51.100.7"},
		{"trusted proxy", "192.0.2.1:1234", "203.0.113.9", "203.0.113.9"},
		{"proxy chain", "10.0.0.2:1234", "203.0.113.9, 10.0.0.5", "203.0.113.9"},
		{"spoofed left entries ignored", "10.0.0.2:1234", "1.1.1.1, 203.0.113.9", "203.0.113.9"},
		{"garbage stops the walk", "10.0.0.2:1234", "203.0.113.9, junk", "10.0.0.2"},
		{"only proxies", "10.0.0.2:1234", "10.0.0.3", "10.0.0.3"},
		{"ipv6 loopback proxy", "[::1]:80", "2001:db8::5", "2001:db8::5"},
		{"mapped peer", "[::ffff:192.0.2.1]:80", "203.0.113.9", "203.0.113.9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.remote
			if tt.xff != "" {
				r.Header.Set("X-Forwarded-For", tt.xff)
			}
			if got := trust.clientIP(r).String(); got != tt.want {
				t.Fatalf("clientIP = %s; want %s", got, tt.want)
			}
		})
	}
	if _, err := newProxyTrust([]string{"10.0.0.0/33"}); err == nil {
		t.Fatal("bad CIDR accepted")
	}
}
