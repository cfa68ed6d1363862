// Package audit records who changed what, when, and with which result:
// every mutating call of the platform API (package api) becomes one Event
// handed to a Sink. Embedders point the API at their own Sink (a SIEM, a
// database); JSONLines, shipped here, writes one JSON object per line to
// any io.Writer (a file, stderr for a log collector).
//
// It is not a log: an Event is written for refused and failed calls too,
// and a Sink error is reported to the API, which logs it.
package audit
