package mailtest

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strconv"
	"strings"
	"time"

	ics "github.com/arran4/golang-ical"
)

// Parsed is what a test reads from a message Parley sent.
type Parsed struct {
	Header     mail.Header
	Subject    string // decoded
	Text       string // the text/plain part, decoded
	Calendar   []byte // the invite.ics attachment, decoded (nil: none)
	CalMethod  string // the method parameter of the text/calendar part
	Attachment string // the attachment's file name
}

// Parse reads a raw message: headers, text, calendar entry.
func Parse(raw []byte) (Parsed, error) {
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return Parsed{}, fmt.Errorf("read message: %w", err)
	}
	p := Parsed{Header: m.Header}
	if p.Subject, err = new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject")); err != nil {
		return Parsed{}, err
	}
	return p, p.walk(m.Header.Get("Content-Type"), m.Header.Get("Content-Transfer-Encoding"), "", m.Body)
}

func (p *Parsed) walk(ctype, cte, disp string, body io.Reader) error {
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		return fmt.Errorf("content type %q: %w", ctype, err)
	}
	if strings.HasPrefix(mt, "multipart/") {
		r := multipart.NewReader(body, params["boundary"])
		for {
			part, err := r.NextRawPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			if err := p.walk(part.Header.Get("Content-Type"), part.Header.Get("Content-Transfer-Encoding"), part.Header.Get("Content-Disposition"), part); err != nil {
				return err
			}
		}
	}
	switch strings.ToLower(cte) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, body)
	}
	data, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	switch {
	case strings.HasPrefix(disp, "attachment"):
		_, dp, _ := mime.ParseMediaType(disp)
		p.Attachment = dp["filename"]
		p.Calendar = data
	case mt == "text/calendar":
		p.CalMethod = params["method"]
	case mt == "text/plain":
		p.Text = strings.ReplaceAll(string(data), "\r\n", "\n")
	}
	return nil
}

// Event is the one event of a calendar entry, read with a calendar
// library of its own (not the one Parley writes with).
type Event struct {
	Method   string
	UID      string
	Sequence int
	Status   string
	Start    time.Time
	End      time.Time
	URL      string
}

// ParseCalendar parses an RFC 5545 entry holding one event.
func ParseCalendar(data []byte) (Event, error) {
	cal, err := ics.ParseCalendar(bytes.NewReader(data))
	if err != nil {
		return Event{}, fmt.Errorf("parse calendar: %w", err)
	}
	var e Event
	for _, p := range cal.CalendarProperties {
		if p.IANAToken == string(ics.PropertyMethod) {
			e.Method = p.Value
		}
	}
	evs := cal.Events()
	if len(evs) != 1 {
		return Event{}, fmt.Errorf("calendar: %d events, want 1", len(evs))
	}
	ev := evs[0]
	get := func(p ics.ComponentProperty) string {
		if prop := ev.GetProperty(p); prop != nil {
			return prop.Value
		}
		return ""
	}
	e.UID = get(ics.ComponentPropertyUniqueId)
	e.Status = get(ics.ComponentPropertyStatus)
	e.URL = get(ics.ComponentPropertyUrl)
	if e.Sequence, err = strconv.Atoi(get(ics.ComponentPropertySequence)); err != nil {
		return Event{}, fmt.Errorf("calendar: SEQUENCE: %w", err)
	}
	if e.Start, err = ev.GetStartAt(); err != nil {
		return Event{}, fmt.Errorf("calendar: DTSTART: %w", err)
	}
	if e.End, err = ev.GetEndAt(); err != nil {
		return Event{}, fmt.Errorf("calendar: DTEND: %w", err)
	}
	return e, nil
}
