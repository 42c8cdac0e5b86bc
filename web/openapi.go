package web

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"

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

// openapiDoc is the JSON document, converted on the first request rather
// than at start-up (parsing the YAML costs a few MiB of garbage, and few
// nodes are ever asked; TestOpenAPIServed checks it converts).
type openapiDoc struct {
	once sync.Once
	json []byte
	err  error
}

func (d *openapiDoc) get() ([]byte, error) {
	d.once.Do(func() { d.json, d.err = openapiJSON() })
	return d.json, d.err
}

// handleOpenAPI: GET /api/v1/openapi.json.
func (s *Server) handleOpenAPI(c *gin.Context) error {
	doc, err := s.openapi.get()
	if err != nil {
		return err
	}
	c.Header("Cache-Control", "no-cache")
	c.Data(http.StatusOK, "application/json", doc)
	return nil
}
