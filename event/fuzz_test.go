package event_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/hookkit/hookkit/event"
)

var parseSeeds = []string{
	validBody,
	`{"event_id":"evt_1","event_type":"invoice.paid","timestamp":"2026-01-02T05:04:05.5+02:00","data":{"a":[1,{"b":null}]},"resource_url":"https://x.example/a","extra":true}`,
	`{"event\u005fid":"evt\u005f1","event_type":"invoice.paid","timestamp":"2026-01-02T03:04:05Z","data":{}}`,
	`{"event_id":"evt_1","event_id":"evt_2"}`,
	`{"event_id":1,"event_type":null,"timestamp":[],"data":"x"}`,
	`{"EVENT_ID":"evt_2","event_id":"evt_1","event_type":"invoice.paid","timestamp":"2026-01-02T03:04:05Z","data":{}}`,
	`[]`, `{}`, ``, `{"data":{`, "{\"data\":\"\xff\"}", `{"event_id":"evt.1"}`,
}

// FuzzParse checks that Parse never panics, that what it accepts is valid,
// agrees with encoding/json, and survives a Marshal/Parse round trip.
func FuzzParse(f *testing.F) {
	for _, s := range parseSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		e, err := event.Parse(raw)
		if err != nil {
			return
		}
		if err := e.Validate(); err != nil {
			t.Fatalf("Parse accepted an invalid event: %v", err)
		}
		if !json.Valid(raw) {
			t.Fatalf("Parse accepted invalid JSON %q", raw)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("encoding/json refuses what Parse accepted: %v", err)
		}
		var id, typ string
		if json.Unmarshal(m["event_id"], &id) != nil || id != e.ID {
			t.Fatalf("event_id: Parse %q, encoding/json %q", e.ID, id)
		}
		if json.Unmarshal(m["event_type"], &typ) != nil || typ != e.Type {
			t.Fatalf("event_type: Parse %q, encoding/json %q", e.Type, typ)
		}
		if string(m["data"]) != string(e.Data) {
			t.Fatalf("data: Parse %q, encoding/json %q", e.Data, m["data"])
		}
		// encoding/json matches struct fields case-insensitively; Parse
		// must never disagree with it about the known fields.
		var std struct {
			ID          string          `json:"event_id"`
			Type        string          `json:"event_type"`
			Timestamp   time.Time       `json:"timestamp"`
			Data        json.RawMessage `json:"data"`
			ResourceURL *string         `json:"resource_url"`
		}
		if err := json.Unmarshal(raw, &std); err != nil {
			t.Fatalf("encoding/json refuses what Parse accepted: %v", err)
		}
		if std.ID != e.ID || std.Type != e.Type || !std.Timestamp.Equal(e.Timestamp) || string(std.Data) != string(e.Data) ||
			(std.ResourceURL != nil && *std.ResourceURL != e.ResourceURL) {
			t.Fatalf("Parse and encoding/json disagree: %+v vs %+v", e, std)
		}
		out, err := e.MarshalJSON()
		if err != nil {
			t.Fatalf("cannot marshal a parsed event: %v", err)
		}
		back, err := event.Parse(out)
		if err != nil {
			t.Fatalf("cannot parse a marshalled event %q: %v", out, err)
		}
		if back.ID != e.ID || back.Type != e.Type || !back.Timestamp.Equal(e.Timestamp) ||
			string(back.Data) != string(e.Data) || back.ResourceURL != e.ResourceURL {
			t.Fatalf("round trip changed the event: %+v -> %+v", e, back)
		}
	})
}

// FuzzFromCloudEvent checks that FromCloudEvent never panics and that what
// it accepts is a valid event that converts back and forth unchanged.
func FuzzFromCloudEvent(f *testing.F) {
	for _, s := range []string{
		`{"specversion":"1.0","id":"evt_1","source":"/billing","type":"invoice.paid","time":"2026-01-02T03:04:05Z","datacontenttype":"application/json","data":{"a":1},"resourceurl":"https://x.example/a"}`,
		`{"specversion":"1.0","id":"evt_1","source":"/billing","type":"invoice.paid","time":"2026-01-02T03:04:05Z","data":{}}`,
		`{"specversion":"0.3","id":"evt_1"}`,
		`{"specversion":"1.0","id":"evt_1","source":"s","type":"invoice.paid","time":"2026-01-02T03:04:05Z","data_base64":"AA=="}`,
		`{"specversion":"1.0","datacontenttype":"text/plain; charset=utf-8"}`,
		`[]`, ``, `{`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		e, err := event.FromCloudEvent(raw)
		if err != nil {
			return
		}
		if err := e.Validate(); err != nil {
			t.Fatalf("FromCloudEvent accepted an invalid event: %v", err)
		}
		ce, err := e.ToCloudEvent("/fuzz")
		if err != nil {
			t.Fatalf("cannot convert back: %v", err)
		}
		back, err := event.FromCloudEvent(ce)
		if err != nil {
			t.Fatalf("cannot read our own CloudEvent %q: %v", ce, err)
		}
		if back.ID != e.ID || back.Type != e.Type || !back.Timestamp.Equal(e.Timestamp) ||
			string(back.Data) != string(e.Data) || back.ResourceURL != e.ResourceURL {
			t.Fatalf("round trip changed the event: %+v -> %+v", e, back)
		}
	})
}
