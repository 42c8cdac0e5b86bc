// Package callclient is a Go client of Parley: the staff and customer REST
// flows of web/API.md and the WebSocket signaling protocol of
// signaling/PROTOCOL.md (version 1) with pion peer connections that
// publish synthetic Opus and VP8 RTP and receive everyone else's tracks.
//
// It is written from the documents alone, not from the server's packages,
// so it doubles as a check that the documented protocol is enough to build
// a client. End-to-end tests and load benchmarks use it.
//
// A typical call:
//
//	adv, _ := callclient.Staff(ctx, base, "anna", password)
//	id, invite, _ := adv.CreateConsultation(ctx, "Mortgage")
//	cust, _, _ := callclient.JoinInvite(ctx, invite, "Max")
//	a, _ := callclient.Dial(ctx, adv, id, callclient.Options{Name: "advisor"})
//	c, _ := callclient.Dial(ctx, cust, id, callclient.Options{Name: "customer"})
//	_ = a.Admit(ctx, c.Self())
//	_ = c.WaitState(ctx, callclient.StateJoined)
//	audio, video, _ := c.Publish(ctx)
//
// The client is meant for loopback tests and benchmarks: ICE uses UDP4 with
// loopback candidates and no mDNS.
package callclient

import "encoding/json"

// Subprotocol is the WebSocket subprotocol of protocol version 1.
const Subprotocol = "parley.v1"

// ID is a participant id.
type ID string

// State is a participant's state, or (as the client's own state) "ended"
// when the consultation is over.
type State string

// States of PROTOCOL.md.
const (
	StateWaiting      State = "waiting"
	StateJoined       State = "joined"
	StateReconnecting State = "reconnecting"
	StateLeft         State = "left"
	StateRejected     State = "rejected"
	StateEnded        State = "ended"
)

// Participant is one roster entry.
type Participant struct {
	ID     ID     `json:"id"`
	Name   string `json:"name"`
	Role   string `json:"role"` // advisor or customer
	State  State  `json:"state"`
	Audio  bool   `json:"audio"`
	Video  bool   `json:"video"`
	Screen bool   `json:"screen"`
	// Tracks maps published track ids to their source: audio, camera or
	// screen.
	Tracks map[string]string `json:"tracks"`
}

// Consultation is the welcome message's description of the call.
type Consultation struct {
	ID      string `json:"id"`
	Title   string `json:"title"`
	Company string `json:"company"`
}

// ServerError is an error message from the server.
type ServerError struct {
	Code    string          `json:"code"`
	Message string          `json:"message"`
	Ref     json.RawMessage `json:"ref,omitempty"`
}

func (e *ServerError) Error() string {
	if len(e.Ref) > 0 {
		return "server error " + e.Code + " (ref " + string(e.Ref) + "): " + e.Message
	}
	return "server error " + e.Code + ": " + e.Message
}

// Targets of candidate messages.
const (
	targetPublish   = "publish"
	targetSubscribe = "subscribe"
)

// serverMessage is any server → client message; only the fields of its
// type are set.
type serverMessage struct {
	Type string `json:"type"`
	// welcome
	Protocol     int          `json:"protocol"`
	Self         *Participant `json:"self"`
	Consultation Consultation `json:"consultation"`
	// roster
	Participants []Participant `json:"participants"`
	// state
	State  State  `json:"state"`
	Reason string `json:"reason"`
	// offer, answer
	SDP string `json:"sdp"`
	// candidate
	Target    string          `json:"target"`
	Candidate json.RawMessage `json:"candidate"`
	// advisor (and welcome's advisorAway)
	Away        bool `json:"away"`
	AdvisorAway bool `json:"advisorAway"`
	// error
	Code    string          `json:"code"`
	Message string          `json:"message"`
	Ref     json.RawMessage `json:"ref"`
}

// clientMessage is any client → server message.
type clientMessage struct {
	Type        string            `json:"type"`
	ID          string            `json:"id,omitempty"`
	SDP         string            `json:"sdp,omitempty"`
	Target      string            `json:"target,omitempty"`
	Candidate   any               `json:"candidate,omitempty"`
	Participant ID                `json:"participant,omitempty"`
	Audio       *bool             `json:"audio,omitempty"`
	Video       *bool             `json:"video,omitempty"`
	Screen      *bool             `json:"screen,omitempty"`
	Tracks      map[string]string `json:"tracks,omitempty"`
}
