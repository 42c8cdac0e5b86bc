package web

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// readyTimeout bounds one /readyz run.
const readyTimeout = 3 * time.Second

// handleHealthz: GET /healthz, 200 while the process runs.
func (s *Server) handleHealthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// readyStatus is a failed readiness check that names its condition (the
// disk check's "low" or "full") instead of "failed".
type readyStatus interface{ ReadyStatus() string }

// handleReadyz: GET /readyz runs the records ping and Deps.Ready. Failing
// checks say "failed" (or their ReadyStatus); their errors go to the log,
// not to the client.
func (s *Server) handleReadyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), readyTimeout)
	defer cancel()
	errs := map[string]error{"records": s.rec.Ping(ctx)}
	if s.ready != nil {
		for name, err := range s.ready(ctx) {
			errs[name] = err
		}
	}
	checks := make(map[string]string, len(errs))
	ready := true
	for name, err := range errs {
		if err == nil {
			checks[name] = "ok"
			continue
		}
		ready = false
		checks[name] = "failed"
		var rs readyStatus
		if errors.As(err, &rs) {
			checks[name] = rs.ReadyStatus()
			if checks[name] == "draining" {
				continue // expected while it lasts; the drain logs itself
			}
		}
		s.log.WarnContext(ctx, "readiness check failed", "check", name, "err", err)
	}
	if !ready {
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": "not_ready", "checks": checks})
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready", "checks": checks})
}
