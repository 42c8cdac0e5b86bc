package web

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
)

// Device link (web/E2EE.md "Bringing the key to another device"): an
// advisor's browser that holds a consultation's call key seals it with a
// key derived from a one-time code it shows on screen and leaves the
// sealed box here; the same advisor, logged in on another device, fetches
// the box once and opens it with the code typed in. The server keeps only
// the box, for deviceLinkTTL, in the memory of the consultation's home
// node (the routes are under /api/v1/consultations/:id/, which cluster
// mode relays to that node). It never sees the code or the key.

const (
	// deviceLinkTTL is how long a sealed box waits to be fetched.
	deviceLinkTTL = 5 * time.Minute
	// deviceLinkMaxBox bounds a box (decoded): version, salt, IV, tag and
	// a small JSON payload (the key and the invite link).
	deviceLinkMaxBox = 2048
	// deviceLinkMinBox is version 1, salt 16, IV 12 and the GCM tag 16.
	deviceLinkMinBox = 1 + 16 + 12 + 16
	// deviceLinkMaxEntries bounds the boxes held at once on one node.
	deviceLinkMaxEntries = 10000
)

var (
	errNoDeviceLink     = &apiError{http.StatusNotFound, "not_found", "no device link is waiting for you in this consultation (it expires after 5 minutes and can be fetched once)"}
	errDeviceLinkLimit  = &apiError{http.StatusTooManyRequests, "rate_limited", "too many device-link requests; try again after Retry-After seconds"}
	errDeviceLinksFull  = &apiError{http.StatusServiceUnavailable, "unavailable", "too many device links are waiting; try again in a few minutes"}
	errDeviceLinkBadBox = errBadRequest(`field "box" must be base64url (no padding) of 45 to 2048 bytes`)
)

// deviceLinkKey names one waiting box: one per consultation and user.
type deviceLinkKey struct {
	consultation string
	user         int64
}

type deviceLinkEntry struct {
	box       []byte
	expiresAt time.Time
	claimed   bool // fetched: the box is gone, the state stays until expiry
}

// deviceLinks holds the waiting boxes of this node and the rate limit of
// the device-link requests per user.
type deviceLinks struct {
	mu      sync.Mutex
	entries map[deviceLinkKey]*deviceLinkEntry
	limit   *limiter
}

func newDeviceLinks(now func() time.Time) *deviceLinks {
	// 20 requests (offers, fetches, cancels) per user a minute: enough for
	// typing a code wrong a few times, far too few to matter otherwise.
	return &deviceLinks{entries: map[deviceLinkKey]*deviceLinkEntry{}, limit: newLimiter(20, time.Minute, now)}
}

// sweep drops expired entries; the caller holds mu.
func (d *deviceLinks) sweep(now time.Time) {
	for k, e := range d.entries {
		if !now.Before(e.expiresAt) {
			delete(d.entries, k)
		}
	}
}

func (s *Server) deviceLinkRoutes(cons *gin.RouterGroup) {
	cons.POST("/:id/device-link", s.api(s.handleOfferDeviceLink))
	cons.GET("/:id/device-link", s.api(s.handleDeviceLinkState))
	cons.DELETE("/:id/device-link", s.api(s.handleCancelDeviceLink))
	cons.POST("/:id/device-link/claim", s.api(s.handleClaimDeviceLink))
}

// deviceLinkCaller checks the rate limit, the caller's access to the
// consultation and that it has not ended; it returns the entry's key.
func (s *Server) deviceLinkCaller(c *gin.Context) (deviceLinkKey, error) {
	user := staffUser(c)
	if ok, wait := s.devLinks.limit.allow(strconv.FormatInt(user.ID, 10)); !ok {
		c.Header("Retry-After", strconv.Itoa(max(1, int(wait.Seconds()))))
		return deviceLinkKey{}, errDeviceLinkLimit
	}
	id, err := s.staffConsultation(c)
	if err != nil {
		return deviceLinkKey{}, err
	}
	if _, err := s.cons.Active(c.Request.Context(), id); err != nil {
		return deviceLinkKey{}, err
	}
	return deviceLinkKey{consultation: string(id), user: user.ID}, nil
}

// handleOfferDeviceLink: POST /api/v1/consultations/:id/device-link.
// Leaves a sealed box for the caller's other device; it replaces the
// caller's earlier box of this consultation.
func (s *Server) handleOfferDeviceLink(c *gin.Context) error {
	key, err := s.deviceLinkCaller(c)
	if err != nil {
		return err
	}
	var req struct {
		Box string `json:"box"`
	}
	if err := decodeJSON(c, &req, false); err != nil {
		return err
	}
	box, err := base64.RawURLEncoding.DecodeString(req.Box)
	if err != nil || len(box) < deviceLinkMinBox || len(box) > deviceLinkMaxBox {
		return errDeviceLinkBadBox
	}
	now := s.now()
	d := s.devLinks
	d.mu.Lock()
	defer d.mu.Unlock()
	d.sweep(now)
	if _, ok := d.entries[key]; !ok && len(d.entries) >= deviceLinkMaxEntries {
		return errDeviceLinksFull
	}
	exp := now.Add(deviceLinkTTL)
	d.entries[key] = &deviceLinkEntry{box: box, expiresAt: exp}
	c.JSON(http.StatusCreated, gin.H{"state": "waiting", "expiresAt": rfc3339(exp)})
	return nil
}

// handleDeviceLinkState: GET /api/v1/consultations/:id/device-link. The
// offering device asks whether its box was fetched.
func (s *Server) handleDeviceLinkState(c *gin.Context) error {
	key, err := s.deviceLinkCaller(c)
	if err != nil {
		return err
	}
	d := s.devLinks
	d.mu.Lock()
	defer d.mu.Unlock()
	d.sweep(s.now())
	e := d.entries[key]
	if e == nil {
		return errNoDeviceLink
	}
	state := "waiting"
	if e.claimed {
		state = "claimed"
	}
	c.JSON(http.StatusOK, gin.H{"state": state, "expiresAt": rfc3339(e.expiresAt)})
	return nil
}

// handleCancelDeviceLink: DELETE /api/v1/consultations/:id/device-link.
func (s *Server) handleCancelDeviceLink(c *gin.Context) error {
	key, err := s.deviceLinkCaller(c)
	if err != nil {
		return err
	}
	d := s.devLinks
	d.mu.Lock()
	delete(d.entries, key)
	d.mu.Unlock()
	c.Status(http.StatusNoContent)
	return nil
}

// handleClaimDeviceLink: POST /api/v1/consultations/:id/device-link/claim.
// Hands the caller's waiting box out once; afterwards only its state
// ("claimed") remains until it expires.
func (s *Server) handleClaimDeviceLink(c *gin.Context) error {
	key, err := s.deviceLinkCaller(c)
	if err != nil {
		return err
	}
	d := s.devLinks
	d.mu.Lock()
	defer d.mu.Unlock()
	d.sweep(s.now())
	e := d.entries[key]
	if e == nil || e.claimed {
		return errNoDeviceLink
	}
	box := e.box
	e.box, e.claimed = nil, true
	c.JSON(http.StatusOK, gin.H{"box": base64.RawURLEncoding.EncodeToString(box), "expiresAt": rfc3339(e.expiresAt)})
	return nil
}
