// Command parley is a self-hosted, GDPR-first video consultation and
// e-signature service. This file only dispatches subcommands; the node
// package wires the parts together.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/parley-video/parley/pdfjail"
)

func main() {
	// A PDF worker (pdfjail) serves one request and exits, before anything
	// else runs.
	if pdfjail.IsWorker() {
		os.Exit(pdfjail.ServeWorker(context.Background(), os.Stdin, os.Stdout, os.Stderr))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Environ(), os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "parley:", err)
		if e, ok := errors.AsType[*exitError](err); ok {
			os.Exit(e.code)
		}
		os.Exit(1)
	}
}

const usage = `Usage: parley [command] [flags]

Commands:
  serve     run the server (default)
  user      manage staff accounts: user add NAME --role ROLE | user list | user passwd NAME
  verify    check signed PDFs: verify [--json] FILE... (exit 0 valid, 1 invalid, 2 not checkable)
  keys      make development keys (PDF seal, biometric escrow key)
  storage   storage encryption keys: storage genkey | storage rekey
  biometric the escrow holder's tool: biometric open --escrow-key KEY contract.pdf
  help      show this help

Run "parley serve -h" for the server's flags.
`

func run(ctx context.Context, args, environ []string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, environ, stdout, stderr)
	case "user":
		return userCmd(ctx, args, environ, stdin, stdout, stderr)
	case "verify":
		return verifyCmd(ctx, args, environ, stdout, stderr)
	case "keys":
		return keysCmd(ctx, args, stdout, stderr)
	case "storage":
		return storageCmd(ctx, args, environ, stdout, stderr)
	case "biometric":
		return biometricCmd(ctx, args, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
}
