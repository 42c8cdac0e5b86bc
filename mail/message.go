package mail

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
	"time"
)

// Message is an e-mail to write: a plain-text body, optionally a
// calendar entry (sent both as the text/calendar part calendar programs
// act on and as an invite.ics attachment) and files attached.
type Message struct {
	FromName  string // e.g. the company's name
	FromAddr  string
	To        string
	Subject   string
	Text      string
	Calendar  []byte // RFC 5545; nil: none
	Method    string // the calendar's METHOD (REQUEST, CANCEL)
	MessageID string // without angle brackets: the idempotency key
	Date      time.Time
	// Attachments are files sent along (base64, after the text).
	Attachments []Attachment
}

// Attachment is a file attached to a Message.
type Attachment struct {
	Name        string // the file name shown, e.g. "Kreditvertrag-signed.pdf"
	ContentType string // e.g. application/pdf
	Data        []byte
}

// MessageID makes a Message-ID from an idempotency key and the sender's
// domain: the same key always gives the same id, so a receiver (or a
// test) sees a redelivery as the same message.
func MessageID(key, fromAddr string) string {
	domain := "parley.invalid"
	if i := strings.LastIndexByte(fromAddr, '@'); i >= 0 && i+1 < len(fromAddr) {
		domain = fromAddr[i+1:]
	}
	var b strings.Builder
	for _, r := range key {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('.')
		}
	}
	return b.String() + "@" + domain
}

// Bytes writes the message (CRLF line ends).
func (m Message) Bytes() ([]byte, error) {
	if strings.ContainsAny(m.To+m.FromAddr+m.MessageID, "\r\n") {
		return nil, fmt.Errorf("mail: line break in a header")
	}
	var buf bytes.Buffer
	hdr := func(k, v string) { fmt.Fprintf(&buf, "%s: %s\r\n", k, v) }
	hdr("From", (&mail.Address{Name: m.FromName, Address: m.FromAddr}).String())
	hdr("To", (&mail.Address{Address: m.To}).String())
	hdr("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	hdr("Date", m.Date.Format(time.RFC1123Z))
	hdr("Message-ID", "<"+m.MessageID+">")
	hdr("MIME-Version", "1.0")
	hdr("Auto-Submitted", "auto-generated")
	mw := multipart.NewWriter(&buf)
	if m.Calendar == nil && len(m.Attachments) == 0 {
		hdr("Content-Type", "text/plain; charset=UTF-8")
		hdr("Content-Transfer-Encoding", "quoted-printable")
		buf.WriteString("\r\n")
		if err := writeQP(&buf, m.Text); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	}
	b := make([]byte, 12)
	rand.Read(b)
	if err := mw.SetBoundary("parley-" + hex.EncodeToString(b)); err != nil {
		return nil, fmt.Errorf("mail: %w", err)
	}
	hdr("Content-Type", "multipart/mixed; boundary="+mw.Boundary())
	buf.WriteString("\r\n")
	if m.Calendar == nil {
		p, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {"text/plain; charset=UTF-8"},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return nil, fmt.Errorf("mail: %w", err)
		}
		if err := writeQP(p, m.Text); err != nil {
			return nil, err
		}
	} else if err := m.writeCalendar(mw, hex.EncodeToString(b)); err != nil {
		return nil, err
	}
	for _, a := range m.Attachments {
		if strings.ContainsAny(a.Name+a.ContentType, "\r\n") {
			return nil, fmt.Errorf("mail: line break in an attachment's name or type")
		}
		ct := mime.FormatMediaType(a.ContentType, map[string]string{"name": a.Name})
		disp := mime.FormatMediaType("attachment", map[string]string{"filename": a.Name})
		if ct == "" || disp == "" {
			return nil, fmt.Errorf("mail: attachment type %q or name not writable", a.ContentType)
		}
		p, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {ct},
			"Content-Disposition":       {disp},
			"Content-Transfer-Encoding": {"base64"},
		})
		if err != nil {
			return nil, fmt.Errorf("mail: %w", err)
		}
		writeB64(p, a.Data)
	}
	if err := mw.Close(); err != nil {
		return nil, fmt.Errorf("mail: %w", err)
	}
	return buf.Bytes(), nil
}

// writeCalendar writes the text and the calendar entry as alternatives,
// so calendar programs offer "accept" / update the entry, plus the file
// to import by hand.
func (m Message) writeCalendar(mw *multipart.Writer, tag string) error {
	altBoundary := "parley-alt-" + tag
	part, err := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"multipart/alternative; boundary=" + altBoundary}})
	if err != nil {
		return fmt.Errorf("mail: %w", err)
	}
	alt := multipart.NewWriter(part)
	if err := alt.SetBoundary(altBoundary); err != nil {
		return fmt.Errorf("mail: %w", err)
	}
	p, err := alt.CreatePart(textproto.MIMEHeader{
		"Content-Type":              {"text/plain; charset=UTF-8"},
		"Content-Transfer-Encoding": {"quoted-printable"},
	})
	if err != nil {
		return fmt.Errorf("mail: %w", err)
	}
	if err := writeQP(p, m.Text); err != nil {
		return err
	}
	calType := "text/calendar; charset=UTF-8; method=" + m.Method
	if p, err = alt.CreatePart(textproto.MIMEHeader{"Content-Type": {calType}, "Content-Transfer-Encoding": {"base64"}}); err != nil {
		return fmt.Errorf("mail: %w", err)
	}
	writeB64(p, m.Calendar)
	if err := alt.Close(); err != nil {
		return fmt.Errorf("mail: %w", err)
	}
	if p, err = mw.CreatePart(textproto.MIMEHeader{
		"Content-Type":              {"application/ics; name=\"invite.ics\""},
		"Content-Disposition":       {"attachment; filename=\"invite.ics\""},
		"Content-Transfer-Encoding": {"base64"},
	}); err != nil {
		return fmt.Errorf("mail: %w", err)
	}
	writeB64(p, m.Calendar)
	return nil
}

func writeQP(w interface{ Write([]byte) (int, error) }, text string) error {
	qp := quotedprintable.NewWriter(w)
	text = strings.ReplaceAll(strings.ReplaceAll(text, "\r\n", "\n"), "\n", "\r\n")
	if _, err := qp.Write([]byte(text)); err != nil {
		return fmt.Errorf("mail: %w", err)
	}
	if err := qp.Close(); err != nil {
		return fmt.Errorf("mail: %w", err)
	}
	return nil
}

func writeB64(w interface{ Write([]byte) (int, error) }, data []byte) {
	enc := base64.StdEncoding.EncodeToString(data)
	for len(enc) > 76 {
		w.Write([]byte(enc[:76] + "\r\n"))
		enc = enc[76:]
	}
	w.Write([]byte(enc + "\r\n"))
}
