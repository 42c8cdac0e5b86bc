package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"golang.org/x/term"

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
		if err := announceFirstAdmin(cfg, password, n.HTTPAddr(), stdout, log); err != nil {
			n.Close(ctx)
			return err
		}
	}
	return n.Run(ctx)
}

// initialPasswordFile, in the data directory, holds the first admin's
// password until it is changed with "parley user passwd".
const initialPasswordFile = "initial-admin-password"

// announceFirstAdmin tells the operator the first admin's password without
// putting it into any log: it goes into a file only the service's user can
// read (mode 0600), whose path is logged and printed; only when stdout is
// a terminal (make run) is the password itself shown there as well.
// Under systemd or in a container stdout is a log, so it is not.
func announceFirstAdmin(cfg config.Config, password, addr string, stdout io.Writer, log *slog.Logger) error {
	path := filepath.Join(cfg.DataDir, initialPasswordFile)
	// A leftover from an earlier installation may have looser permissions.
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("first admin password file: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("first admin password file: %w", err)
	}
	_, werr := fmt.Fprintln(f, password)
	if err := errors.Join(werr, f.Close()); err != nil {
		return fmt.Errorf("first admin password file %s: %w", path, err)
	}
	log.Info("first start: created the admin account; its password is in the file (readable by this user only) until it is changed",
		"account", cfg.Auth.BootstrapAdmin, "file", path)
	name := cfg.Auth.BootstrapAdmin
	fmt.Fprintf(stdout, "\nFirst start: created the admin account %q.\nIts password is in %s (readable only by this user).\n", name, path)
	if isTerminal(stdout) {
		fmt.Fprintf(stdout, "Password:\n\n    %s\n\n", password)
	}
	fmt.Fprintf(stdout, "Log in at http://localhost%s/login and change it with: parley user passwd %s\n"+
		"(that also deletes the file).\n\n", portOf(addr), name)
	return nil
}

// isTerminal reports whether w is an interactive terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func portOf(addr string) string {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == ':' {
			return addr[i:]
		}
	}
	return ""
}
