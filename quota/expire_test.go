package quota

import (
	"context"
	"errors"
	"testing"
	"time"
)

// Refusals skip the walk over every entry while no reservation can have
// expired; the bound must still follow the earliest reservation left,
// including those loaded by ReplaceEntries, or a lapsed one would hold
// quota for good.
func TestExpiryFollowsEarliestReservation(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1000, 0)
	l := testLedger(t, LedgerOptions{ReservationTTL: time.Minute, Now: func() time.Time { return now }})
	if err := l.Admit(ctx, "first", "web", rl("cpu", "2")); err != nil {
		t.Fatal(err)
	}
	now = now.Add(30 * time.Second)
	if err := l.Admit(ctx, "second", "web", rl("cpu", "2")); err != nil {
		t.Fatal(err)
	}
	// 61 s: only "first" has lapsed; the refusal frees it and admits.
	now = now.Add(31 * time.Second)
	if err := l.Admit(ctx, "third", "web", rl("cpu", "2")); err != nil {
		t.Fatalf("after the first lapsed: %v", err)
	}
	if charged, _ := l.Holds("second"); !charged {
		t.Fatal("second expired early")
	}
	if err := l.Admit(ctx, "fourth", "web", rl("cpu", "2")); !errors.Is(err, ErrQuotaExceeded) {
		t.Fatalf("second and third hold web's 4 cpu: %v", err)
	}
	// 91 s: "second" has lapsed too.
	now = now.Add(30 * time.Second)
	if err := l.Admit(ctx, "fourth", "web", rl("cpu", "2")); err != nil {
		t.Fatalf("after the second lapsed: %v", err)
	}

	// A reservation loaded from a store expires as well.
	entries := l.Entries()
	m := testLedger(t, LedgerOptions{ReservationTTL: time.Minute, Now: func() time.Time { return now }})
	if _, err := m.ReplaceEntries(entries); err != nil {
		t.Fatal(err)
	}
	if err := m.Admit(ctx, "fifth", "web", rl("cpu", "2")); !errors.Is(err, ErrQuotaExceeded) {
		t.Fatalf("third and fourth hold web's 4 cpu: %v", err)
	}
	now = now.Add(2 * time.Minute)
	if n := m.Expire(); n != 2 {
		t.Fatalf("expired %d reservations loaded from a store, want 2", n)
	}
}
