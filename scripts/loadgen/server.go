package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/parley-video/parley/config"
	"github.com/parley-video/parley/node"
	"github.com/parley-video/parley/records"
)

// Accounts the benchmark server creates.
const (
	benchPassword = "correct horse battery staple"
	colleagueUser = "carl"
)

func advisorUser(i int) string { return fmt.Sprintf("adv%d", i) }

// serverInfo is the line a child prints when it is ready.
type serverInfo struct {
	HTTP  string `json:"http,omitempty"`  // Parley's public address
	Debug string `json:"debug,omitempty"` // pprof and /mem
	UDP   string `json:"udp,omitempty"`   // the relay's socket
	WS    string `json:"ws,omitempty"`    // the relay's bare WebSocket server
}

// serveNode runs one whole Parley node (node.New, exactly as
// `parley serve` wires it) on loopback with a fresh data dir, plus a
// debug listener with net/http/pprof and /mem (heap and RSS after a GC),
// until stdin is closed.
func serveNode(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	advisors := fs.Int("advisors", 4, "advisor accounts adv0… to create")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "parley-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	cfg := config.Default()
	cfg.DataDir = dir
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.Admin.Addr = "127.0.0.1:0"
	// LOADGEN_SERVER_LOG=debug|info|warn raises the log level (for
	// debugging a run; the driver counts and echoes the lines).
	level := slog.LevelError
	if l := os.Getenv("LOADGEN_SERVER_LOG"); l != "" {
		if err := level.UnmarshalText([]byte(l)); err != nil {
			return fmt.Errorf("LOADGEN_SERVER_LOG: %w", err)
		}
	}
	cfg.Log.Level = strings.ToLower(level.String())
	cfg.RTC.UDPPort = 0
	cfg.RTC.TCPPort = -1
	cfg.RTC.ListenIP = "127.0.0.1"
	cfg.RTC.IncludeLoopback = true
	cfg.Consultation.MaxParticipants = 50
	cfg.RTC.MaxParticipants = -1 // no load shedding: the generator looks for the capacity itself
	cfg.Auth.LoginAttemptsPerMinute = 100000
	cfg.HTTP.MaxConnectionsPerNetwork = 0 // every generated client comes from 127.0.0.1
	// Every simulated customer comes from loopback, many per invite, and a
	// few advisors hold every call.
	cfg.Consultation.JoinsPerMinute = 10000
	cfg.Consultation.JoinsPerNetworkPerMinute = 10000
	cfg.Consultation.MaxOpenPerAdvisor = 10000
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { // the driver closes stdin to stop us
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	n, err := node.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	users := []string{colleagueUser}
	for i := range *advisors {
		users = append(users, advisorUser(i))
	}
	for _, u := range users {
		if _, err := n.Records.CreateUser(ctx, u, "Bench "+u, records.RoleAdvisor, benchPassword); err != nil {
			n.Close(ctx)
			return fmt.Errorf("create %s: %w", u, err)
		}
	}
	dbg, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		n.Close(ctx)
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/mem", serveMem)
	dsrv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = dsrv.Serve(dbg) }()
	defer dsrv.Close()

	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	info, _ := json.Marshal(serverInfo{HTTP: n.HTTPAddr(), Debug: dbg.Addr().String()})
	fmt.Fprintf(stdout, "%s\n", info)
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// memInfo is the answer of /mem.
type memInfo struct {
	HeapAlloc  uint64 `json:"heapAlloc"` // live heap after GC
	Sys        uint64 `json:"sys"`
	RSS        int64  `json:"rss"`
	Goroutines int    `json:"goroutines"`
}

func serveMem(w http.ResponseWriter, _ *http.Request) {
	runtime.GC()
	debug.FreeOSMemory() // a GC that also returns free pages, so RSS means live memory
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	_ = json.NewEncoder(w).Encode(memInfo{
		HeapAlloc: ms.HeapAlloc, Sys: ms.Sys,
		RSS: procRSS(os.Getpid()), Goroutines: runtime.NumGoroutine(),
	})
}
