package web

import (
	"github.com/gin-gonic/gin"

	"github.com/parley-video/parley/consultation"
	"github.com/parley-video/parley/records"
	"github.com/parley-video/parley/signaling"
)

// handleWS: GET /ws/:id, the protocol WebSocket (signaling/PROTOCOL.md).
// Staff with access join as advisors; otherwise the parley_session cookie
// decides (the hub checks it). Unknown consultation 404, ended 410, no
// credentials 401, staff without access and no session 404 (API.md).
func (s *Server) handleWS(c *gin.Context) error {
	ctx := c.Request.Context()
	con, err := s.cons.Active(ctx, consultation.ID(c.Param("id")))
	if err != nil {
		return err
	}
	user, _, isStaff, err := s.currentStaff(c)
	if err != nil {
		return err
	}
	if isStaff {
		ok, err := s.rec.CanJoinAsStaff(ctx, con.Record.ID, user.ID)
		if err != nil {
			return err
		}
		if ok {
			if _, err := s.cons.Connect(ctx, con.ID()); err != nil {
				return err
			}
			clearDeadlines(c.Writer) // the server's timeouts are not for WebSockets
			s.hub.ServeStaff(c.Writer, c.Request, con.ID(), signaling.Staff{UserID: user.ID, Name: user.DisplayName})
			c.Abort()
			return nil
		}
	}
	if cookie, err := c.Cookie(cookieSession); err == nil && cookie != "" {
		// A node that restarted learns the consultation here, so that a
		// customer reconnecting first finds its session (session store).
		if _, err := s.cons.Connect(ctx, con.ID()); err != nil {
			return err
		}
		// The waiting room says whether the advisor is away; later
		// changes come from handleAvailability.
		if adv, err := s.rec.UserByID(ctx, con.Record.AdvisorID); err == nil {
			s.hub.SetAdvisorAway(con.ID(), !adv.Available)
		} else {
			s.log.WarnContext(ctx, "advisor availability not read", "consultation", con.Record.ID, "err", err)
		}
		clearDeadlines(c.Writer) // the server's timeouts are not for WebSockets
		s.hub.ServeCustomer(c.Writer, c.Request, con.ID(), cookie)
		c.Abort()
		return nil
	}
	if isStaff {
		return records.ErrNotFound // as for every consultation route (API.md)
	}
	return errUnauthorized("no session for this consultation")
}
