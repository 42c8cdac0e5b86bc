package signaling

// End-to-end encrypted chat (PROTOCOL.md "chat", "receipt", "delete"):
// the room keeps the ciphertext of the last MaxChatHistory messages in
// memory, relays new ones to everyone in the call (the sender included),
// routes receipts to a message's sender and deletes for everyone. Bodies
// are never logged; the server cannot read them anyway.

import (
	"slices"
	"time"
)

// maxChatSeen bounds the message ids a room remembers to refuse
// duplicates (more than the history, so a message that dropped out of it
// cannot come back under its old id soon).
const maxChatSeen = 4 * MaxChatHistory

var (
	errNoSuchMessage = &ProtocolError{Code: CodeNotFound, Message: "no such message"}
	errDuplicateMsg  = &ProtocolError{Code: CodeBadMessage, Message: "a message with this id exists already"}
)

// chatLog is a room's chat, guarded by room.mu. Its zero value is empty.
type chatLog struct {
	msgs     []chatEntry         // oldest first, at most MaxChatHistory
	seen     map[string]struct{} // ids used in this consultation (bounded)
	seenFIFO []string            // seen, oldest first
}

// addLocked appends e, dropping the oldest message beyond the limit; false
// when its id was used already.
func (l *chatLog) addLocked(e chatEntry) bool {
	if _, dup := l.seen[e.Msg]; dup {
		return false
	}
	if l.seen == nil {
		l.seen = make(map[string]struct{})
	}
	l.seen[e.Msg] = struct{}{}
	l.seenFIFO = append(l.seenFIFO, e.Msg)
	if len(l.seenFIFO) > maxChatSeen {
		delete(l.seen, l.seenFIFO[0])
		l.seenFIFO = slices.Delete(l.seenFIFO, 0, 1)
	}
	l.msgs = append(l.msgs, e)
	if len(l.msgs) > MaxChatHistory {
		l.msgs = slices.Delete(l.msgs, 0, len(l.msgs)-MaxChatHistory)
	}
	return true
}

// findLocked returns the index of message msg in the history, or -1.
func (l *chatLog) findLocked(msg string) int {
	return slices.IndexFunc(l.msgs, func(e chatEntry) bool { return e.Msg == msg })
}

// historyLocked is the encoded chat_history message.
func (l *chatLog) historyLocked() []byte {
	msgs := slices.Clone(l.msgs)
	if msgs == nil {
		msgs = []chatEntry{}
	}
	return encode(historyMsg{Type: TypeHistory, Messages: msgs})
}

// clearLocked forgets every message (the consultation is over).
func (l *chatLog) clearLocked() { *l = chatLog{} }

// chatterLocked checks that p on c may chat now: connected and joined.
func (r *room) chatterLocked(p *participant, c *conn) error {
	if r.done || p.conn != c || p.state != StateJoined {
		return errBadState
	}
	return nil
}

// broadcastJoinedLocked queues b to every connected participant in the
// call.
func (r *room) broadcastJoinedLocked(b []byte) {
	for _, q := range r.order {
		if q.conn != nil && q.state == StateJoined {
			q.conn.send(b)
		}
	}
}

// sendChat stamps a chat message of p and relays it to everyone in the
// call, p included (the echo tells its client the server has it).
func (r *room) sendChat(p *participant, c *conn, m ClientMessage) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.chatterLocked(p, c); err != nil {
		return err
	}
	e := chatEntry{Msg: m.Msg, From: p.id, At: time.Now().UTC().Format(chatTimeFormat), Body: m.Body}
	if !r.chat.addLocked(e) {
		return errDuplicateMsg
	}
	r.broadcastJoinedLocked(encode(chatMsg{Type: TypeChat, chatEntry: e}))
	return nil
}

// chatTimeFormat is RFC 3339 in UTC with milliseconds.
const chatTimeFormat = "2006-01-02T15:04:05.000Z07:00"

// receipt tells the sender of message msg that p received it.
func (r *room) receipt(p *participant, c *conn, msg string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.chatterLocked(p, c); err != nil {
		return err
	}
	i := r.chat.findLocked(msg)
	if i < 0 {
		return errNoSuchMessage
	}
	if s := r.byID[r.chat.msgs[i].From]; s != nil && s != p && s.conn != nil && s.state == StateJoined {
		s.conn.send(encode(receiptMsg{Type: TypeReceipt, Msg: msg, From: p.id}))
	}
	return nil
}

// deleteChat deletes message msg for everyone: its sender may, and an
// advisor may delete any.
func (r *room) deleteChat(p *participant, c *conn, msg string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.chatterLocked(p, c); err != nil {
		return err
	}
	i := r.chat.findLocked(msg)
	if i < 0 {
		return errNoSuchMessage
	}
	if r.chat.msgs[i].From != p.id && p.role != RoleAdvisor {
		return errNotAllowed
	}
	r.chat.msgs = slices.Delete(r.chat.msgs, i, i+1)
	r.broadcastJoinedLocked(encode(deletedMsg{Type: TypeDeleted, Msg: msg}))
	r.log.Info("chat message deleted", "participant", p.id)
	return nil
}
