package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-video/parley/callclient"
	"github.com/parley-video/parley/config"
	"github.com/pion/rtp"
)

// delays collects the one-way delay of timestamped packets per stream
// (sender and receivers share this process's clock).
type delays struct {
	mu   sync.Mutex
	from int                     // count only packets numbered from here on
	got  map[string]map[int]bool // stream → numbers received
	d    []time.Duration
}

func (d *delays) onPacket(streamID string, pkt *rtp.Packet) {
	// Payload: "<n>|<unix nanoseconds>|" and padding.
	parts := strings.SplitN(string(pkt.Payload), "|", 3)
	if len(parts) < 3 {
		return
	}
	n, err1 := strconv.Atoi(parts[0])
	ns, err2 := strconv.ParseInt(parts[1], 10, 64)
	if err1 != nil || err2 != nil {
		return
	}
	delay := time.Since(time.Unix(0, ns))
	d.mu.Lock()
	defer d.mu.Unlock()
	if n < d.from {
		return
	}
	if d.got[streamID] == nil {
		d.got[streamID] = map[int]bool{}
	}
	if !d.got[streamID][n] {
		d.got[streamID][n] = true
		d.d = append(d.d, delay)
	}
}

// sheddingCall is one running 1:1 call: advisor and customer publishing.
type sheddingCall struct {
	a, c   *callclient.Client
	tracks []*callclient.LocalTrack
	want   []string // stream ids the two receive
}

// TestLoadSheddingRefusesJoinAtLimit: a node with rtc.max_participants 4
// carries two 1:1 calls (4 participants). The next customer's join is
// refused with 503 busy and Retry-After, and the running calls go on:
// every client measures the one-way delay and the loss of timestamped
// packets (audio and video every 20 ms both ways) sent while the
// refused joins happen; p99 < 20 ms and loss < 1 %.
func TestLoadSheddingRefusesJoinAtLimit(t *testing.T) {
	s := startServer(t, func(c *config.Config) { c.RTC.MaxParticipants = 4 })
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	adv, err := callclient.Staff(ctx, s.base, advisorName, advisorPassword)
	if err != nil {
		t.Fatal(err)
	}
	defer adv.Close()

	rec := &delays{from: 1 << 30, got: map[string]map[int]bool{}}
	opts := func(name string) callclient.Options {
		o := clientOpts(t, name)
		o.OnPacket = rec.onPacket
		o.DiscardPayloads = true
		return o
	}
	var calls []*sheddingCall
	for i := range 2 {
		id, invite, err := adv.CreateConsultation(ctx, fmt.Sprintf("Call %d", i+1))
		if err != nil {
			t.Fatal(err)
		}
		cust, _, err := callclient.JoinInvite(ctx, invite, fmt.Sprintf("Kunde %d", i+1))
		if err != nil {
			t.Fatalf("customer %d joins below the limit: %v", i+1, err)
		}
		defer cust.Close()
		a, err := callclient.Dial(ctx, adv, id, opts(fmt.Sprintf("advisor %d", i+1)))
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		c, err := callclient.Dial(ctx, cust, id, opts(fmt.Sprintf("customer %d", i+1)))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := a.Admit(ctx, c.Self()); err != nil {
			t.Fatal(err)
		}
		if err := c.WaitState(ctx, callclient.StateJoined); err != nil {
			t.Fatal(err)
		}
		call := &sheddingCall{a: a, c: c, want: []string{
			stream(c.Self(), "mic"), stream(c.Self(), "cam"), stream(a.Self(), "mic"), stream(a.Self(), "cam")}}
		for _, cl := range []*callclient.Client{a, c} {
			au, vi, err := cl.Publish(ctx)
			if err != nil {
				t.Fatal(err)
			}
			call.tracks = append(call.tracks, au, vi)
		}
		calls = append(calls, call)
	}

	// Timestamped packets on every track every 20 ms until stop.
	var n struct {
		sync.Mutex
		v int
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		pad := bytes.Repeat([]byte{'x'}, 160)
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			n.Lock()
			n.v = i
			n.Unlock()
			for _, call := range calls {
				for _, tr := range call.tracks {
					p := fmt.Appendf(nil, "%d|%d|", i, time.Now().UnixNano())
					_ = tr.WritePayload(append(p, pad...)) // before the connection is up: dropped
				}
			}
		}
	})
	stopPump := func() { close(done); wg.Wait() }
	defer func() {
		select {
		case <-done:
		default:
			stopPump()
		}
	}()
	for _, call := range calls {
		for i, st := range call.want {
			rx := call.a
			if i >= 2 {
				rx = call.c
			}
			if _, err := rx.WaitTrack(ctx, st); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Let the tracks settle, then measure from the next packet on.
	time.Sleep(time.Second)
	n.Lock()
	from := n.v + 1
	n.Unlock()
	rec.mu.Lock()
	rec.from = from
	rec.mu.Unlock()

	// The node is full: a new consultation's customer is refused, clearly,
	// a few times while the calls run.
	for i := range 3 {
		_, invite, err := adv.CreateConsultation(ctx, fmt.Sprintf("Zu viel %d", i+1))
		if err != nil {
			t.Fatal(err)
		}
		status, retry, code, msg := joinRaw(t, ctx, invite)
		if status != http.StatusServiceUnavailable || code != "busy" || retry < 1 || !strings.Contains(msg, "capacity") {
			t.Fatalf("join at the limit: %d, code %q, Retry-After %d, message %q; want 503 busy with Retry-After", status, code, retry, msg)
		}
		time.Sleep(time.Second)
	}
	time.Sleep(2 * time.Second)
	n.Lock()
	to := n.v
	n.Unlock()
	stopPump()
	time.Sleep(500 * time.Millisecond) // the last packets in flight

	rec.mu.Lock()
	defer rec.mu.Unlock()
	sent := to - from + 1
	streams := 0
	lost := 0
	for _, call := range calls {
		for _, st := range call.want {
			streams++
			got := 0
			for k := range rec.got[st] {
				if k >= from && k <= to {
					got++
				}
			}
			lost += max(0, sent-got)
		}
	}
	ds := slices.Clone(rec.d)
	slices.Sort(ds)
	if len(ds) == 0 {
		t.Fatal("no packets measured")
	}
	p99 := ds[len(ds)*99/100]
	loss := float64(lost) / float64(sent*streams)
	t.Logf("two running calls while the node refused joins: %d packets on %d streams, p50 %v, p99 %v, loss %.2f %%",
		len(ds), streams, ds[len(ds)/2], p99, loss*100)
	if p99 >= 20*time.Millisecond || loss >= 0.01 {
		t.Fatalf("running calls degraded: p99 %v (want < 20 ms), loss %.2f %% (want < 1 %%)", p99, loss*100)
	}
	for _, call := range calls {
		checkClient(t, "advisor", call.a)
		checkClient(t, "customer", call.c)
	}
}

// joinRaw posts a customer's join for invite and returns the status, the
// Retry-After seconds, and the error code and message.
func joinRaw(t *testing.T, ctx context.Context, invite string) (status, retryAfter int, code, msg string) {
	t.Helper()
	u, err := url.Parse(invite)
	if err != nil {
		t.Fatal(err)
	}
	_, token := path.Split(u.Path)
	base := u.Scheme + "://" + u.Host
	p := base + "/api/v1/invites/" + url.PathEscape(token)
	get, _ := http.NewRequestWithContext(ctx, http.MethodGet, p, nil)
	resp, err := http.DefaultClient.Do(get)
	if err != nil {
		t.Fatal(err)
	}
	var inv struct {
		Consent struct {
			Version string `json:"version"`
		} `json:"consent"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&inv)
	resp.Body.Close()
	body, _ := json.Marshal(map[string]any{"name": "Noch ein Kunde", "consent": true, "consentVersion": inv.Consent.Version, "lang": "de"})
	post, _ := http.NewRequestWithContext(ctx, http.MethodPost, p+"/join", bytes.NewReader(body))
	post.Header.Set("Content-Type", "application/json")
	post.Header.Set("Origin", base)
	resp, err = http.DefaultClient.Do(post)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&e)
	retryAfter, _ = strconv.Atoi(resp.Header.Get("Retry-After"))
	return resp.StatusCode, retryAfter, e.Error.Code, e.Error.Message
}
