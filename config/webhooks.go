package config

import (
	"net/url"
	"os"
	"regexp"
	"slices"
	"time"
)

// WebhooksConfig is events for other systems (a CRM), webhooks/WEBHOOKS.md.
type WebhooksConfig struct {
	// Endpoints receive the events; none: webhooks are off.
	Endpoints []WebhookEndpoint `yaml:"endpoints"`
	// Timeout bounds one delivery attempt (default 10s).
	Timeout time.Duration `yaml:"timeout"`
}

// WebhookEndpoint is one receiver.
type WebhookEndpoint struct {
	// ID names the endpoint in the delivery log and the deliveries' keys
	// (a-z, 0-9, '-', '_'; keep it when the URL changes).
	ID string `yaml:"id"`
	// URL: https, or http only to a loopback address.
	URL string `yaml:"url"`
	// SecretEnv names the environment variable that holds the signing
	// secret (at least 32 characters), shared with the receiver.
	SecretEnv string `yaml:"secret_env"`
	// Events it receives (webhooks/WEBHOOKS.md); empty: all.
	Events []string `yaml:"events"`
	// PersonalData adds the customer's name and e-mail address to the
	// events that have them; false: ids, times and states only.
	PersonalData bool `yaml:"personal_data"`
}

// WebhookEventTypes are the events an endpoint can subscribe to.
var WebhookEventTypes = []string{"consultation.booked", "consultation.started", "consultation.ended",
	"customer.admitted", "document.presented", "contract.signed", "data_subject.request"}

var webhookID = regexp.MustCompile(`^[a-z0-9_-]{1,32}$`)

// WebhookSecret is the endpoint's secret from its environment variable.
func (e WebhookEndpoint) WebhookSecret() string { return os.Getenv(e.SecretEnv) }

func (c *Config) validateWebhooks(bad func(key, format string, args ...any)) {
	if c.Webhooks.Timeout < time.Second || c.Webhooks.Timeout > 2*time.Minute {
		bad("webhooks.timeout", "%s is outside 1s..2m", c.Webhooks.Timeout)
	}
	seen := map[string]bool{}
	for _, e := range c.Webhooks.Endpoints {
		key := "webhooks.endpoints[" + e.ID + "]"
		if !webhookID.MatchString(e.ID) {
			bad(key+".id", "%q must be 1 to 32 characters of a-z, 0-9, '-' and '_'", e.ID)
		}
		if seen[e.ID] {
			bad(key+".id", "%q is used twice", e.ID)
		}
		seen[e.ID] = true
		u, err := url.Parse(e.URL)
		switch {
		case err != nil || u.Host == "" || u.User != nil:
			bad(key+".url", "%q must be an absolute https URL", e.URL)
		case u.Scheme == "https":
		case u.Scheme == "http" && isLoopbackHost(u.Hostname()):
		default:
			bad(key+".url", "%q must use https (http only to a loopback address)", e.URL)
		}
		if e.SecretEnv == "" {
			bad(key+".secret_env", "must name the environment variable holding the signing secret")
		} else if len(e.WebhookSecret()) < 32 {
			bad(key+".secret_env", "the environment variable %s must hold at least 32 characters, e.g. $(openssl rand -hex 32)", e.SecretEnv)
		}
		for _, ev := range e.Events {
			if !slices.Contains(WebhookEventTypes, ev) {
				bad(key+".events", "%q is not one of %v", ev, WebhookEventTypes)
			}
		}
	}
}
