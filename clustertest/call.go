package clustertest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/parley-video/parley/callclient"
)

// Call is a running call between the first admin (as advisor) and one
// admitted customer, both pion clients (callclient) publishing audio and
// video (filler packets every 20 ms) and receiving the other's.
type Call struct {
	ID                string
	Advisor, Customer *callclient.Client
	// FromCustomer is the customer's microphone as the advisor receives
	// it; FromAdvisor the advisor's as the customer receives it.
	FromCustomer, FromAdvisor *callclient.RemoteTrack

	stopPumps         func()
	advHTTP, custHTTP *callclient.HTTP
	advisorID, custID callclient.ID
}

// StartCall starts a call: the advisor logs in and connects at
// advisorBase, the customer joins and connects at customerBase (the
// balancer's URL, or one node's address on it: LB.NodeURL), the advisor
// admits the customer, both publish, and StartCall returns once each
// receives the other's microphone. Everything is closed when t ends.
func (c *Cluster) StartCall(t testing.TB, advisorBase, customerBase string) *Call {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	adv, err := callclient.Staff(ctx, advisorBase, "admin", c.AdminPassword(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(adv.Close)
	id, invite, err := adv.CreateConsultation(ctx, "clustertest call")
	if err != nil {
		t.Fatal(err)
	}
	cust, _, err := callclient.JoinInvite(ctx, customerBase+strings.TrimPrefix(invite, c.LB.URL()), "Kim")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cust.Close)
	call := &Call{ID: id, advHTTP: adv, custHTTP: cust}
	if call.Advisor, err = callclient.Dial(ctx, adv, id, callclient.Options{Name: "advisor"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { call.Advisor.Close() })
	if call.Customer, err = callclient.Dial(ctx, cust, id, callclient.Options{Name: "customer"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { call.Customer.Close() })
	call.advisorID, call.custID = call.Advisor.Self(), call.Customer.Self()
	if err := call.Advisor.Admit(ctx, call.Customer.Self()); err != nil {
		t.Fatal(err)
	}
	if err := call.Customer.WaitState(ctx, callclient.StateJoined); err != nil {
		t.Fatal(err)
	}
	if err := call.media(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { call.stopPumps() })
	return call
}

// media makes both publish and waits until each receives the other's
// microphone.
func (call *Call) media(ctx context.Context) error {
	aAudio, aVideo, err := call.Advisor.Publish(ctx)
	if err != nil {
		return fmt.Errorf("advisor publishes: %w", err)
	}
	cAudio, cVideo, err := call.Customer.Publish(ctx)
	if err != nil {
		return fmt.Errorf("customer publishes: %w", err)
	}
	if call.stopPumps != nil {
		call.stopPumps()
	}
	call.stopPumps = callclient.StartPump([]*callclient.LocalTrack{aAudio, aVideo, cAudio, cVideo}, 20*time.Millisecond)
	if call.FromCustomer, err = call.Advisor.WaitTrack(ctx, string(call.Customer.Self())+"~"+cAudio.ID); err != nil {
		return fmt.Errorf("advisor receives the customer: %w", err)
	}
	if call.FromAdvisor, err = call.Customer.WaitTrack(ctx, string(call.Advisor.Self())+"~"+aAudio.ID); err != nil {
		return fmt.Errorf("customer receives the advisor: %w", err)
	}
	return nil
}

// Closed reports whether either side's socket has closed.
func (call *Call) Closed() bool {
	select {
	case <-call.Advisor.Done():
		return true
	case <-call.Customer.Done():
		return true
	default:
		return false
	}
}

// Resume does what both browsers do when their sockets closed (the home
// node drained or died): reconnect with the same cookies, again and again
// while the answer is an error (503 while no node holds the call), until
// both are back in the call under their old participant ids and receive
// each other's media again. It returns how long that took, or an error
// when within is not enough or the ids changed.
func (call *Call) Resume(ctx context.Context, within time.Duration) (time.Duration, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	call.Advisor.Close()
	call.Customer.Close()
	redial := func(h *callclient.HTTP, name string) (*callclient.Client, error) {
		for {
			c, err := callclient.Dial(ctx, h, call.ID, callclient.Options{Name: name})
			if err == nil {
				return c, nil
			}
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("%s reconnects: %w", name, err)
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	var err error
	if call.Advisor, err = redial(call.advHTTP, "advisor"); err != nil {
		return 0, err
	}
	if call.Customer, err = redial(call.custHTTP, "customer"); err != nil {
		return 0, err
	}
	if call.Advisor.Self() != call.advisorID || call.Customer.Self() != call.custID {
		return 0, fmt.Errorf("ids after reconnecting: advisor %s (was %s), customer %s (was %s)",
			call.Advisor.Self(), call.advisorID, call.Customer.Self(), call.custID)
	}
	if err := call.Customer.WaitState(ctx, callclient.StateJoined); err != nil {
		return 0, fmt.Errorf("customer back in the call: %w", err)
	}
	if err := call.media(ctx); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// Flowing reports whether media still flows both ways: each side receives
// more packets of the other's microphone within d, and neither socket
// has closed.
func (call *Call) Flowing(d time.Duration) bool {
	a, b := call.FromCustomer.Packets(), call.FromAdvisor.Packets()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		select {
		case <-call.Advisor.Done():
			return false
		case <-call.Customer.Done():
			return false
		case <-time.After(50 * time.Millisecond):
		}
		if call.FromCustomer.Packets() > a && call.FromAdvisor.Packets() > b {
			return true
		}
	}
	return false
}
