package mail

import (
	"bytes"
	"fmt"
	"strings"
	"text/template"
	"time"
	_ "time/tzdata" // the configured time zone works without the system's database

	"github.com/emersion/go-ical"
)

// Kinds of appointment e-mail.
const (
	KindInvite   = "invite"   // the booking: METHOD:REQUEST
	KindUpdate   = "update"   // a new slot: METHOD:REQUEST, SEQUENCE raised
	KindCancel   = "cancel"   // METHOD:CANCEL
	KindReminder = "reminder" // no calendar entry
)

// Appointment is what an appointment e-mail says.
type Appointment struct {
	Kind         string
	Lang         string // "de" or "en"
	Company      string // sender name and signature
	FromAddr     string
	To           string
	CustomerName string
	AdvisorName  string
	Title        string
	Start, End   time.Time
	Zone         *time.Location // times in the text are shown here
	// Link is the invite link with the call key in its fragment, as the
	// advisor's browser composed it; empty: the text points to the
	// invitation instead (the server does not have the link).
	Link     string
	UID      string // the calendar entry's UID, stable for an appointment
	Sequence int
	Stamp    time.Time // DTSTAMP and Date
	Key      string    // idempotency key: the Message-ID
}

type textVars struct {
	Appointment
	Date, Time, EndTime, ZoneName string
}

var templates = map[string]map[string]*template.Template{
	"de": {
		"subject:" + KindInvite:   tpl(`Ihr Videoberatungstermin am {{.Date}} um {{.Time}} Uhr – {{.Company}}`),
		"subject:" + KindUpdate:   tpl(`Termin verschoben: jetzt am {{.Date}} um {{.Time}} Uhr – {{.Company}}`),
		"subject:" + KindCancel:   tpl(`Termin abgesagt: {{.Date}} um {{.Time}} Uhr – {{.Company}}`),
		"subject:" + KindReminder: tpl(`Erinnerung: Ihr Termin beginnt um {{.Time}} Uhr – {{.Company}}`),
		"body:" + KindInvite: tpl(`Guten Tag {{.CustomerName}},

Ihre Videoberatung mit {{.AdvisorName}} ({{.Company}}) ist am {{.Date}} von {{.Time}} bis {{.EndTime}} Uhr ({{.ZoneName}}).{{if .Title}}
Thema: {{.Title}}{{end}}

Zum Termin öffnen Sie diesen Link im Browser, eine Installation ist nicht nötig:
{{.Link}}

Vor dem Termin zeigt der Link, wann es losgeht. Er gilt nur für diesen Termin. Bitte geben Sie ihn nicht weiter: er enthält den Schlüssel, mit dem Ihr Gespräch Ende-zu-Ende verschlüsselt wird.

Den Termin für Ihren Kalender finden Sie im Anhang (invite.ics).

Mit freundlichen Grüßen
{{.Company}}
`),
		"body:" + KindUpdate: tpl(`Guten Tag {{.CustomerName}},

Ihre Videoberatung mit {{.AdvisorName}} ({{.Company}}) wurde verschoben. Neuer Termin: {{.Date}} von {{.Time}} bis {{.EndTime}} Uhr ({{.ZoneName}}).

{{if .Link}}Ihr Link bleibt derselbe:
{{.Link}}{{else}}Ihr Link aus der ersten Einladung bleibt gültig.{{end}}

Der geänderte Kalendereintrag ist angehängt (invite.ics).

Mit freundlichen Grüßen
{{.Company}}
`),
		"body:" + KindCancel: tpl(`Guten Tag {{.CustomerName}},

Ihre Videoberatung mit {{.AdvisorName}} ({{.Company}}) am {{.Date}} um {{.Time}} Uhr wurde abgesagt. Der Link zum Termin gilt nicht mehr.

Der angehängte Kalendereintrag (invite.ics) entfernt den Termin aus Ihrem Kalender.

Mit freundlichen Grüßen
{{.Company}}
`),
		"body:" + KindReminder: tpl(`Guten Tag {{.CustomerName}},

zur Erinnerung: Ihre Videoberatung mit {{.AdvisorName}} ({{.Company}}) beginnt am {{.Date}} um {{.Time}} Uhr ({{.ZoneName}}).

{{if .Link}}Ihr Link zum Termin:
{{.Link}}{{else}}Bitte nutzen Sie den Link aus Ihrer Einladung.{{end}}

Mit freundlichen Grüßen
{{.Company}}
`),
	},
	"en": {
		"subject:" + KindInvite:   tpl(`Your video consultation on {{.Date}} at {{.Time}} – {{.Company}}`),
		"subject:" + KindUpdate:   tpl(`Appointment moved: now on {{.Date}} at {{.Time}} – {{.Company}}`),
		"subject:" + KindCancel:   tpl(`Appointment cancelled: {{.Date}} at {{.Time}} – {{.Company}}`),
		"subject:" + KindReminder: tpl(`Reminder: your appointment starts at {{.Time}} – {{.Company}}`),
		"body:" + KindInvite: tpl(`Dear {{.CustomerName}},

your video consultation with {{.AdvisorName}} ({{.Company}}) is on {{.Date}} from {{.Time}} to {{.EndTime}} ({{.ZoneName}}).{{if .Title}}
Subject: {{.Title}}{{end}}

To join, open this link in your browser; there is nothing to install:
{{.Link}}

Before the appointment the link shows when it starts. It works for this appointment only. Please do not pass it on: it holds the key that encrypts your conversation end to end.

The appointment for your calendar is attached (invite.ics).

Kind regards
{{.Company}}
`),
		"body:" + KindUpdate: tpl(`Dear {{.CustomerName}},

your video consultation with {{.AdvisorName}} ({{.Company}}) has been moved. New time: {{.Date}} from {{.Time}} to {{.EndTime}} ({{.ZoneName}}).

{{if .Link}}Your link stays the same:
{{.Link}}{{else}}The link in your first invitation still works.{{end}}

The updated calendar entry is attached (invite.ics).

Kind regards
{{.Company}}
`),
		"body:" + KindCancel: tpl(`Dear {{.CustomerName}},

your video consultation with {{.AdvisorName}} ({{.Company}}) on {{.Date}} at {{.Time}} has been cancelled. The link no longer works.

The attached calendar entry (invite.ics) removes the appointment from your calendar.

Kind regards
{{.Company}}
`),
		"body:" + KindReminder: tpl(`Dear {{.CustomerName}},

a reminder: your video consultation with {{.AdvisorName}} ({{.Company}}) starts on {{.Date}} at {{.Time}} ({{.ZoneName}}).

{{if .Link}}Your link:
{{.Link}}{{else}}Please use the link in your invitation.{{end}}

Kind regards
{{.Company}}
`),
	},
}

func tpl(text string) *template.Template { return template.Must(template.New("").Parse(text)) }

// Message writes the e-mail of an appointment: the text in the
// customer's language and, except for reminders, the calendar entry.
func (a Appointment) Message() (Message, error) {
	set, ok := templates[a.Lang]
	if !ok {
		return Message{}, fmt.Errorf("mail: language %q", a.Lang)
	}
	if _, ok := set["body:"+a.Kind]; !ok {
		return Message{}, fmt.Errorf("mail: kind %q", a.Kind)
	}
	zone := a.Zone
	if zone == nil {
		zone = time.UTC
	}
	start, end := a.Start.In(zone), a.End.In(zone)
	v := textVars{Appointment: a, Time: start.Format("15:04"), EndTime: end.Format("15:04"), ZoneName: start.Format("MST")}
	if a.Lang == "de" {
		v.Date = start.Format("02.01.2006")
	} else {
		v.Date = start.Format("2 January 2006")
	}
	var subj, body bytes.Buffer
	if err := set["subject:"+a.Kind].Execute(&subj, v); err != nil {
		return Message{}, fmt.Errorf("mail: subject: %w", err)
	}
	if err := set["body:"+a.Kind].Execute(&body, v); err != nil {
		return Message{}, fmt.Errorf("mail: body: %w", err)
	}
	m := Message{
		FromName: a.Company, FromAddr: a.FromAddr, To: a.To,
		Subject: strings.TrimSpace(subj.String()), Text: body.String(),
		MessageID: MessageID(a.Key, a.FromAddr), Date: a.Stamp,
	}
	if a.Kind != KindReminder {
		cal, method, err := a.Calendar()
		if err != nil {
			return Message{}, err
		}
		m.Calendar, m.Method = cal, method
	}
	return m, nil
}

// Calendar writes the RFC 5545 entry: METHOD:REQUEST with the slot (the
// link as URL, LOCATION and in the description) for an invitation or an
// update, METHOD:CANCEL with STATUS:CANCELLED for a cancellation; the
// same UID throughout and the appointment's SEQUENCE.
func (a Appointment) Calendar() ([]byte, string, error) {
	method := "REQUEST"
	if a.Kind == KindCancel {
		method = "CANCEL"
	}
	cal := ical.NewCalendar()
	cal.Props.SetText(ical.PropVersion, "2.0")
	cal.Props.SetText(ical.PropProductID, "-//Parley//Appointments//EN")
	cal.Props.SetText(ical.PropMethod, method)
	ev := ical.NewEvent()
	ev.Props.SetText(ical.PropUID, a.UID)
	ev.Props.SetDateTime(ical.PropDateTimeStamp, a.Stamp.UTC())
	ev.Props.SetDateTime(ical.PropDateTimeStart, a.Start.UTC())
	ev.Props.SetDateTime(ical.PropDateTimeEnd, a.End.UTC())
	seq := ical.NewProp(ical.PropSequence)
	seq.SetValueType(ical.ValueInt)
	seq.Value = fmt.Sprint(a.Sequence)
	ev.Props.Set(seq)
	summary := a.Company
	if a.Title != "" {
		summary += ": " + a.Title
	}
	ev.Props.SetText(ical.PropSummary, summary)
	org := ical.NewProp(ical.PropOrganizer)
	org.Params.Set(ical.ParamCommonName, a.Company)
	org.Value = "mailto:" + a.FromAddr
	ev.Props.Set(org)
	att := ical.NewProp(ical.PropAttendee)
	att.Params.Set(ical.ParamCommonName, a.CustomerName)
	att.Params.Set("RSVP", "FALSE")
	att.Value = "mailto:" + a.To
	ev.Props.Set(att)
	if a.Kind == KindCancel {
		ev.Props.SetText(ical.PropStatus, "CANCELLED")
	} else {
		ev.Props.SetText(ical.PropStatus, "CONFIRMED")
		if a.Link != "" {
			ev.Props.SetText(ical.PropLocation, a.Link)
			ev.Props.SetText(ical.PropDescription, a.Link)
			u := ical.NewProp(ical.PropURL)
			u.SetValueType(ical.ValueURI)
			u.Value = a.Link
			ev.Props.Set(u)
		}
	}
	cal.Children = append(cal.Children, ev.Component)
	var buf bytes.Buffer
	if err := ical.NewEncoder(&buf).Encode(cal); err != nil {
		return nil, "", fmt.Errorf("mail: calendar: %w", err)
	}
	return buf.Bytes(), method, nil
}
