package audit

import (
	"context"
	"encoding/json"
	"io"
	"sync"
	"time"
)

// Results of a call.
const (
	ResultSuccess = "success"
	// ResultDenied: the caller was not authenticated or not allowed.
	ResultDenied = "denied"
	// ResultInvalid: the request was refused as malformed or invalid.
	ResultInvalid = "invalid"
	// ResultError: the call was allowed and valid but failed.
	ResultError = "error"
)

// Event is one mutating call.
type Event struct {
	// Time the call was received.
	Time time.Time `json:"time"`
	// Actor is who called ("alice", "alice (apikey 0123…)"), or
	// "anonymous" when authentication failed.
	Actor string `json:"actor"`
	// Method is how the actor was authenticated: oidc, apikey or empty.
	Method string `json:"method,omitempty"`
	// Action is what was asked: "virtualcluster.create",
	// "space.delete", "member.set", …; "METHOD path" when the call did not
	// get as far as naming one.
	Action string `json:"action"`
	// Tenant the target belongs to, when known.
	Tenant string `json:"tenant,omitempty"`
	// Target names the object acted on.
	Target string `json:"target,omitempty"`
	// Result is one of the Result constants.
	Result string `json:"result"`
	// Code is the HTTP status answered.
	Code int `json:"code"`
	// Reason is the error message for results other than success.
	Reason string `json:"reason,omitempty"`
	// RemoteAddr of the client connection.
	RemoteAddr string `json:"remoteAddr,omitempty"`
}

// Sink receives events. Record must be safe for concurrent use; an error
// is logged by the caller, the call it describes is not undone.
type Sink interface {
	Record(ctx context.Context, e Event) error
}

// SinkFunc adapts a function to Sink.
type SinkFunc func(ctx context.Context, e Event) error

// Record calls f.
func (f SinkFunc) Record(ctx context.Context, e Event) error { return f(ctx, e) }

// JSONLines writes each event as one line of JSON to W. Safe for
// concurrent use; lines never interleave.
type JSONLines struct {
	mu sync.Mutex
	w  io.Writer
}

var _ Sink = (*JSONLines)(nil)

// NewJSONLines returns a sink writing to w.
func NewJSONLines(w io.Writer) *JSONLines { return &JSONLines{w: w} }

// Record implements Sink.
func (j *JSONLines) Record(_ context.Context, e Event) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	j.mu.Lock()
	defer j.mu.Unlock()
	_, err = j.w.Write(b)
	return err
}
