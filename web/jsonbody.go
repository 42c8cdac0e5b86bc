package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
)

// decodeJSON reads the request body (limited by limitBody) into v: one JSON
// object, Content-Type application/json, no unknown fields. With optional
// set, an empty body leaves v as it is.
func decodeJSON(c *gin.Context, v any, optional bool) error {
	r := c.Request
	if r.Body == nil || r.Body == http.NoBody {
		if optional {
			return nil
		}
		return errBadRequest("request body is empty; expected a JSON object")
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return errBadRequest("Content-Type must be application/json")
		}
	} else if !optional {
		return errBadRequest("Content-Type must be application/json")
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) && optional {
			return nil
		}
		return jsonError(err)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return errBadRequest("request body must be a single JSON object")
	}
	return nil
}

// jsonError explains a decoding error without echoing the input.
func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return err
	case errors.Is(err, io.EOF):
		return errBadRequest("request body is empty; expected a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errBadRequest("malformed JSON: unexpected end of input")
	case errors.As(err, &syn):
		return errBadRequest(fmt.Sprintf("malformed JSON at byte %d", syn.Offset))
	case errors.As(err, &typ):
		if typ.Field != "" {
			return errBadRequest(fmt.Sprintf("field %q must be of type %s", typ.Field, typ.Type))
		}
		return errBadRequest("request body must be a JSON object")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return errBadRequest("unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	return errBadRequest("malformed JSON")
}
