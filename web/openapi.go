package web

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"
	"gopkg.in/yaml.v3"
)

// openapiYAML is the OpenAPI 3.1 document of the REST API: the one source,
// served as JSON at /api/v1/openapi.json. web/openapi_test.go holds every
// request and response of the web tests to it.
//
//go:embed openapi.yaml
var openapiYAML []byte

// openapiJSON converts the embedded document to JSON (YAML merge keys
// resolved).
func openapiJSON() ([]byte, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(openapiYAML, &doc); err != nil {
		return nil, fmt.Errorf("openapi.yaml: %w", err)
	}
	out, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("openapi.yaml to JSON: %w", err)
	}
	return out, nil
}

// handleOpenAPI: GET /api/v1/openapi.json.
func (s *Server) handleOpenAPI(c *gin.Context) error {
	c.Header("Cache-Control", "no-cache")
	c.Data(http.StatusOK, "application/json", s.openapi)
	return nil
}
