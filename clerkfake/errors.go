package clerkfake

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// clerkError is one entry of the errors array of Clerk's error body.
type clerkError struct {
	Message     string         `json:"message"`
	LongMessage string         `json:"long_message"`
	Code        string         `json:"code"`
	Meta        map[string]any `json:"meta"`
}

// errorBody is Clerk's error body (the ClerkErrors schema).
type errorBody struct {
	Errors       []clerkError `json:"errors"`
	ClerkTraceID string       `json:"clerk_trace_id"`
}

// writeError answers status with Clerk's error body holding e.
func writeError(w http.ResponseWriter, status int, e clerkError) {
	if e.Meta == nil {
		e.Meta = map[string]any{}
	}
	body, _ := json.Marshal(errorBody{Errors: []clerkError{e}, ClerkTraceID: traceID()})
	writeJSON(w, status, body)
}

// paramError returns the error Clerk gives for a bad request parameter.
func paramError(code, param, message, long string) clerkError {
	return clerkError{Code: code, Message: message, LongMessage: long, Meta: map[string]any{"param_name": param}}
}

// writeJSON answers status with body.
func writeJSON(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
