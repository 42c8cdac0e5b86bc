package signaling

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// chatFields are the chat parts of a server message.
type chatFields struct {
	Msg      string          `json:"msg"`
	From     ParticipantID   `json:"from"`
	At       string          `json:"at"`
	Body     string          `json:"body"`
	Messages []chatFields    `json:"messages"`
	Ref      json.RawMessage `json:"ref"`
}

func chatOf(t *testing.T, m serverMessage) chatFields {
	t.Helper()
	var c chatFields
	if err := json.Unmarshal(m.raw, &c); err != nil {
		t.Fatalf("%s: %v", m.raw, err)
	}
	return c
}

func msgID(n int) string { return strings.Repeat("0", 28) + itoaHex(n) }

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// waitChat waits for a server message of typ about message msg.
func waitChat(t *testing.T, c *client, typ, msg string) chatFields {
	t.Helper()
	m := c.waitFor(t, typ+" "+msg, func(m serverMessage) bool {
		return m.Type == typ && strings.Contains(string(m.raw), `"msg":"`+msg+`"`)
	})
	return chatOf(t, m)
}

// history waits for the next chat_history and returns its message ids.
func history(t *testing.T, c *client) []string {
	t.Helper()
	m := c.waitType(t, TypeHistory)
	if !strings.Contains(string(m.raw), `"messages":[`) {
		t.Fatalf("chat_history without a messages list: %s", m.raw)
	}
	h := chatOf(t, m)
	ids := make([]string, 0, len(h.Messages))
	for _, m := range h.Messages {
		ids = append(ids, m.Msg)
	}
	return ids
}

// noMessage asserts that c gets no message of the types before a ping
// barrier.
func noMessage(t *testing.T, c *client, types ...string) {
	t.Helper()
	c.send(t, map[string]any{"type": "ping", "id": "barrier"})
	for {
		m := c.next(t)
		if slices.Contains(types, m.Type) {
			t.Fatalf("unexpected %s: %s", m.Type, m.raw)
		}
		if m.Type == TypePong && string(m.Ref) == `"barrier"` {
			return
		}
	}
}

func TestChatRelayReceiptDelete(t *testing.T) {
	e, adv, advID := callSetup(t, testConfig())
	roster := map[ParticipantID]State{advID: StateJoined}
	cu, cuID, cookie := admitted(t, e, adv, roster)

	// The customer writes: both get it, the sender as echo.
	before := time.Now().UTC().Add(-time.Second)
	cu.send(t, map[string]any{"type": "chat", "msg": msgID(1), "body": b64("ciphertext-1")})
	echo := waitChat(t, cu, TypeChat, msgID(1))
	got := waitChat(t, adv, TypeChat, msgID(1))
	for _, m := range []chatFields{echo, got} {
		if m.From != cuID || m.Body != b64("ciphertext-1") {
			t.Fatalf("chat = %+v", m)
		}
		at, err := time.Parse(time.RFC3339, m.At)
		if err != nil || at.Before(before) || at.After(time.Now().Add(time.Second)) {
			t.Fatalf("at %q: %v", m.At, err)
		}
	}

	// The advisor's receipt reaches the customer (the sender) only.
	adv.send(t, map[string]any{"type": "receipt", "msg": msgID(1)})
	if r := waitChat(t, cu, TypeReceipt, msgID(1)); r.From != advID {
		t.Fatalf("receipt = %+v", r)
	}
	noMessage(t, adv, TypeReceipt)
	adv.send(t, map[string]any{"type": "receipt", "msg": msgID(9), "id": 3})
	adv.waitError(t, CodeNotFound)

	// The advisor writes one too; a duplicate id is refused.
	adv.send(t, map[string]any{"type": "chat", "msg": msgID(2), "body": b64("ciphertext-2")})
	waitChat(t, adv, TypeChat, msgID(2))
	waitChat(t, cu, TypeChat, msgID(2))
	cu.send(t, map[string]any{"type": "chat", "msg": msgID(2), "body": b64("x")})
	cu.waitError(t, CodeBadMessage)

	// Delete: the customer may not delete the advisor's message …
	cu.send(t, map[string]any{"type": "delete", "msg": msgID(2)})
	cu.waitError(t, CodeForbidden)
	// … but its own; the advisor any. Everyone gets deleted.
	cu.send(t, map[string]any{"type": "delete", "msg": msgID(1)})
	waitChat(t, cu, TypeDeleted, msgID(1))
	waitChat(t, adv, TypeDeleted, msgID(1))
	adv.send(t, map[string]any{"type": "chat", "msg": msgID(3), "body": b64("c3")})
	waitChat(t, cu, TypeChat, msgID(3))
	cu.send(t, map[string]any{"type": "chat", "msg": msgID(4), "body": b64("c4")})
	waitChat(t, adv, TypeChat, msgID(4))
	adv.send(t, map[string]any{"type": "delete", "msg": msgID(4)})
	waitChat(t, cu, TypeDeleted, msgID(4))
	waitChat(t, adv, TypeDeleted, msgID(4))
	adv.send(t, map[string]any{"type": "delete", "msg": msgID(4)})
	adv.waitError(t, CodeNotFound)

	// History on reconnect: what is left, in order.
	cu2 := e.mustDial(t, "c1", cookie)
	cu2.waitType(t, TypeWelcome)
	if ids := history(t, cu2); strings.Join(ids, ",") != msgID(2)+","+msgID(3) {
		t.Fatalf("history = %v", ids)
	}
	// Bodies are never logged.
	if logs := e.logs.String(); strings.Contains(logs, b64("ciphertext-1")) || strings.Contains(logs, b64("c3")) {
		t.Fatal("a chat body was logged")
	}
}

func TestChatHistoryOnAdmission(t *testing.T) {
	e := newEnv(t, testConfig(), nil)
	e.hub.Open(ConsultationInfo{ID: "c1"})
	adv := e.mustDial(t, "c1", staffCookie(1))
	adv.waitType(t, TypeWelcome)
	// chat_history follows the welcome right away.
	if m := adv.next(t); m.Type != TypeHistory || !strings.Contains(string(m.raw), `"messages":[]`) {
		t.Fatalf("after welcome: %s", m.raw)
	}
	adv.send(t, map[string]any{"type": "chat", "msg": msgID(1), "body": b64("hello")})
	waitChat(t, adv, TypeChat, msgID(1))

	pid, cookie := e.addCustomer(t, "c1", customerName)
	cu := e.mustDial(t, "c1", cookie)
	cu.waitType(t, TypeWelcome)
	// Waiting: no history, no chat, may not chat.
	cu.send(t, map[string]any{"type": "chat", "msg": msgID(2), "body": b64("let me in")})
	cu.waitError(t, CodeBadState)
	cu.send(t, map[string]any{"type": "receipt", "msg": msgID(1)})
	cu.waitError(t, CodeBadState)
	cu.send(t, map[string]any{"type": "delete", "msg": msgID(1)})
	cu.waitError(t, CodeBadState)
	adv.send(t, map[string]any{"type": "chat", "msg": msgID(3), "body": b64("not for waiters")})
	waitChat(t, adv, TypeChat, msgID(3))
	noMessage(t, cu, TypeChat, TypeHistory)

	adv.send(t, map[string]any{"type": "admit", "participant": pid})
	cu.waitFor(t, "state joined", func(m serverMessage) bool { return m.Type == TypeState && m.State == StateJoined })
	if ids := history(t, cu); strings.Join(ids, ",") != msgID(1)+","+msgID(3) {
		t.Fatalf("history after admission = %v", ids)
	}
	// Joined now: it may chat.
	cu.send(t, map[string]any{"type": "chat", "msg": msgID(2), "body": b64("thanks")})
	waitChat(t, adv, TypeChat, msgID(2))
}

func TestChatHistoryLimit(t *testing.T) {
	e, _, _ := callSetup(t, testConfig())
	rm, err := e.hub.room("c1")
	if err != nil {
		t.Fatal(err)
	}
	rm.mu.Lock()
	for i := range MaxChatHistory + 20 {
		rm.chat.addLocked(chatEntry{Msg: msgID(i), From: "p", Body: "x"})
	}
	n, first := len(rm.chat.msgs), rm.chat.msgs[0].Msg
	rm.mu.Unlock()
	if n != MaxChatHistory || first != strings.Repeat("0", 28)+"0014" {
		t.Fatalf("kept %d, first %s", n, first)
	}
	rm.mu.Lock()
	dup := rm.chat.addLocked(chatEntry{Msg: msgID(0), From: "p", Body: "x"})
	rm.mu.Unlock()
	if dup {
		t.Fatal("an id that dropped out of the history was accepted again")
	}
}

func itoaHex(i int) string {
	const hx = "0123456789abcdef"
	return string([]byte{hx[i>>12&15], hx[i>>8&15], hx[i>>4&15], hx[i&15]})
}

func TestChatGoneAfterEnd(t *testing.T) {
	e, adv, _ := callSetup(t, testConfig())
	adv.send(t, map[string]any{"type": "chat", "msg": msgID(1), "body": b64("secret")})
	waitChat(t, adv, TypeChat, msgID(1))
	rm, err := e.hub.room("c1")
	if err != nil {
		t.Fatal(err)
	}
	e.hub.End(t.Context(), "c1")
	adv.waitClosed(t)
	rm.mu.Lock()
	left := len(rm.chat.msgs)
	rm.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d messages kept after end", left)
	}
	if _, ok := e.hub.Snapshot("c1"); ok {
		t.Fatal("hub still knows the ended consultation")
	}
	e.hub.Open(ConsultationInfo{ID: "c2"})
	a2 := e.mustDial(t, "c2", staffCookie(1))
	a2.waitType(t, TypeWelcome)
	if ids := history(t, a2); len(ids) != 0 {
		t.Fatalf("history of a new consultation = %v", ids)
	}
}

func TestDecodeChatMessages(t *testing.T) {
	id := msgID(7)
	maxBody := base64.RawURLEncoding.EncodeToString(make([]byte, MaxChatBodyBytes))
	tooBig := base64.RawURLEncoding.EncodeToString(make([]byte, MaxChatBodyBytes+1))
	valid := []struct {
		name string
		in   string
		want ClientMessage
	}{
		{"chat", `{"type":"chat","msg":"` + id + `","body":"` + b64("hi?>") + `"}`, ClientMessage{Type: TypeChat, Msg: id, Body: b64("hi?>")}},
		{"chat max body", `{"type":"chat","msg":"` + id + `","body":"` + maxBody + `"}`, ClientMessage{Type: TypeChat, Msg: id, Body: maxBody}},
		{"chat with id", `{"type":"chat","id":5,"msg":"` + id + `","body":"AA"}`, ClientMessage{Type: TypeChat, ID: json.RawMessage("5"), Msg: id, Body: "AA"}},
		{"receipt", `{"type":"receipt","msg":"` + id + `"}`, ClientMessage{Type: TypeReceipt, Msg: id}},
		{"delete", `{"type":"delete","msg":"` + id + `"}`, ClientMessage{Type: TypeDelete, Msg: id}},
	}
	for _, tt := range valid {
		t.Run(tt.name, func(t *testing.T) {
			got, perr := DecodeClientMessage([]byte(tt.in))
			if perr != nil {
				t.Fatalf("error %v", perr)
			}
			if got.Type != tt.want.Type || got.Msg != tt.want.Msg || got.Body != tt.want.Body || string(got.ID) != string(tt.want.ID) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	invalid := []struct {
		name, in, code string
	}{
		{"chat without msg", `{"type":"chat","body":"AA"}`, CodeBadMessage},
		{"chat short msg", `{"type":"chat","msg":"abc","body":"AA"}`, CodeBadMessage},
		{"chat uppercase msg", `{"type":"chat","msg":"` + strings.ToUpper(strings.Repeat("ab", 16)) + `","body":"AA"}`, CodeBadMessage},
		{"chat non-hex msg", `{"type":"chat","msg":"` + strings.Repeat("g", 32) + `","body":"AA"}`, CodeBadMessage},
		{"chat long msg", `{"type":"chat","msg":"` + id + `0","body":"AA"}`, CodeBadMessage},
		{"chat numeric msg", `{"type":"chat","msg":12,"body":"AA"}`, CodeBadMessage},
		{"chat without body", `{"type":"chat","msg":"` + id + `"}`, CodeBadMessage},
		{"chat empty body", `{"type":"chat","msg":"` + id + `","body":""}`, CodeBadMessage},
		{"chat padded body", `{"type":"chat","msg":"` + id + `","body":"AA=="}`, CodeBadMessage},
		{"chat std base64 body", `{"type":"chat","msg":"` + id + `","body":"a+/b"}`, CodeBadMessage},
		{"chat junk body", `{"type":"chat","msg":"` + id + `","body":"not base64!"}`, CodeBadMessage},
		{"chat impossible length", `{"type":"chat","msg":"` + id + `","body":"A"}`, CodeBadMessage},
		{"chat object body", `{"type":"chat","msg":"` + id + `","body":{}}`, CodeBadMessage},
		{"chat too large", `{"type":"chat","msg":"` + id + `","body":"` + tooBig + `"}`, CodeTooLarge},
		{"receipt bad msg", `{"type":"receipt","msg":"x"}`, CodeBadMessage},
		{"receipt no msg", `{"type":"receipt"}`, CodeBadMessage},
		{"delete bad msg", `{"type":"delete","msg":null}`, CodeBadMessage},
	}
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			_, perr := DecodeClientMessage([]byte(tt.in))
			if perr == nil || perr.Code != tt.code {
				t.Fatalf("error %v, want %s", perr, tt.code)
			}
		})
	}
	// Duplicates are the room's business (TestChatRelayReceiptDelete).
}

func TestHubCustomer(t *testing.T) {
	e, adv, advID := callSetup(t, testConfig())
	roster := map[ParticipantID]State{advID: StateJoined}
	_, cuID, cookie := admitted(t, e, adv, roster)
	raw := strings.TrimPrefix(cookie, "parley_session=")
	acc, err := e.hub.Customer(t.Context(), "c1", raw)
	if err != nil || acc.Participant != cuID || acc.State != StateJoined || acc.Consultation != "c1" {
		t.Fatalf("Customer = %+v, %v", acc, err)
	}
	wID, wcookie := e.addCustomer(t, "c1", "waiting")
	acc, err = e.hub.Customer(t.Context(), "c1", strings.TrimPrefix(wcookie, "parley_session="))
	if err != nil || acc.Participant != wID || acc.State != StateWaiting {
		t.Fatalf("waiting Customer = %+v, %v", acc, err)
	}
	if _, err := e.hub.Customer(t.Context(), "c1", "nope"); !errors.Is(err, ErrNoSession) {
		t.Fatalf("unknown cookie: %v", err)
	}
	e.hub.Open(ConsultationInfo{ID: "c2"})
	if _, err := e.hub.Customer(t.Context(), "c2", raw); !errors.Is(err, ErrForbidden) {
		t.Fatalf("other consultation: %v", err)
	}
	e.hub.End(t.Context(), "c1")
	if _, err := e.hub.Customer(t.Context(), "c1", raw); !errors.Is(err, ErrEnded) {
		t.Fatalf("ended: %v", err)
	}
}
