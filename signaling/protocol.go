package signaling

// The wire protocol (PROTOCOL.md, version 1): client message decoding and
// validation, server message types, error codes and close codes.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/coder/websocket"
	"github.com/parley-video/parley/sfu"
	"github.com/pion/webrtc/v4"
)

// Subprotocol is the WebSocket subprotocol of protocol version 1.
const Subprotocol = "parley.v1"

// ProtocolVersion is sent in the welcome message.
const ProtocolVersion = 1

// Limits from PROTOCOL.md.
const (
	MaxSDPBytes       = 32 << 10
	MaxCandidateBytes = 1 << 10
	MaxTracks         = 8
	MaxIDChars        = 64 // ids, names, track ids and message ids
	// MaxChatBodyBytes bounds a chat body's ciphertext (after base64url
	// decoding).
	MaxChatBodyBytes = 16 << 10
	// MaxChatHistory is how many chat messages a consultation keeps.
	MaxChatHistory = 500
	// chatIDLen is the length of a chat message id (lowercase hex).
	chatIDLen = 32
)

// Client → server message types.
const (
	TypeOffer     = "offer"
	TypeAnswer    = "answer"
	TypeCandidate = "candidate"
	TypeMedia     = "media"
	TypeAdmit     = "admit"
	TypeReject    = "reject"
	TypeLeave     = "leave"
	TypePing      = "ping"
	TypeChat      = "chat"    // also server → client
	TypeReceipt   = "receipt" // also server → client
	TypeDelete    = "delete"
	// TypeRestartICE asks the server to re-offer the subscribe connection
	// with an ICE restart (PROTOCOL.md, "ICE restart").
	TypeRestartICE = "restart_ice"
)

// Server → client message types (besides offer, answer and candidate).
const (
	TypeWelcome = "welcome"
	TypeRoster  = "roster"
	TypeState   = "state"
	TypeError   = "error"
	TypePong    = "pong"
	TypeHistory = "chat_history"
	TypeDeleted = "deleted"
)

// Error codes of the error message.
const (
	CodeBadMessage  = "bad_message"
	CodeUnknownType = "unknown_type"
	CodeTooLarge    = "too_large"
	CodeForbidden   = "forbidden"
	CodeBadState    = "bad_state"
	CodeNotFound    = "not_found"
	CodeRoomFull    = "room_full"
	CodeMediaFailed = "media_failed"
	CodeRateLimited = "rate_limited"
	CodeReplaced    = "replaced"
)

// Close codes besides the standard ones (1000, 1001, 1008, 1009).
const (
	StatusReplaced  websocket.StatusCode = 4001
	StatusRejected  websocket.StatusCode = 4003
	StatusEnded     websocket.StatusCode = 4004
	StatusQueueFull websocket.StatusCode = 4008
)

// TrackSource is what a published track carries.
type TrackSource string

const (
	SourceAudio  TrackSource = "audio"
	SourceCamera TrackSource = "camera"
	SourceScreen TrackSource = "screen"
)

func (s TrackSource) valid() bool {
	return s == SourceAudio || s == SourceCamera || s == SourceScreen
}

// State is a participant's state (and, in the state message, ended).
type State string

const (
	StateWaiting      State = "waiting"
	StateJoined       State = "joined"
	StateReconnecting State = "reconnecting"
	StateLeft         State = "left"
	StateRejected     State = "rejected"
	StateEnded        State = "ended"
)

// ClientMessage is one validated client message. Only the fields of its
// Type are set; it marshals back to its wire form.
type ClientMessage struct {
	Type string `json:"type"`
	// ID is the client's optional message id (a JSON string or number),
	// echoed as "ref".
	ID          json.RawMessage          `json:"id,omitempty"`
	SDP         string                   `json:"sdp,omitempty"`         // offer, answer
	Target      sfu.Direction            `json:"target,omitempty"`      // candidate
	Candidate   *webrtc.ICECandidateInit `json:"candidate,omitempty"`   // candidate
	Audio       bool                     `json:"audio,omitempty"`       // media
	Video       bool                     `json:"video,omitempty"`       // media
	Screen      bool                     `json:"screen,omitempty"`      // media
	Tracks      map[string]TrackSource   `json:"tracks,omitempty"`      // media
	E2EE        *bool                    `json:"e2ee,omitempty"`        // media; absent means true
	Participant ParticipantID            `json:"participant,omitempty"` // admit, reject
	Msg         string                   `json:"msg,omitempty"`         // chat, receipt, delete
	Body        string                   `json:"body,omitempty"`        // chat: base64url ciphertext
}

// ProtocolError is a client-visible error: it becomes an error message
// with Code, Message and Ref (the offending message's id, if known).
type ProtocolError struct {
	Code    string
	Message string
	Ref     json.RawMessage
}

func (e *ProtocolError) Error() string { return "signaling: " + e.Code + ": " + e.Message }

func protoErr(code, format string, args ...any) *ProtocolError {
	return &ProtocolError{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Errors the room returns for client requests (mapped by errorCode).
var (
	errBadState     = &ProtocolError{Code: CodeBadState, Message: "not possible in your current state"}
	errNotAllowed   = &ProtocolError{Code: CodeForbidden, Message: "your role may not do this"}
	errNoSuchWaiter = &ProtocolError{Code: CodeNotFound, Message: "no such waiting participant"}
	errRoomFull     = &ProtocolError{Code: CodeRoomFull, Message: "the consultation is full"}
)

// errorCode maps any error of a client request to its protocol code and a
// message safe to show: the one place where that mapping happens. Anything
// that is not a ProtocolError comes from the media plane.
func errorCode(err error) (code, msg string) {
	if pe, ok := errors.AsType[*ProtocolError](err); ok {
		return pe.Code, pe.Message
	}
	return CodeMediaFailed, "the media plane did not accept this"
}

// mediaErrorKind classifies a media plane error for logs without its text
// (which may quote SDP, and so IP addresses).
func mediaErrorKind(err error) string {
	switch {
	case errors.Is(err, sfu.ErrBadDescription):
		return "bad_description"
	case errors.Is(err, sfu.ErrClosed):
		return "closed"
	case errors.Is(err, sfu.ErrBadCandidate):
		return "bad_candidate"
	case errors.Is(err, sfu.ErrPeerExists):
		return "peer_exists"
	case errors.Is(err, errNoMedia):
		return "no_media"
	default:
		return "other"
	}
}

// DecodeClientMessage parses and validates one client message. It never
// panics; an invalid message yields a ProtocolError (with the message id as
// Ref when it could be read) and the connection carries on.
func DecodeClientMessage(data []byte) (ClientMessage, *ProtocolError) {
	var m ClientMessage
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil || fields == nil {
		return m, protoErr(CodeBadMessage, "a message must be a JSON object")
	}
	ref, perr := decodeID(fields["id"])
	if perr != nil {
		return m, perr
	}
	m.ID = ref
	fail := func(e *ProtocolError) (ClientMessage, *ProtocolError) {
		e.Ref = ref
		return ClientMessage{}, e
	}
	rawType, ok := fields["type"]
	if !ok || !isJSONString(rawType) {
		return fail(protoErr(CodeBadMessage, "missing or non-string type"))
	}
	if err := json.Unmarshal(rawType, &m.Type); err != nil {
		return fail(protoErr(CodeBadMessage, "missing or non-string type"))
	}
	var err *ProtocolError
	switch m.Type {
	case TypeOffer, TypeAnswer:
		m.SDP, err = stringField(fields, "sdp", MaxSDPBytes, false)
		if err == nil && m.SDP == "" {
			err = protoErr(CodeBadMessage, "sdp is required")
		}
	case TypeCandidate:
		err = decodeCandidate(fields, &m)
	case TypeMedia:
		err = decodeMedia(fields, &m)
	case TypeAdmit, TypeReject:
		var p string
		p, err = stringField(fields, "participant", MaxIDChars, true)
		if err == nil && p == "" {
			err = protoErr(CodeBadMessage, "participant is required")
		}
		m.Participant = ParticipantID(p)
	case TypeChat:
		err = decodeChat(fields, &m)
	case TypeReceipt, TypeDelete:
		m.Msg, err = chatIDField(fields)
	case TypeLeave, TypePing, TypeRestartICE:
	default:
		return fail(protoErr(CodeUnknownType, "unknown message type"))
	}
	if err != nil {
		return fail(err)
	}
	return m, nil
}

// decodeID accepts a JSON string (≤ 64 characters) or number as message
// id; null or absent means none.
func decodeID(raw json.RawMessage) (json.RawMessage, *ProtocolError) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	switch {
	case isJSONString(raw):
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, protoErr(CodeBadMessage, "id must be a string or a number")
		}
		if utf8.RuneCountInString(s) > MaxIDChars {
			return nil, protoErr(CodeTooLarge, "id is longer than %d characters", MaxIDChars)
		}
		// Re-encode so the echoed ref is always canonical JSON.
		b, _ := json.Marshal(s)
		return b, nil
	case raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9'):
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return nil, protoErr(CodeBadMessage, "id must be a string or a number")
		}
		if len(n) > MaxIDChars {
			return nil, protoErr(CodeTooLarge, "id is longer than %d characters", MaxIDChars)
		}
		return json.RawMessage(n.String()), nil
	default:
		return nil, protoErr(CodeBadMessage, "id must be a string or a number")
	}
}

func isJSONString(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) >= 2 && raw[0] == '"'
}

// stringField reads an optional string field; null counts as absent. max is
// in bytes, or in characters when chars is set.
func stringField(fields map[string]json.RawMessage, name string, max int, chars bool) (string, *ProtocolError) {
	raw, ok := fields[name]
	if !ok || string(bytes.TrimSpace(raw)) == "null" {
		return "", nil
	}
	var s string
	if !isJSONString(raw) || json.Unmarshal(raw, &s) != nil {
		return "", protoErr(CodeBadMessage, "%s must be a string", name)
	}
	if n := len(s); chars && utf8.RuneCountInString(s) > max || !chars && n > max {
		unit := "bytes"
		if chars {
			unit = "characters"
		}
		return "", protoErr(CodeTooLarge, "%s is longer than %d %s", name, max, unit)
	}
	return s, nil
}

func boolField(fields map[string]json.RawMessage, name string) (bool, *ProtocolError) {
	raw, ok := fields[name]
	if !ok || string(bytes.TrimSpace(raw)) == "null" {
		return false, nil
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err != nil {
		return false, protoErr(CodeBadMessage, "%s must be a boolean", name)
	}
	return b, nil
}

func decodeCandidate(fields map[string]json.RawMessage, m *ClientMessage) *ProtocolError {
	target, err := stringField(fields, "target", MaxIDChars, true)
	if err != nil {
		return err
	}
	switch sfu.Direction(target) {
	case sfu.Publish, sfu.Subscribe:
		m.Target = sfu.Direction(target)
	default:
		return protoErr(CodeBadMessage, "target must be publish or subscribe")
	}
	raw, ok := fields["candidate"]
	raw = bytes.TrimSpace(raw)
	if !ok || len(raw) == 0 || raw[0] != '{' {
		return protoErr(CodeBadMessage, "candidate must be an object")
	}
	var cf map[string]json.RawMessage
	if json.Unmarshal(raw, &cf) != nil {
		return protoErr(CodeBadMessage, "candidate must be an object")
	}
	if c, ok := cf["candidate"]; !ok || !isJSONString(c) {
		return protoErr(CodeBadMessage, "candidate.candidate must be a string")
	}
	var c webrtc.ICECandidateInit
	if json.Unmarshal(raw, &c) != nil {
		return protoErr(CodeBadMessage, "candidate has fields of the wrong type")
	}
	if len(c.Candidate) > MaxCandidateBytes {
		return protoErr(CodeTooLarge, "candidate.candidate is longer than %d bytes", MaxCandidateBytes)
	}
	m.Candidate = &c
	return nil
}

func decodeMedia(fields map[string]json.RawMessage, m *ClientMessage) *ProtocolError {
	var err *ProtocolError
	if m.Audio, err = boolField(fields, "audio"); err != nil {
		return err
	}
	if m.Video, err = boolField(fields, "video"); err != nil {
		return err
	}
	if m.Screen, err = boolField(fields, "screen"); err != nil {
		return err
	}
	if raw, ok := fields["e2ee"]; ok && string(bytes.TrimSpace(raw)) != "null" {
		v, err := boolField(fields, "e2ee")
		if err != nil {
			return err
		}
		m.E2EE = &v
	}
	raw, ok := fields["tracks"]
	raw = bytes.TrimSpace(raw)
	if !ok || string(raw) == "null" {
		return nil
	}
	var tracks map[string]json.RawMessage
	if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &tracks) != nil {
		return protoErr(CodeBadMessage, "tracks must be an object")
	}
	if len(tracks) > MaxTracks {
		return protoErr(CodeTooLarge, "more than %d tracks", MaxTracks)
	}
	for id, rawSrc := range tracks {
		if id == "" {
			return protoErr(CodeBadMessage, "empty track id")
		}
		if utf8.RuneCountInString(id) > MaxIDChars {
			return protoErr(CodeTooLarge, "track id is longer than %d characters", MaxIDChars)
		}
		var src TrackSource
		if !isJSONString(rawSrc) || json.Unmarshal(rawSrc, &src) != nil || !src.valid() {
			return protoErr(CodeBadMessage, "track source must be audio, camera or screen")
		}
		if m.Tracks == nil {
			m.Tracks = make(map[string]TrackSource, len(tracks))
		}
		m.Tracks[id] = src
	}
	return nil
}

// IsChatID reports whether s is a valid chat message (or file) id: exactly
// 32 lowercase hex digits.
func IsChatID(s string) bool {
	if len(s) != chatIDLen {
		return false
	}
	for i := range len(s) {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// chatIDField reads the required msg field.
func chatIDField(fields map[string]json.RawMessage) (string, *ProtocolError) {
	raw, ok := fields["msg"]
	var s string
	if !ok || !isJSONString(raw) || json.Unmarshal(raw, &s) != nil || !IsChatID(s) {
		return "", protoErr(CodeBadMessage, "msg must be 32 lowercase hex digits")
	}
	return s, nil
}

// decodeChat reads a chat message: msg and a base64url body (no padding)
// whose ciphertext is at most MaxChatBodyBytes.
func decodeChat(fields map[string]json.RawMessage, m *ClientMessage) *ProtocolError {
	var err *ProtocolError
	if m.Msg, err = chatIDField(fields); err != nil {
		return err
	}
	raw, ok := fields["body"]
	if !ok || !isJSONString(raw) || json.Unmarshal(raw, &m.Body) != nil || m.Body == "" {
		return protoErr(CodeBadMessage, "body must be a non-empty base64url string")
	}
	if base64.RawURLEncoding.DecodedLen(len(m.Body)) > MaxChatBodyBytes {
		return protoErr(CodeTooLarge, "body is longer than %d bytes", MaxChatBodyBytes)
	}
	if _, derr := base64.RawURLEncoding.Strict().DecodeString(m.Body); derr != nil {
		return protoErr(CodeBadMessage, "body must be base64url without padding")
	}
	return nil
}

// ParticipantInfo is a participant as the protocol shows it.
type ParticipantInfo struct {
	ID     ParticipantID          `json:"id"`
	Name   string                 `json:"name"`
	Role   Role                   `json:"role"`
	State  State                  `json:"state"`
	Audio  bool                   `json:"audio"`
	Video  bool                   `json:"video"`
	Screen bool                   `json:"screen"`
	Tracks map[string]TrackSource `json:"tracks"`
	// E2EE is false for a participant who sends without end-to-end
	// encryption (only possible with e2ee.allow_unencrypted).
	E2EE bool `json:"e2ee"`
}

// Server messages.
type (
	welcomeMsg struct {
		Type         string             `json:"type"`
		Protocol     int                `json:"protocol"`
		Self         ParticipantInfo    `json:"self"`
		Consultation consultationMsg    `json:"consultation"`
		ICEServers   []webrtc.ICEServer `json:"iceServers"`
		// ICETransportPolicy is "all" or "relay" (RTCConfiguration's field).
		ICETransportPolicy string `json:"iceTransportPolicy"`
		// E2EE is "required" or "optional" (web/E2EE.md).
		E2EE string `json:"e2ee"`
		// AdvisorAway: the consultation's advisor declared themselves
		// away (Hub.SetAdvisorAway); customers say so in the waiting room.
		AdvisorAway bool `json:"advisorAway"`
	}
	consultationMsg struct {
		ID      ConsultationID `json:"id"`
		Title   string         `json:"title"`
		Company string         `json:"company"`
	}
	rosterMsg struct {
		Type         string            `json:"type"`
		Participants []ParticipantInfo `json:"participants"`
	}
	stateMsg struct {
		Type   string `json:"type"`
		State  State  `json:"state"`
		Reason string `json:"reason,omitempty"`
	}
	sdpMsg struct {
		Type string          `json:"type"`
		SDP  string          `json:"sdp"`
		Ref  json.RawMessage `json:"ref,omitempty"`
	}
	candidateMsg struct {
		Type      string                  `json:"type"`
		Target    sfu.Direction           `json:"target"`
		Candidate webrtc.ICECandidateInit `json:"candidate"`
	}
	errorMsg struct {
		Type    string          `json:"type"`
		Code    string          `json:"code"`
		Message string          `json:"message"`
		Ref     json.RawMessage `json:"ref,omitempty"`
	}
	chatMsg struct {
		Type string `json:"type"`
		chatEntry
	}
	// chatEntry is a chat message in chat_history (without type).
	chatEntry struct {
		Msg  string        `json:"msg"`
		From ParticipantID `json:"from"`
		At   string        `json:"at"`
		Body string        `json:"body"`
	}
	historyMsg struct {
		Type     string      `json:"type"`
		Messages []chatEntry `json:"messages"`
	}
	receiptMsg struct {
		Type string        `json:"type"`
		Msg  string        `json:"msg"`
		From ParticipantID `json:"from"`
	}
	deletedMsg struct {
		Type string `json:"type"`
		Msg  string `json:"msg"`
	}
	pongMsg struct {
		Type string          `json:"type"`
		Ref  json.RawMessage `json:"ref,omitempty"`
	}
)

// encode marshals a server message. Server messages are plain structs, so
// it cannot fail short of a programming error.
func encode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("signaling: encode %T: %v", v, err))
	}
	return b
}

func encodeError(code, msg string, ref json.RawMessage) []byte {
	return encode(errorMsg{Type: TypeError, Code: code, Message: msg, Ref: ref})
}
