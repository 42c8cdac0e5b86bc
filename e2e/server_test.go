package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-video/parley/callclient"
	"github.com/parley-video/parley/config"
)

// The media path of the whole server, driven by callclient: a Go client
// built from PROTOCOL.md and API.md alone.

// goroutineSlack is how far above the baseline the goroutine count may
// stay once everyone left. The baseline is exact (see goroutineBaseline),
// so nothing may stay behind.
const goroutineSlack = 0

// clientOpts names a client; PARLEY_E2E_DEBUG=1 logs its protocol events.
func clientOpts(t *testing.T, name string) callclient.Options {
	o := callclient.Options{Name: name}
	if os.Getenv("PARLEY_E2E_DEBUG") == "1" {
		o.Logf = t.Logf
	}
	return o
}

// stream is the stream id under which subscribers get a participant's track.
func stream(p callclient.ID, track string) string { return string(p) + "~" + track }

// sendAll sends numbered packets 0 … count-1 on every publisher's tracks
// at once.
func sendAll(t *testing.T, ctx context.Context, count int, interval time.Duration, pubs map[string][]*callclient.LocalTrack) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, len(pubs))
	for name, tracks := range pubs {
		wg.Go(func() {
			if err := callclient.SendNumbered(ctx, tracks, 0, count, interval); err != nil {
				errs <- fmt.Errorf("%s: %w", name, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// receivesAll waits until rx has every numbered payload 0 … count-1 of
// each stream, or fails listing what is missing.
func receivesAll(t *testing.T, ctx context.Context, name string, rx *callclient.Client, streams []string, count int) {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	err := rx.WaitTracks(wctx, func(tracks map[string]*callclient.RemoteTrack) bool {
		for _, s := range streams {
			if tr := tracks[s]; tr == nil || len(tr.Missing(0, count)) > 0 {
				return false
			}
		}
		return true
	})
	if err == nil {
		return
	}
	for _, s := range streams {
		tr := rx.Track(s)
		if tr == nil {
			t.Errorf("%s: no track %s", name, s)
			continue
		}
		if m := tr.Missing(0, count); len(m) > 0 {
			t.Errorf("%s: %s: %d of %d numbered packets missing (first %v); %d packets received",
				name, s, len(m), count, m[:min(len(m), 10)], tr.Packets())
		}
	}
	t.Fatalf("%s: %v", name, err)
}

// checkClient fails on anything the client noticed in the background.
func checkClient(t *testing.T, name string, c *callclient.Client) {
	t.Helper()
	if err := c.Err(); err != nil {
		t.Errorf("%s: %v", name, err)
	}
}

// metric reads one counter from the node's admin /metrics (summing all
// label sets).
func metric(t *testing.T, ctx context.Context, s *server, name string) float64 {
	t.Helper()
	if s.AdminAddr() == "" {
		t.Fatal("node has no admin address")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.AdminAddr()+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	var sum float64
	found := false
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) || strings.HasPrefix(line, "#") {
			continue
		}
		rest := line[len(name):]
		if rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue // another metric with this prefix
		}
		v, err := strconv.ParseFloat(rest[strings.LastIndexByte(rest, ' ')+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		sum += v
		found = true
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read /metrics: %v", err)
	}
	if !found {
		t.Fatalf("/metrics has no %s", name)
	}
	return sum
}

// goroutineBaseline waits until the node answers on both of its addresses
// (so its serving goroutines run) and returns the settled goroutine count.
func goroutineBaseline(t *testing.T, s *server) int {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for _, u := range []string{s.base + "/healthz", "http://" + s.AdminAddr() + "/metrics"} {
		resp, err := hc.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s", u, resp.Status)
		}
	}
	// The server's connection goroutines end shortly after the responses.
	n := runtime.NumGoroutine()
	for range 20 {
		time.Sleep(10 * time.Millisecond)
		n = min(n, runtime.NumGoroutine())
	}
	return n
}

// waitGoroutines waits until the goroutine count is back near baseline,
// or fails with a goroutine dump.
func waitGoroutines(t *testing.T, baseline int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= baseline+goroutineSlack {
			t.Logf("goroutines: %d (baseline %d)", n, baseline)
			return
		}
		if time.Now().After(deadline) {
			var buf bytes.Buffer
			_ = pprof.Lookup("goroutine").WriteTo(&buf, 1)
			t.Fatalf("%d goroutines, baseline %d: leak?\n%s", n, baseline, buf.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestServerCall(t *testing.T) {
	s := startServer(t, func(c *config.Config) { c.RTC.PLIInterval = 50 * time.Millisecond })
	baseline := goroutineBaseline(t, s)
	ctx, cancel := context.WithTimeout(t.Context(), 25*time.Second)
	defer cancel()

	// REST: the advisor creates a consultation, the customer joins by link.
	adv, err := callclient.Staff(ctx, s.base, advisorName, advisorPassword)
	if err != nil {
		t.Fatal(err)
	}
	defer adv.Close()
	id, invite, err := adv.CreateConsultation(ctx, "Baufinanzierung")
	if err != nil {
		t.Fatal(err)
	}
	cust, cid, err := callclient.JoinInvite(ctx, invite, "Max Kunde")
	if err != nil {
		t.Fatal(err)
	}
	defer cust.Close()
	if cid != id {
		t.Fatalf("invite leads to %s, created %s", cid, id)
	}

	// Signaling: the customer waits until the advisor admits it.
	a, err := callclient.Dial(ctx, adv, id, clientOpts(t, "advisor"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if a.State() != callclient.StateJoined || a.Role() != "advisor" {
		t.Fatalf("advisor welcome: state %s, role %s", a.State(), a.Role())
	}
	if got := a.Consultation(); got.ID != id || got.Title != "Baufinanzierung" || got.Company != "Musterbank AG" {
		t.Fatalf("welcome consultation %+v", got)
	}
	c, err := callclient.Dial(ctx, cust, id, clientOpts(t, "customer"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.State() != callclient.StateWaiting || c.Role() != "customer" || c.Self() != cust.Participant() {
		t.Fatalf("customer welcome: %s state %s role %s (joined as %s)", c.Self(), c.State(), c.Role(), cust.Participant())
	}
	err = a.WaitRoster(ctx, func(ps []callclient.Participant) bool {
		for _, p := range ps {
			if p.ID == c.Self() && p.State == callclient.StateWaiting && p.Name == "Max Kunde" {
				return true
			}
		}
		return false
	})
	if err != nil {
		t.Fatal(err)
	}
	// A waiting customer may not publish yet (PROTOCOL.md: bad_state).
	_, _, err = c.Publish(ctx)
	if se, ok := errors.AsType[*callclient.ServerError](err); !ok || se.Code != "bad_state" {
		t.Fatalf("publish while waiting: %v, want a bad_state error", err)
	}
	if err := a.Admit(ctx, c.Self()); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitState(ctx, callclient.StateJoined); err != nil {
		t.Fatal(err)
	}

	// Media: both publish; filler packets bring the tracks up, then every
	// numbered packet must arrive on the other side.
	aAudio, aVideo, err := a.Publish(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cAudio, cVideo, err := c.Publish(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stopA := callclient.StartPump([]*callclient.LocalTrack{aAudio, aVideo}, 20*time.Millisecond)
	defer stopA()
	stopC := callclient.StartPump([]*callclient.LocalTrack{cAudio, cVideo}, 20*time.Millisecond)
	defer stopC()
	want := map[string]struct {
		rx      *callclient.Client
		streams []string
	}{
		"advisor":  {a, []string{stream(c.Self(), "mic"), stream(c.Self(), "cam")}},
		"customer": {c, []string{stream(a.Self(), "mic"), stream(a.Self(), "cam")}},
	}
	for name, w := range want {
		for _, st := range w.streams {
			tr, err := w.rx.WaitTrack(ctx, st)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			wantCodec := map[string]string{"mic": "audio/opus", "cam": "video/VP8"}[tr.TrackID]
			if !strings.EqualFold(tr.Codec, wantCodec) {
				t.Errorf("%s: %s arrives as %s, want %s", name, st, tr.Codec, wantCodec)
			}
		}
	}
	stopA()
	stopC()
	const packets = 250
	sendAll(t, ctx, packets, 5*time.Millisecond, map[string][]*callclient.LocalTrack{
		"advisor": {aAudio, aVideo}, "customer": {cAudio, cVideo},
	})
	for name, w := range want {
		receivesAll(t, ctx, name, w.rx, w.streams, packets)
	}

	// A subscriber's PLI reaches the publisher, both ways.
	time.Sleep(150 * time.Millisecond) // past the SFU's PLI interval (50 ms)
	for _, x := range []struct {
		name string
		rx   *callclient.Client
		pub  callclient.ID
		cam  *callclient.LocalTrack
	}{{"advisor", a, c.Self(), cVideo}, {"customer", c, a.Self(), aVideo}} {
		before := x.cam.PLIs()
		if err := x.rx.SendPLI(stream(x.pub, "cam")); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for x.cam.PLIs() <= before {
			if time.Now().After(deadline) {
				t.Fatalf("%s's PLI did not reach the publisher (SSRC %d): %d PLIs", x.name, x.cam.SSRC, x.cam.PLIs())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	// The operator sees the traffic.
	if v := metric(t, ctx, s, "parley_sfu_forwarded_packets_total"); v < 4*packets {
		t.Errorf("parley_sfu_forwarded_packets_total = %v, want ≥ %d", v, 4*packets)
	}
	if v := metric(t, ctx, s, "parley_sfu_pli_total"); v < 2 {
		t.Errorf("parley_sfu_pli_total = %v, want ≥ 2 (the two requested above)", v)
	}
	checkClient(t, "advisor", a)
	checkClient(t, "customer", c)

	// The customer leaves; its tracks end at the advisor. Then the advisor
	// ends the consultation over REST.
	camAtAdvisor := a.Track(stream(c.Self(), "cam"))
	if err := c.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	err = a.WaitRoster(ctx, func(ps []callclient.Participant) bool {
		for _, p := range ps {
			if p.ID == c.Self() && p.State != callclient.StateLeft {
				return false
			}
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-camAtAdvisor.Ended():
	case <-ctx.Done():
		t.Fatal("the customer's camera track did not end at the advisor")
	}
	if err := adv.End(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := a.WaitState(ctx, callclient.StateEnded); err != nil {
		t.Fatal(err)
	}
	<-a.Done()
	if code := a.CloseStatus(); code != 4004 {
		t.Errorf("advisor socket closed with %d, want 4004", code)
	}
	checkClient(t, "advisor", a)
	a.Close()
	c.Close()
	adv.Close()
	cust.Close()
	waitGoroutines(t, baseline)
}

func TestSixParticipants(t *testing.T) {
	s := startServer(t)
	baseline := goroutineBaseline(t, s)
	ctx, cancel := context.WithTimeout(t.Context(), 25*time.Second)
	defer cancel()

	adv, err := callclient.Staff(ctx, s.base, advisorName, advisorPassword)
	if err != nil {
		t.Fatal(err)
	}
	defer adv.Close()
	id, invite, err := adv.CreateConsultation(ctx, "Sechs")
	if err != nil {
		t.Fatal(err)
	}
	link, err := adv.ColleagueLink(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	col, err := callclient.Staff(ctx, s.base, colleagueName, advisorPassword)
	if err != nil {
		t.Fatal(err)
	}
	defer col.Close()
	got, err := col.AcceptColleague(ctx, link)
	if err != nil {
		t.Fatal(err)
	}
	if got != id {
		t.Fatalf("colleague link leads to %s, want %s", got, id)
	}

	type member struct {
		name   string
		h      *callclient.HTTP
		c      *callclient.Client
		tracks []*callclient.LocalTrack
	}
	members := []*member{{name: "advisor", h: adv}, {name: "colleague", h: col}}
	for i := range 4 {
		h, cid, err := callclient.JoinInvite(ctx, invite, fmt.Sprintf("Kunde %d", i+1))
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		if cid != id {
			t.Fatalf("invite leads to %s, want %s", cid, id)
		}
		members = append(members, &member{name: fmt.Sprintf("customer%d", i+1), h: h})
	}
	for _, m := range members {
		m.c, err = callclient.Dial(ctx, m.h, id, clientOpts(t, m.name))
		if err != nil {
			t.Fatal(err)
		}
		defer m.c.Close()
	}
	if st := members[1].c.State(); st != callclient.StateJoined {
		t.Fatalf("colleague is %s after connecting, want joined", st)
	}
	a := members[0].c
	customers := members[2:]
	err = a.WaitRoster(ctx, func(ps []callclient.Participant) bool {
		n := 0
		for _, p := range ps {
			for _, m := range customers {
				if p.ID == m.c.Self() && p.State == callclient.StateWaiting {
					n++
				}
			}
		}
		return n == len(customers)
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range customers {
		if err := a.Admit(ctx, m.c.Self()); err != nil {
			t.Fatal(err)
		}
		if err := m.c.WaitState(ctx, callclient.StateJoined); err != nil {
			t.Fatal(err)
		}
	}

	var stops []func()
	stopAll := func() {
		for _, stop := range stops {
			stop()
		}
		stops = nil
	}
	defer stopAll()
	for _, m := range members {
		audio, video, err := m.c.Publish(ctx)
		if err != nil {
			t.Fatal(err)
		}
		m.tracks = []*callclient.LocalTrack{audio, video}
		stops = append(stops, callclient.StartPump(m.tracks, 20*time.Millisecond))
	}
	// Everyone gets the 10 tracks of the 5 others, and only those.
	streams := make(map[string][]string)
	for _, m := range members {
		for _, o := range members {
			if o != m {
				streams[m.name] = append(streams[m.name], stream(o.c.Self(), "mic"), stream(o.c.Self(), "cam"))
			}
		}
	}
	for _, m := range members {
		err := m.c.WaitTracks(ctx, func(tracks map[string]*callclient.RemoteTrack) bool {
			for _, st := range streams[m.name] {
				if tr := tracks[st]; tr == nil || tr.Packets() == 0 {
					return false
				}
			}
			return true
		})
		if err != nil {
			t.Fatalf("%s: %v (has %d tracks)", m.name, err, len(m.c.Tracks()))
		}
		if n := len(m.c.Tracks()); n != 10 {
			t.Errorf("%s receives %d tracks, want 10", m.name, n)
		}
	}
	stopAll()
	const packets = 50
	pubs := make(map[string][]*callclient.LocalTrack)
	for _, m := range members {
		pubs[m.name] = m.tracks
	}
	sendAll(t, ctx, packets, 10*time.Millisecond, pubs)
	for _, m := range members {
		receivesAll(t, ctx, m.name, m.c, streams[m.name], packets)
		checkClient(t, m.name, m.c)
	}

	for _, m := range members[1:] {
		if err := m.c.Leave(ctx); err != nil {
			t.Fatalf("%s: %v", m.name, err)
		}
	}
	if err := adv.End(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := a.WaitState(ctx, callclient.StateEnded); err != nil {
		t.Fatal(err)
	}
	for _, m := range members {
		m.c.Close()
		m.h.Close()
	}
	waitGoroutines(t, baseline)
}
