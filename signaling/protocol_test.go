package signaling

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/parley-video/parley/sfu"
	"github.com/pion/webrtc/v4"
)

func ptr[T any](v T) *T { return &v }

func TestDecodeClientMessageValid(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want ClientMessage
	}{
		{"offer", `{"type":"offer","sdp":"v=0"}`, ClientMessage{Type: TypeOffer, SDP: "v=0"}},
		{"offer with numeric id", `{"type":"offer","sdp":"v=0","id":7}`, ClientMessage{Type: TypeOffer, SDP: "v=0", ID: json.RawMessage(`7`)}},
		{"offer with string id", `{"id":"a1","type":"offer","sdp":"v=0"}`, ClientMessage{Type: TypeOffer, SDP: "v=0", ID: json.RawMessage(`"a1"`)}},
		{"null id", `{"type":"ping","id":null}`, ClientMessage{Type: TypePing}},
		{"max sdp", `{"type":"answer","sdp":"` + strings.Repeat("a", MaxSDPBytes) + `"}`, ClientMessage{Type: TypeAnswer, SDP: strings.Repeat("a", MaxSDPBytes)}},
		{"answer", `{"type":"answer","sdp":"v=0\r\n"}`, ClientMessage{Type: TypeAnswer, SDP: "v=0\r\n"}},
		{"candidate publish", `{"type":"candidate","target":"publish","candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 5000 typ host","sdpMid":"0","sdpMLineIndex":0}}`,
			ClientMessage{Type: TypeCandidate, Target: sfu.Publish, Candidate: &webrtc.ICECandidateInit{Candidate: "candidate:1 1 udp 1 127.0.0.1 5000 typ host", SDPMid: ptr("0"), SDPMLineIndex: ptr(uint16(0))}}},
		{"candidate subscribe end-of-candidates", `{"type":"candidate","target":"subscribe","candidate":{"candidate":"","usernameFragment":null}}`,
			ClientMessage{Type: TypeCandidate, Target: sfu.Subscribe, Candidate: &webrtc.ICECandidateInit{}}},
		{"media", `{"type":"media","audio":true,"video":false,"screen":true,"tracks":{"t1":"audio","t2":"screen","t3":"camera"}}`,
			ClientMessage{Type: TypeMedia, Audio: true, Screen: true, Tracks: map[string]TrackSource{"t1": SourceAudio, "t2": SourceScreen, "t3": SourceCamera}}},
		{"media empty", `{"type":"media","tracks":{}}`, ClientMessage{Type: TypeMedia}},
		{"media unencrypted", `{"type":"media","e2ee":false}`, ClientMessage{Type: TypeMedia, E2EE: ptr(false)}},
		{"media encrypted", `{"type":"media","e2ee":true}`, ClientMessage{Type: TypeMedia, E2EE: ptr(true)}},
		{"media 8 tracks", `{"type":"media","tracks":{"1":"audio","2":"audio","3":"audio","4":"audio","5":"audio","6":"audio","7":"audio","8":"audio"}}`,
			ClientMessage{Type: TypeMedia, Tracks: map[string]TrackSource{"1": "audio", "2": "audio", "3": "audio", "4": "audio", "5": "audio", "6": "audio", "7": "audio", "8": "audio"}}},
		{"admit", `{"type":"admit","participant":"p_1"}`, ClientMessage{Type: TypeAdmit, Participant: "p_1"}},
		{"reject 64 chars", `{"type":"reject","participant":"` + strings.Repeat("ü", 64) + `"}`, ClientMessage{Type: TypeReject, Participant: ParticipantID(strings.Repeat("ü", 64))}},
		{"leave", `{"type":"leave"}`, ClientMessage{Type: TypeLeave}},
		{"ping with unknown fields", `{"type":"ping","future":{"x":[1,2]},"sdp":5}`, ClientMessage{Type: TypePing}},
		{"whitespace", " \n{ \"type\" : \"ping\" }\n", ClientMessage{Type: TypePing}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, perr := DecodeClientMessage([]byte(tt.in))
			if perr != nil {
				t.Fatalf("error %v", perr)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestDecodeClientMessageInvalid(t *testing.T) {
	tests := []struct {
		name string
		in   string
		code string
		ref  string
	}{
		{"empty", ``, CodeBadMessage, ""},
		{"not json", `hello`, CodeBadMessage, ""},
		{"array", `[{"type":"ping"}]`, CodeBadMessage, ""},
		{"string", `"ping"`, CodeBadMessage, ""},
		{"null", `null`, CodeBadMessage, ""},
		{"trailing garbage", `{"type":"ping"}x`, CodeBadMessage, ""},
		{"two objects", `{"type":"ping"}{"type":"ping"}`, CodeBadMessage, ""},
		{"missing type", `{"id":1}`, CodeBadMessage, "1"},
		{"numeric type", `{"type":1}`, CodeBadMessage, ""},
		{"null type", `{"type":null}`, CodeBadMessage, ""},
		{"unknown type", `{"type":"dance","id":"x"}`, CodeUnknownType, `"x"`},
		{"type case matters", `{"type":"PING"}`, CodeUnknownType, ""},
		{"object id", `{"type":"ping","id":{}}`, CodeBadMessage, ""},
		{"bool id", `{"type":"ping","id":true}`, CodeBadMessage, ""},
		{"long id", `{"type":"ping","id":"` + strings.Repeat("x", 65) + `"}`, CodeTooLarge, ""},
		{"offer without sdp", `{"type":"offer","id":3}`, CodeBadMessage, "3"},
		{"offer empty sdp", `{"type":"offer","sdp":""}`, CodeBadMessage, ""},
		{"offer numeric sdp", `{"type":"offer","sdp":1}`, CodeBadMessage, ""},
		{"offer sdp too large", `{"type":"offer","sdp":"` + strings.Repeat("a", MaxSDPBytes+1) + `"}`, CodeTooLarge, ""},
		{"answer sdp object", `{"type":"answer","sdp":{}}`, CodeBadMessage, ""},
		{"candidate no target", `{"type":"candidate","candidate":{"candidate":""}}`, CodeBadMessage, ""},
		{"candidate bad target", `{"type":"candidate","target":"both","candidate":{"candidate":""}}`, CodeBadMessage, ""},
		{"candidate numeric target", `{"type":"candidate","target":1,"candidate":{"candidate":""}}`, CodeBadMessage, ""},
		{"candidate missing", `{"type":"candidate","target":"publish"}`, CodeBadMessage, ""},
		{"candidate string", `{"type":"candidate","target":"publish","candidate":"candidate:1"}`, CodeBadMessage, ""},
		{"candidate without candidate", `{"type":"candidate","target":"publish","candidate":{"sdpMid":"0"}}`, CodeBadMessage, ""},
		{"candidate bad mline", `{"type":"candidate","target":"publish","candidate":{"candidate":"","sdpMLineIndex":-1}}`, CodeBadMessage, ""},
		{"candidate mline overflow", `{"type":"candidate","target":"publish","candidate":{"candidate":"","sdpMLineIndex":70000}}`, CodeBadMessage, ""},
		{"candidate numeric mid", `{"type":"candidate","target":"publish","candidate":{"candidate":"","sdpMid":0}}`, CodeBadMessage, ""},
		{"candidate too large", `{"type":"candidate","target":"publish","candidate":{"candidate":"` + strings.Repeat("c", MaxCandidateBytes+1) + `"}}`, CodeTooLarge, ""},
		{"media string audio", `{"type":"media","audio":"yes"}`, CodeBadMessage, ""},
		{"media numeric video", `{"type":"media","video":1}`, CodeBadMessage, ""},
		{"media screen string", `{"type":"media","screen":"false"}`, CodeBadMessage, ""},
		{"media e2ee string", `{"type":"media","e2ee":"no"}`, CodeBadMessage, ""},
		{"media tracks array", `{"type":"media","tracks":["a"]}`, CodeBadMessage, ""},
		{"media bad source", `{"type":"media","tracks":{"t":"microphone"}}`, CodeBadMessage, ""},
		{"media numeric source", `{"type":"media","tracks":{"t":1}}`, CodeBadMessage, ""},
		{"media empty track id", `{"type":"media","tracks":{"":"audio"}}`, CodeBadMessage, ""},
		{"media long track id", `{"type":"media","tracks":{"` + strings.Repeat("t", 65) + `":"audio"}}`, CodeTooLarge, ""},
		{"media 9 tracks", `{"type":"media","tracks":{"1":"audio","2":"audio","3":"audio","4":"audio","5":"audio","6":"audio","7":"audio","8":"audio","9":"audio"}}`, CodeTooLarge, ""},
		{"admit without participant", `{"type":"admit"}`, CodeBadMessage, ""},
		{"admit numeric participant", `{"type":"admit","participant":5}`, CodeBadMessage, ""},
		{"reject long participant", `{"type":"reject","participant":"` + strings.Repeat("p", 65) + `"}`, CodeTooLarge, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, perr := DecodeClientMessage([]byte(tt.in))
			if perr == nil {
				t.Fatalf("accepted: %+v", got)
			}
			if perr.Code != tt.code {
				t.Fatalf("code %q (%s), want %q", perr.Code, perr.Message, tt.code)
			}
			if string(perr.Ref) != tt.ref {
				t.Fatalf("ref %q, want %q", perr.Ref, tt.ref)
			}
			if perr.Message == "" {
				t.Fatal("empty message")
			}
		})
	}
}

// The error message must never quote the client's content.
func TestDecodeErrorsDoNotQuoteContent(t *testing.T) {
	const secret = "Erika-Mustermann-192.0.2.7"
	for _, in := range []string{
		`{"type":"` + secret + `"}`,
		`{"type":"media","tracks":{"t":"` + secret + `"}}`,
		`{"type":"candidate","target":"` + secret + `","candidate":{"candidate":""}}`,
		`{"type":"offer","sdp":["` + secret + `"]}`,
		secret,
	} {
		_, perr := DecodeClientMessage([]byte(in))
		if perr == nil {
			t.Fatalf("accepted %s", in)
		}
		if strings.Contains(perr.Message, "Erika") || strings.Contains(perr.Error(), "192.0.2.7") {
			t.Fatalf("error quotes content: %q", perr.Message)
		}
	}
}

func FuzzDecodeClientMessage(f *testing.F) {
	for _, s := range []string{
		`{"type":"offer","sdp":"v=0","id":1}`,
		`{"type":"candidate","target":"publish","candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 5000 typ host","sdpMid":"0","sdpMLineIndex":0}}`,
		`{"type":"media","audio":true,"tracks":{"a":"camera"}}`,
		`{"type":"admit","participant":"p_1","id":"x"}`,
		`[]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, perr := DecodeClientMessage(data)
		if perr != nil {
			if perr.Code == "" || perr.Message == "" {
				t.Fatalf("incomplete error %+v", perr)
			}
			if perr.Ref != nil && !json.Valid(perr.Ref) {
				t.Fatalf("ref is not JSON: %q", perr.Ref)
			}
			if m.Type != "" {
				t.Fatalf("error with a message: %+v", m)
			}
			return
		}
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatalf("re-encode %+v: %v", m, err)
		}
		m2, perr := DecodeClientMessage(b)
		if perr != nil {
			t.Fatalf("re-encoded %s rejected: %v", b, perr)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("round trip changed the message:\n%+v\n%+v", m, m2)
		}
		if len(m.SDP) > MaxSDPBytes || len(m.Tracks) > MaxTracks || (m.Candidate != nil && len(m.Candidate.Candidate) > MaxCandidateBytes) {
			t.Fatalf("limits not enforced: %s", fmt.Sprint(len(m.SDP), len(m.Tracks)))
		}
	})
}
