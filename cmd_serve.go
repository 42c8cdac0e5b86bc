package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/parley-video/parley/config"
	"github.com/parley-video/parley/node"
	"github.com/redis/go-redis/v9"
)

// redisLog adapts slog to go-redis's logger (connection errors while Redis
// is unreachable; they name the Redis address, no personal data).
type redisLog struct{ log *slog.Logger }

func (l redisLog) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, fmt.Sprintf(format, v...))
}

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
	// go-redis logs through a process-wide logger; send it to ours.
	redis.SetLogger(redisLog{log.With("component", "redis")})
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
