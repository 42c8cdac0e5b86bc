package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"golang.org/x/term"

	"github.com/parley-video/parley/config"
	"github.com/parley-video/parley/node"
	"github.com/parley-video/parley/records"
)

const userUsage = `Usage:
  parley user add NAME --role advisor|backoffice|admin [--display-name "Full Name"]
  parley user list
  parley user passwd NAME
At a terminal the password is asked for twice, without echo; otherwise it
is read from standard input (one line).
Common flags: --config FILE, --data-dir DIR.
`

// userCmd manages staff accounts in the records database.
func userCmd(ctx context.Context, args, environ []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, userUsage)
		return errors.New("user: missing subcommand")
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("parley user "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "YAML configuration file")
	dataDir := fs.String("data-dir", "", "data directory (overrides the configuration)")
	role := fs.String("role", "", "advisor, backoffice or admin")
	displayName := fs.String("display-name", "", "name customers see (default: NAME)")
	// Accept flags after the positional NAME too.
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	cfg := config.Default()
	if *configPath != "" {
		if err := config.LoadFile(&cfg, *configPath); err != nil {
			return err
		}
	}
	if err := config.ApplyEnv(&cfg, environ); err != nil {
		return err
	}
	if *dataDir != "" {
		cfg.DataDir = *dataDir
	}
	store, err := node.OpenRecords(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()

	switch sub {
	case "add":
		if len(positional) != 1 || *role == "" {
			fmt.Fprint(stderr, userUsage)
			return errors.New("user add: need NAME and --role")
		}
		pw, err := readPassword(stdin, stderr, positional[0])
		if err != nil {
			return err
		}
		name := positional[0]
		if *displayName == "" {
			*displayName = name
		}
		u, err := store.CreateUser(ctx, name, *displayName, records.Role(*role), pw)
		if err != nil {
			return fmt.Errorf("user add %s: %w", name, err)
		}
		fmt.Fprintf(stdout, "created %s (%s)\n", u.Username, u.Role)
	case "list":
		users, err := store.ListUsers(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tROLE\tDISPLAY NAME")
		for _, u := range users {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", u.Username, u.Role, u.DisplayName)
		}
		return tw.Flush()
	case "passwd":
		if len(positional) != 1 {
			fmt.Fprint(stderr, userUsage)
			return errors.New("user passwd: need NAME")
		}
		pw, err := readPassword(stdin, stderr, positional[0])
		if err != nil {
			return err
		}
		if err := store.SetPassword(ctx, positional[0], pw); err != nil {
			return fmt.Errorf("user passwd %s: %w", positional[0], err)
		}
		fmt.Fprintf(stdout, "password of %s changed\n", positional[0])
		if name, err := records.NormalizeUsername(positional[0]); err == nil && name == cfg.Auth.BootstrapAdmin {
			path := filepath.Join(cfg.DataDir, initialPasswordFile)
			if err := os.Remove(path); err == nil {
				fmt.Fprintf(stdout, "deleted %s (the first password)\n", path)
			} else if !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("user passwd %s: delete the first password's file: %w", name, err)
			}
		}
	default:
		fmt.Fprint(stderr, userUsage)
		return fmt.Errorf("user: unknown subcommand %q", sub)
	}
	return nil
}

// readPassword asks for the password of user at a terminal (prompt on
// stderr, no echo, typed twice), or reads one line from a pipe.
func readPassword(stdin io.Reader, prompt io.Writer, user string) (string, error) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fd := int(f.Fd())
		fmt.Fprintf(prompt, "Password for %s: ", user)
		pw, err := term.ReadPassword(fd)
		fmt.Fprintln(prompt)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		fmt.Fprint(prompt, "Repeat the password: ")
		again, err := term.ReadPassword(fd)
		fmt.Fprintln(prompt)
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		if string(pw) != string(again) {
			return "", errors.New("the passwords do not match; nothing changed")
		}
		if len(pw) == 0 {
			return "", errors.New("no password given; nothing changed")
		}
		return string(pw), nil
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from stdin: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", errors.New("no password on standard input (pipe it in: echo 'secret…' | parley user add …)")
	}
	return pw, nil
}
