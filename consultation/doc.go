// Package consultation is the one owner of a consultation's life: it
// creates consultations, lets customers join, makes them live, ends and
// expires them. web, retention and the node call it; it drives the
// signaling hub (the live room, its sessions) and the records, and it
// removes a consultation's files when it ends. It must not import web.
//
// # States
//
//	created ──connect/join──▶ live ──connect/join──▶ live
//	   │                        │
//	   ├──end──▶ ended ◀──end───┤
//	   └─expire─▶ expired ◀─expire┘
//
// In words:
//
//   - created: the record is open; this node holds no live room for it
//     (nobody connected yet, or the node restarted).
//   - live: the record is open and the signaling hub of this node holds
//     its room. A join or a connection (WebSocket, files, data-subject
//     calls of a customer) makes it live; doing so again changes nothing.
//   - ended: staff ended it (End). Ending again changes nothing.
//   - expired: it outlived consultation.max_duration and the service
//     ended it (Run, ExpireDue). Ending an expired one changes nothing.
//
// ended and expired are final: connect and join are refused with
// ErrEnded, expire changes nothing. Next holds the table.
//
// A consultation past its maximum duration whose record is still open is
// treated as expired by every call (refused with ErrEnded), and the
// expiry loop is nudged; the loop, not the request, ends it.
//
// # What end does, in one place
//
// Whether staff ended it or it expired, finish: the record is ended
// first (invites stop working), then the live room is closed (everyone
// gets "ended", media and sessions are removed), then, when
// retention.files is 0, the consultation's files and unsigned documents
// are deleted, and last the Ended hook runs (the node closes TURN relays
// and kicks the retention sweeper).
//
// # Join
//
// A customer's join is recorded before it becomes visible: consent, name
// and answers are written in one transaction under a participant id
// chosen first, then the customer enters the waiting room. If the live
// join fails, the records of it are removed again; if the records write
// fails, nothing live was created. So no waiting "ghost" without a
// record and no record without a join remain.
//
// Admission (an advisor admitting a waiting customer) happens in the
// signaling protocol on the node holding the live room.
//
// # Many nodes
//
// The Service acts for the consultations this node is home for: a node
// that is not home for a consultation relays the request to the home
// node, whose Service does the work. Every method takes the consultation
// id, so that routing can decide where to call it.
package consultation
