package config

import (
	"net"
	"net/url"
	"strings"
)

// validateOIDC checks auth.oidc and auth.password_login.
func (c *Config) validateOIDC(bad func(key, format string, args ...any)) {
	o := c.Auth.OIDC
	if !o.Enabled {
		if !c.Auth.PasswordLogin {
			bad("auth.password_login", "false needs auth.oidc.enabled: otherwise no one can log in")
		}
		return
	}
	u, err := url.Parse(o.Issuer)
	switch {
	case err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "":
		bad("auth.oidc.issuer", "%q must be the provider's issuer URL, such as https://login.example.com/realms/staff", o.Issuer)
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopbackHost(u.Hostname()):
	default:
		bad("auth.oidc.issuer", "%q must use https (http only for a loopback address)", o.Issuer)
	}
	if strings.TrimSpace(o.ClientID) == "" {
		bad("auth.oidc.client_id", "must be set: Parley's client id at the provider")
	}
	if strings.TrimSpace(o.RoleClaim) == "" {
		bad("auth.oidc.role_claim", "must name the claim that carries the staff role")
	}
	if len(o.RoleMap) == 0 {
		bad("auth.oidc.role_map", "must map at least one value of %s to a role (admin, advisor, backoffice)", o.RoleClaim)
	}
	for value, role := range o.RoleMap {
		switch role {
		case "admin", "advisor", "backoffice":
		default:
			bad("auth.oidc.role_map", "%q maps to %q, which is not admin, advisor or backoffice", value, role)
		}
	}
	if strings.TrimSpace(o.UsernameClaim) == "" {
		bad("auth.oidc.username_claim", "must name the claim that gives the user name")
	}
	if len(o.ButtonLabel) > 64 {
		bad("auth.oidc.button_label", "is longer than 64 bytes")
	}
}

func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
