package web

import (
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/parley-video/parley/appointment"
	"github.com/parley-video/parley/records"
	"github.com/parley-video/parley/webhooks"
)

// Appointments: consultations booked for a slot (API.md, "Appointments").

var (
	errMailOff = &apiError{http.StatusConflict, "mail_disabled",
		"this server sends no e-mail (mail.enabled is false); send the link from your own mail program"}
	errNotYet = &apiError{http.StatusConflict, "not_yet", "the appointment has not started yet"}
)

// appointmentJSON is API.md's Appointment.
type appointmentJSON struct {
	ID             string       `json:"id"`
	ConsultationID string       `json:"consultationId"`
	Title          string       `json:"title"`
	StartsAt       string       `json:"startsAt"`
	EndsAt         string       `json:"endsAt"`
	OpensAt        string       `json:"opensAt"`
	State          string       `json:"state"`
	Sequence       int          `json:"sequence"`
	Lang           string       `json:"lang"`
	Customer       customerJSON `json:"customer"`
	Advisor        advisorJSON  `json:"advisor"`
	InviteURL      string       `json:"inviteUrl,omitempty"`
}

type customerJSON struct {
	Name  string `json:"name"`
	Email string `json:"email"`
	Phone string `json:"phone,omitempty"`
}

func (s *Server) toAppointmentJSON(a records.Appointment, inviteURL string) appointmentJSON {
	return appointmentJSON{
		ID: a.ID, ConsultationID: a.ConsultationID, Title: a.Title,
		StartsAt: rfc3339(a.StartsAt), EndsAt: rfc3339(a.EndsAt), OpensAt: rfc3339(s.appts.OpensAt(a)),
		State: string(a.State), Sequence: a.Sequence, Lang: a.Lang,
		Customer:  customerJSON{Name: a.CustomerName, Email: a.CustomerEmail, Phone: a.CustomerPhone},
		Advisor:   advisorJSON{ID: a.AdvisorID, DisplayName: a.AdvisorName},
		InviteURL: inviteURL,
	}
}

func (s *Server) appointmentRoutes(cons *gin.RouterGroup) {
	cons = cons.Group("", func(c *gin.Context) {
		if s.appts == nil {
			s.fail(c, errNoRoute)
			return
		}
		c.Next()
	})
	cons.GET("/appointments", s.api(s.handleAppointmentDay))
	cons.POST("/appointments", s.api(s.handleBook))
	cons.GET("/appointments/:id", s.api(s.handleGetAppointment))
	cons.PUT("/appointments/:id", s.api(s.handleReschedule))
	cons.POST("/appointments/:id/send", s.api(s.handleSendAppointment))
	cons.POST("/appointments/:id/cancel", s.api(s.handleCancelAppointment))
}

// ownAppointment loads the :id appointment if the logged-in advisor
// booked it; others get 404.
func (s *Server) ownAppointment(c *gin.Context) (records.Appointment, error) {
	a, err := s.rec.AppointmentByID(c.Request.Context(), c.Param("id"))
	if err != nil {
		return records.Appointment{}, err
	}
	if a.AdvisorID != staffUser(c).ID {
		return records.Appointment{}, records.ErrNotFound
	}
	return a, nil
}

func parseTime(field, v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, errBadRequest(field + " must be an RFC 3339 time, e.g. 2030-03-04T14:00:00+01:00")
	}
	return t, nil
}

// parseSlot reads a request's startsAt and endsAt.
func parseSlot(startsAt, endsAt string) (start, end time.Time, err error) {
	if start, err = parseTime("startsAt", startsAt); err != nil {
		return
	}
	end, err = parseTime("endsAt", endsAt)
	return
}

// handleBook: POST /api/v1/appointments.
func (s *Server) handleBook(c *gin.Context) error {
	base, err := s.baseURL(c.Request)
	if err != nil {
		return err
	}
	var req struct {
		Title         string `json:"title"`
		StartsAt      string `json:"startsAt"`
		EndsAt        string `json:"endsAt"`
		CustomerName  string `json:"customerName"`
		CustomerEmail string `json:"customerEmail"`
		CustomerPhone string `json:"customerPhone"`
		Lang          string `json:"lang"`
	}
	if err := decodeJSON(c, &req, false); err != nil {
		return err
	}
	start, end, err := parseSlot(req.StartsAt, req.EndsAt)
	if err != nil {
		return err
	}
	if req.Lang == "" {
		req.Lang = "de"
	}
	a, token, err := s.appts.Book(c.Request.Context(), staffUser(c).ID, appointment.Request{
		Title: req.Title, StartsAt: start, EndsAt: end, CustomerName: req.CustomerName,
		CustomerEmail: req.CustomerEmail, CustomerPhone: req.CustomerPhone, Lang: req.Lang,
	})
	if err != nil {
		return err
	}
	s.hooks.Emit(c.Request.Context(), webhooks.Event{Type: webhooks.ConsultationBooked, Consultation: a.ConsultationID, Once: a.ID,
		Data:     map[string]any{"appointment": a.ID, "startsAt": a.StartsAt.UTC(), "endsAt": a.EndsAt.UTC(), "advisor": staffUser(c).ID},
		Personal: map[string]any{"customerName": a.CustomerName, "customerEmail": a.CustomerEmail}})
	c.JSON(http.StatusCreated, s.toAppointmentJSON(a, base+"/j/"+token))
	return nil
}

// handleAppointmentDay: GET /api/v1/appointments?day=YYYY-MM-DD&tz=Zone.
func (s *Server) handleAppointmentDay(c *gin.Context) error {
	zone := s.appts.Zone()
	if tz := c.Query("tz"); tz != "" {
		z, err := time.LoadLocation(tz)
		if err != nil || len(tz) > 64 {
			return errBadRequest("tz must be an IANA time zone such as Europe/Berlin")
		}
		zone = z
	}
	day := s.now().In(zone)
	if d := c.Query("day"); d != "" {
		t, err := time.ParseInLocation("2006-01-02", d, zone)
		if err != nil {
			return errBadRequest("day must be a date such as 2030-03-04")
		}
		day = t
	}
	list, err := s.appts.Day(c.Request.Context(), staffUser(c).ID, day)
	if err != nil {
		return err
	}
	out := make([]appointmentJSON, 0, len(list))
	for _, a := range list {
		out = append(out, s.toAppointmentJSON(a, ""))
	}
	c.JSON(http.StatusOK, gin.H{"day": day.Format("2006-01-02"), "timeZone": zone.String(),
		"mail": s.appts.MailOn(), "appointments": out})
	return nil
}

// handleGetAppointment: GET /api/v1/appointments/:id.
func (s *Server) handleGetAppointment(c *gin.Context) error {
	a, err := s.ownAppointment(c)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, s.toAppointmentJSON(a, ""))
	return nil
}

// handleSendAppointment: POST /api/v1/appointments/:id/send.
func (s *Server) handleSendAppointment(c *gin.Context) error {
	base, err := s.baseURL(c.Request)
	if err != nil {
		return err
	}
	var req struct {
		Link string `json:"link"`
	}
	if err := decodeJSON(c, &req, false); err != nil {
		return err
	}
	if _, err := s.ownAppointment(c); err != nil {
		return err
	}
	a, err := s.appts.Send(c.Request.Context(), c.Param("id"), base, req.Link)
	if errors.Is(err, appointment.ErrMailOff) {
		return errMailOff
	}
	if err != nil {
		return err
	}
	c.JSON(http.StatusAccepted, s.toAppointmentJSON(a, ""))
	return nil
}

// handleReschedule: PUT /api/v1/appointments/:id.
func (s *Server) handleReschedule(c *gin.Context) error {
	base, err := s.baseURL(c.Request)
	if err != nil {
		return err
	}
	var req struct {
		StartsAt string `json:"startsAt"`
		EndsAt   string `json:"endsAt"`
		Link     string `json:"link"`
	}
	if err := decodeJSON(c, &req, false); err != nil {
		return err
	}
	start, end, err := parseSlot(req.StartsAt, req.EndsAt)
	if err != nil {
		return err
	}
	if _, err := s.ownAppointment(c); err != nil {
		return err
	}
	a, err := s.appts.Reschedule(c.Request.Context(), c.Param("id"), start, end, base, req.Link)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, s.toAppointmentJSON(a, ""))
	return nil
}

// handleCancelAppointment: POST /api/v1/appointments/:id/cancel.
func (s *Server) handleCancelAppointment(c *gin.Context) error {
	if _, err := s.ownAppointment(c); err != nil {
		return err
	}
	a, err := s.appts.Cancel(c.Request.Context(), c.Param("id"))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, s.toAppointmentJSON(a, ""))
	return nil
}
