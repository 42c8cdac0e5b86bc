package web

import (
	"net/mail"
	"strconv"
	"strings"

	"github.com/parley-video/parley/config"
	"github.com/parley-video/parley/records"
)

// maxAnswer bounds one answer's length (characters).
const maxAnswer = 500

func questionsOrEmpty(qs []config.Question) []config.Question {
	if qs == nil {
		return []config.Question{}
	}
	return qs
}

// checkAnswers validates answers against the configured questions: no
// unknown ids, required ones present, each of the right form (an e-mail
// address, a choice's option index "0".."n-1", a rating "1".."5"). Empty
// optional answers are dropped. It returns the answers to store.
func checkAnswers(qs []config.Question, in map[string]string) (map[string]string, error) {
	known := make(map[string]config.Question, len(qs))
	for _, q := range qs {
		known[q.ID] = q
	}
	for id := range in {
		if _, ok := known[id]; !ok {
			return nil, errBadRequest("answers: no question " + strconv.Quote(id))
		}
	}
	out := map[string]string{}
	for _, q := range qs {
		v, err := records.CleanText("answers."+q.ID, in[q.ID], maxAnswer)
		if err != nil {
			return nil, err
		}
		v = strings.TrimSpace(v)
		if v == "" {
			if q.Required {
				return nil, errBadRequest("answers." + q.ID + ": an answer is required")
			}
			continue
		}
		switch q.Type {
		case "email":
			if a, err := mail.ParseAddress(v); err != nil || a.Address != v || !strings.Contains(v, "@") {
				return nil, errBadRequest("answers." + q.ID + ": not an e-mail address")
			}
		case "rating":
			if n, err := strconv.Atoi(v); err != nil || n < 1 || n > 5 {
				return nil, errBadRequest("answers." + q.ID + ": a rating is 1 to 5")
			}
		case "choice":
			if n, err := strconv.Atoi(v); err != nil || n < 0 || n >= len(q.Options) {
				return nil, errBadRequest("answers." + q.ID + ": not one of the options")
			}
		}
		out[q.ID] = v
	}
	return out, nil
}
