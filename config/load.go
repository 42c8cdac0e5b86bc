package config

import (
	"bytes"
	"encoding"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// EnvPrefix starts every environment variable Parley reads. The rest of the
// name is the YAML path in upper case joined by "_", e.g. PARLEY_RTC_UDP_PORT.
const EnvPrefix = "PARLEY_"

// Load builds the configuration for "parley serve" from args (without the
// subcommand): defaults → --config file → environment → flags. It does not
// validate; call Validate.
func Load(args []string, environ []string, stderr io.Writer) (Config, error) {
	cfg := Default()
	fs := flag.NewFlagSet("parley serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "YAML configuration file (unknown keys are errors)")
	httpAddr := fs.String("http-addr", "", "public HTTP listen address, e.g. :8080")
	adminAddr := fs.String("admin-addr", "", "metrics listen address, or \"off\"")
	dataDir := fs.String("data-dir", "", "directory for records, files and development keys")
	udpPort := fs.Int("rtc-udp-port", 0, "UDP port for all ICE traffic")
	publicIP := fs.String("public-ip", "", "public IP address announced to clients (NAT 1:1)")
	logLevel := fs.String("log-level", "", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *configPath == "" {
		*configPath = lookupEnv(environ, EnvPrefix+"CONFIG")
	}
	if *configPath != "" {
		if err := LoadFile(&cfg, *configPath); err != nil {
			return cfg, err
		}
	}
	if err := ApplyEnv(&cfg, environ); err != nil {
		return cfg, err
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "http-addr":
			cfg.HTTP.Addr = *httpAddr
		case "admin-addr":
			cfg.Admin.Addr = *adminAddr
		case "data-dir":
			cfg.DataDir = *dataDir
		case "rtc-udp-port":
			cfg.RTC.UDPPort = *udpPort
		case "public-ip":
			cfg.RTC.PublicIP = *publicIP
		case "log-level":
			cfg.Log.Level = *logLevel
		}
	})
	return cfg, nil
}

// LoadFile decodes a YAML file over cfg; unknown keys are errors.
func LoadFile(cfg *Config, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	return nil
}

// ApplyEnv overlays PARLEY_* variables on cfg. Lists are comma-separated.
// A PARLEY_ variable that names no key is an error, so typos are caught.
func ApplyEnv(cfg *Config, environ []string) error {
	known := map[string]reflect.Value{}
	collectEnv(reflect.ValueOf(cfg).Elem(), EnvPrefix, known)
	var errs []error
	for _, kv := range environ {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvPrefix) {
			continue
		}
		if name == EnvPrefix+"CONFIG" || strings.HasPrefix(name, EnvPrefix+"TEST_") {
			continue
		}
		field, ok := known[name]
		if !ok {
			errs = append(errs, fmt.Errorf("environment %s: no such setting", name))
			continue
		}
		if err := setFromString(field, val); err != nil {
			errs = append(errs, fmt.Errorf("environment %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

func collectEnv(v reflect.Value, prefix string, out map[string]reflect.Value) {
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if tag == "" || tag == "-" {
			continue
		}
		name := prefix + strings.ToUpper(tag)
		if f.Type.Kind() == reflect.Struct {
			collectEnv(v.Field(i), name+"_", out)
			continue
		}
		out[name] = v.Field(i)
	}
}

var durationType = reflect.TypeOf(time.Duration(0))

func setFromString(v reflect.Value, s string) error {
	if u, ok := v.Addr().Interface().(encoding.TextUnmarshaler); ok {
		return u.UnmarshalText([]byte(s))
	}
	if v.Type() == durationType {
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("%q is not a duration such as 90s or 24h", s)
		}
		v.SetInt(int64(d))
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", s)
		}
		v.SetInt(n)
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("%q is not true or false", s)
		}
		v.SetBool(b)
	case reflect.Slice:
		if v.Type().Elem().Kind() != reflect.String {
			return fmt.Errorf("this list can only be set in the configuration file")
		}
		var items []string
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				items = append(items, p)
			}
		}
		v.Set(reflect.ValueOf(items))
	default:
		return fmt.Errorf("unsupported setting type %s", v.Type())
	}
	return nil
}

func lookupEnv(environ []string, name string) string {
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return v
		}
	}
	return ""
}
