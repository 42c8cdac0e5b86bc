package consultation

import (
	"errors"
	"testing"
)

func TestNext(t *testing.T) {
	tests := []struct {
		from  State
		ev    Event
		to    State
		ended bool // refused with ErrEnded (and ErrIllegal)
		bad   bool // refused with ErrIllegal
	}{
		{from: StateCreated, ev: EventConnect, to: StateLive},
		{from: StateCreated, ev: EventJoin, to: StateLive},
		{from: StateCreated, ev: EventEnd, to: StateEnded},
		{from: StateCreated, ev: EventExpire, to: StateExpired},
		{from: StateLive, ev: EventConnect, to: StateLive},
		{from: StateLive, ev: EventJoin, to: StateLive},
		{from: StateLive, ev: EventEnd, to: StateEnded},
		{from: StateLive, ev: EventExpire, to: StateExpired},
		{from: StateEnded, ev: EventEnd, to: StateEnded},
		{from: StateEnded, ev: EventExpire, to: StateEnded},
		{from: StateEnded, ev: EventConnect, to: StateEnded, ended: true},
		{from: StateEnded, ev: EventJoin, to: StateEnded, ended: true},
		{from: StateExpired, ev: EventExpire, to: StateExpired},
		{from: StateExpired, ev: EventEnd, to: StateExpired},
		{from: StateExpired, ev: EventConnect, to: StateExpired, ended: true},
		{from: StateExpired, ev: EventJoin, to: StateExpired, ended: true},
		{from: StateLive, ev: "admit", to: StateLive, bad: true},
		{from: "", ev: EventConnect, to: "", bad: true},
		{from: "open", ev: EventEnd, to: "open", bad: true},
	}
	for _, tt := range tests {
		t.Run(string(tt.from)+"/"+string(tt.ev), func(t *testing.T) {
			got, err := Next(tt.from, tt.ev)
			if got != tt.to {
				t.Errorf("state %q; want %q", got, tt.to)
			}
			switch {
			case tt.ended:
				if !errors.Is(err, ErrEnded) || !errors.Is(err, ErrIllegal) {
					t.Errorf("err %v; want ErrEnded and ErrIllegal", err)
				}
			case tt.bad:
				if !errors.Is(err, ErrIllegal) || errors.Is(err, ErrEnded) {
					t.Errorf("err %v; want ErrIllegal only", err)
				}
			case err != nil:
				t.Errorf("err %v; want none", err)
			}
		})
	}
}

func TestFinal(t *testing.T) {
	for s, want := range map[State]bool{StateCreated: false, StateLive: false, StateEnded: true, StateExpired: true} {
		if s.Final() != want {
			t.Errorf("%s.Final() = %v", s, !want)
		}
	}
}
