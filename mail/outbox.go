package mail

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/parley-video/parley/outbox"
)

// Kind is the outbox kind of e-mail.
const Kind = "mail"

// Payload is an e-mail queued in the outbox (sealed there).
func Payload(env Envelope) ([]byte, error) {
	b, err := json.Marshal(env)
	if err != nil {
		return nil, fmt.Errorf("mail: payload: %w", err)
	}
	return b, nil
}

// OutboxHandler delivers queued e-mail: a refusal by the server (5xx) or
// an unreadable payload gives the message up, anything else is retried.
func (s *Sender) OutboxHandler() outbox.Handler {
	return func(ctx context.Context, m outbox.Message) error {
		var env Envelope
		if err := json.Unmarshal(m.Payload, &env); err != nil || env.To == "" || len(env.Data) == 0 {
			return fmt.Errorf("%w: mail payload unreadable", outbox.ErrPermanent)
		}
		err := s.Send(ctx, env)
		if errors.Is(err, ErrRejected) {
			return fmt.Errorf("%w: %v", outbox.ErrPermanent, err)
		}
		return err
	}
}
