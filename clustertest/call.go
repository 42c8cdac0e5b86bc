package clustertest

import (
	"context"
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

	stopPumps func()
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
	call := &Call{ID: id}
	if call.Advisor, err = callclient.Dial(ctx, adv, id, callclient.Options{Name: "advisor"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(call.Advisor.Close)
	if call.Customer, err = callclient.Dial(ctx, cust, id, callclient.Options{Name: "customer"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(call.Customer.Close)
	if err := call.Advisor.Admit(ctx, call.Customer.Self()); err != nil {
		t.Fatal(err)
	}
	if err := call.Customer.WaitState(ctx, callclient.StateJoined); err != nil {
		t.Fatal(err)
	}
	aAudio, aVideo, err := call.Advisor.Publish(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cAudio, cVideo, err := call.Customer.Publish(ctx)
	if err != nil {
		t.Fatal(err)
	}
	call.stopPumps = callclient.StartPump([]*callclient.LocalTrack{aAudio, aVideo, cAudio, cVideo}, 20*time.Millisecond)
	t.Cleanup(call.stopPumps)
	if call.FromCustomer, err = call.Advisor.WaitTrack(ctx, string(call.Customer.Self())+"~"+cAudio.ID); err != nil {
		t.Fatalf("advisor receives the customer: %v", err)
	}
	if call.FromAdvisor, err = call.Customer.WaitTrack(ctx, string(call.Advisor.Self())+"~"+aAudio.ID); err != nil {
		t.Fatalf("customer receives the advisor: %v", err)
	}
	return call
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
