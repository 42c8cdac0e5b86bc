// Command lb is the round-robin load balancer of the cluster tests
// (clustertest.LB) as a program, for scripts/cluster.sh: it health-checks
// each node's /readyz, passes WebSockets, and sets X-Forwarded-For.
//
//	go run ./scripts/lb -listen 127.0.0.1:8080 -backend node-1=http://127.0.0.1:8081 -backend ...
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/parley-video/parley/clustertest"
)

type backends []clustertest.Backend

func (b *backends) String() string { return fmt.Sprint(*b) }

func (b *backends) Set(s string) error {
	name, raw, ok := strings.Cut(s, "=")
	u, err := url.Parse(raw)
	if !ok || name == "" || err != nil || u.Scheme == "" || u.Host == "" {
		return fmt.Errorf("want NAME=http://HOST:PORT, got %q", s)
	}
	*b = append(*b, clustertest.Backend{Name: name, URL: u})
	return nil
}

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "address to listen on")
	var bs backends
	flag.Var(&bs, "backend", "a node as NAME=URL (repeat for each node)")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if len(bs) == 0 {
		fmt.Fprintln(os.Stderr, "lb: give at least one -backend NAME=URL")
		os.Exit(2)
	}
	lb, err := clustertest.ListenLB(*listen, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, "lb:", err)
		os.Exit(1)
	}
	if err := lb.SetBackends(bs); err != nil {
		fmt.Fprintln(os.Stderr, "lb:", err)
		os.Exit(1)
	}
	lb.Serve()
	log.Info("load balancer serving", "url", lb.URL(), "backends", len(bs))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	lb.Close()
}
