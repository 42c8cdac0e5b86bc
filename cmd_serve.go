package main

import (
	"context"
	"fmt"
	"io"

	"github.com/parley-video/parley/config"
	"github.com/parley-video/parley/node"
)

// serve runs "parley serve": load and check the configuration, create the
// first admin on an empty installation, run until interrupted.
func serve(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	cfg, err := config.Load(args, environ, stderr)
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("configuration is not usable:\n%w", err)
	}
	log := node.NewLogger(cfg.Log, stderr)
	n, err := node.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	password, created, err := n.Records.EnsureBootstrapAdmin(ctx, cfg.Auth.BootstrapAdmin)
	if err != nil {
		n.Close(ctx)
		return fmt.Errorf("create first admin: %w", err)
	}
	if created {
		fmt.Fprintf(stdout, "\nFirst start: created the admin account %q.\n"+
			"Its password is shown only this once:\n\n    %s\n\n"+
			"Log in at http://localhost%s/login and change it with: parley user passwd %s\n\n",
			cfg.Auth.BootstrapAdmin, password, portOf(n.HTTPAddr()), cfg.Auth.BootstrapAdmin)
	}
	return n.Run(ctx)
}

func portOf(addr string) string {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == ':' {
			return addr[i:]
		}
	}
	return ""
}
