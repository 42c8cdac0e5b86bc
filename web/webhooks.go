package web

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/parley-video/parley/webhooks"
)

// webhookRoutes: the delivery log for admins.
func (s *Server) webhookRoutes(staff *gin.RouterGroup) {
	staff.GET("/admin/webhooks", s.requireAdminUsers, s.api(s.handleWebhookLog))
}

// handleWebhookLog: GET /api/v1/admin/webhooks?limit=N (default 100, at
// most 1000): the configured endpoints and the newest deliveries, without
// the events' content.
func (s *Server) handleWebhookLog(c *gin.Context) error {
	limit := 100
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return errBadRequest("limit must be 1 to 1000")
		}
		limit = n
	}
	type endpoint struct {
		ID           string   `json:"id"`
		Host         string   `json:"host"`
		Events       []string `json:"events"`
		PersonalData bool     `json:"personalData"`
	}
	eps := []endpoint{}
	for _, e := range s.cfg.Webhooks.Endpoints {
		host := e.URL
		if u, err := url.Parse(e.URL); err == nil {
			host = u.Host // not the path or query: they may hold a token
		}
		events := e.Events
		if len(events) == 0 {
			events = webhooks.Types()
		}
		eps = append(eps, endpoint{ID: e.ID, Host: host, Events: events, PersonalData: e.PersonalData})
	}
	log, err := webhooks.Log(c.Request.Context(), s.rec, limit)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"endpoints": eps, "deliveries": log})
	return nil
}
