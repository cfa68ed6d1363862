package quota

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/vclusterkit/vclusterkit/tenancy"
)

func rl(kv ...string) corev1.ResourceList {
	out := corev1.ResourceList{}
	for i := 0; i+1 < len(kv); i += 2 {
		out[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return out
}

// tree: acme{cpu 10, count/pods 5} -> web{cpu 4} -> space:web-site{cpu 3}; acme -> data{}.
func testLedger(t testing.TB, opts LedgerOptions) *Ledger {
	t.Helper()
	l := NewLedger(opts)
	err := l.SetNodes([]Node{
		{Name: "acme", Hard: rl("cpu", "10", "count/pods", "5")},
		{Name: "web", Parent: "acme", Hard: rl("cpu", "4")},
		{Name: SpaceNode("web-site"), Parent: "web", Hard: rl("cpu", "3")},
		{Name: "data", Parent: "acme"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func usageOf(t *testing.T, l *Ledger, node string) Usage {
	t.Helper()
	u, err := l.Usage(node)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// cmpRL compares resource lists by value (Quantity has unexported caches).
func cmpRL(t *testing.T, what string, want, got corev1.ResourceList) {
	t.Helper()
	str := func(l corev1.ResourceList) map[string]string {
		m := map[string]string{}
		for k, v := range l {
			m[string(k)] = v.String()
		}
		return m
	}
	if diff := cmp.Diff(str(want), str(got)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", what, diff)
	}
}

func TestAdmitChecksEveryAncestor(t *testing.T) {
	ctx := context.Background()
	l := testLedger(t, LedgerOptions{})
	steps := []struct {
		uid, node, cpu string
		deniedBy       string // "" = admitted
	}{
		{"1", SpaceNode("web-site"), "2", ""},
		{"2", SpaceNode("web-site"), "2", SpaceNode("web-site")}, // 4 > 3 at the space
		{"3", "web", "2", ""},                                    // web: 2 + 2 = 4 <= 4
		{"4", "data", "6", ""},
		{"5", "data", "1", "acme"}, // acme: 2 + 2 + 6 + 1 > 10
	}
	for _, s := range steps {
		err := l.Admit(ctx, types.UID(s.uid), s.node, rl("cpu", s.cpu, "count/pods", "1"))
		var ex *ExceededError
		switch {
		case s.deniedBy == "" && err != nil:
			t.Fatalf("uid %s: unexpected denial: %v", s.uid, err)
		case s.deniedBy != "" && (!errors.As(err, &ex) || !errors.Is(err, ErrQuotaExceeded)):
			t.Fatalf("uid %s: want ExceededError, got %v", s.uid, err)
		case s.deniedBy != "" && ex.Node != s.deniedBy:
			t.Fatalf("uid %s: denied by %s, want %s (%v)", s.uid, ex.Node, s.deniedBy, err)
		}
	}
	cmpRL(t, "acme reserved", rl("cpu", "10", "count/pods", "3"), usageOf(t, l, "acme").Reserved)
	// count/pods: 3 admitted so far, limit 5.
	if err := l.Admit(ctx, "6", "data", rl("count/pods", "1")); err != nil {
		t.Fatal(err)
	}
	if err := l.Admit(ctx, "7", "web", rl("count/pods", "1")); err != nil {
		t.Fatal(err)
	}
	err := l.Admit(ctx, "8", SpaceNode("web-site"), rl("count/pods", "1"))
	if !errors.Is(err, ErrQuotaExceeded) || !strings.Contains(err.Error(), `"acme" count/pods: requested 1, used 0, reserved 5, hard 5`) {
		t.Fatalf("want count/pods denial at acme, got %v", err)
	}
	if err := l.Admit(ctx, "9", "nobody", rl("cpu", "1")); !errors.Is(err, ErrUnknownNode) {
		t.Fatalf("unknown node: %v", err)
	}
	if got := l.Stats(); got != (Stats{Admitted: 5, Denied: 4}) {
		t.Errorf("stats %+v", got)
	}
}

func TestAdmitSameUIDChargesOnce(t *testing.T) {
	ctx := context.Background()
	l := testLedger(t, LedgerOptions{})
	for range 3 {
		if err := l.Admit(ctx, "pod-1", "web", rl("cpu", "3")); err != nil {
			t.Fatal(err)
		}
	}
	cmpRL(t, "web reserved", rl("cpu", "3"), usageOf(t, l, "web").Reserved)
}

// Attack: deleting a bound object twice (a duplicate watch event, a retry, a delete and
// a reconcile) must free its quota once; re-creating it charges the new object.
func TestDeleteBoundObjectTwiceFreesOnce(t *testing.T) {
	ctx := context.Background()
	l := testLedger(t, LedgerOptions{})
	for _, uid := range []types.UID{"a", "b"} {
		if err := l.Admit(ctx, uid, "web", rl("cpu", "2")); err != nil {
			t.Fatal(err)
		}
		if err := l.Commit(uid); err != nil {
			t.Fatal(err)
		}
	}
	if !l.Release("a") {
		t.Fatal("first release freed nothing")
	}
	if l.Release("a") {
		t.Fatal("second release freed again")
	}
	cmpRL(t, "web used", rl("cpu", "2"), usageOf(t, l, "web").Subtree)
	// Re-created under a new UID it is charged again; the limit still holds.
	if err := l.Admit(ctx, "a-2", "web", rl("cpu", "2")); err != nil {
		t.Fatal(err)
	}
	if err := l.Admit(ctx, "c", "web", rl("cpu", "1")); !errors.Is(err, ErrQuotaExceeded) {
		t.Fatalf("limit overshot after delete+recreate: %v", err)
	}
	if err := l.Commit("never-admitted"); !errors.Is(err, ErrUnknownObject) {
		t.Fatalf("commit unknown: %v", err)
	}
}

func TestReservationsExpire(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1000, 0)
	l := testLedger(t, LedgerOptions{ReservationTTL: time.Minute, Now: func() time.Time { return now }})
	if err := l.Admit(ctx, "lost", "web", rl("cpu", "4")); err != nil {
		t.Fatal(err)
	}
	if err := l.Admit(ctx, "kept", "data", rl("cpu", "1")); err != nil {
		t.Fatal(err)
	}
	if err := l.Commit("kept"); err != nil {
		t.Fatal(err)
	}
	if err := l.Admit(ctx, "next", "web", rl("cpu", "1")); !errors.Is(err, ErrQuotaExceeded) {
		t.Fatalf("before expiry: %v", err)
	}
	now = now.Add(2 * time.Minute)
	// Admit expires lazily before refusing.
	if err := l.Admit(ctx, "next", "web", rl("cpu", "1")); err != nil {
		t.Fatalf("after expiry: %v", err)
	}
	if charged, _ := l.Holds("lost"); charged {
		t.Error("expired reservation still held")
	}
	if _, committed := l.Holds("kept"); !committed {
		t.Error("committed usage expired")
	}
}

func TestReconcileHealsDrift(t *testing.T) {
	ctx := context.Background()
	l := testLedger(t, LedgerOptions{})
	for _, uid := range []types.UID{"a", "b", "c"} {
		if err := l.Admit(ctx, uid, "web", rl("cpu", "1")); err != nil {
			t.Fatal(err)
		}
	}
	for _, uid := range []types.UID{"a", "b"} {
		if err := l.Commit(uid); err != nil {
			t.Fatal(err)
		}
	}
	// "a" was deleted but the event was missed; "b" exists; "c" is still being created;
	// "d" was created while the engine was down; "e" names a node that does not exist.
	err := l.Reconcile([]Object{
		{UID: "b", Node: "web", Resources: rl("cpu", "1")},
		{UID: "d", Node: "data", Resources: rl("cpu", "2")},
		{UID: "e", Node: "gone", Resources: rl("cpu", "2")},
	})
	if !errors.Is(err, ErrUnknownNode) {
		t.Errorf("want the unknown node reported, got %v", err)
	}
	cmpRL(t, "acme used", rl("cpu", "3"), usageOf(t, l, "acme").Subtree)
	cmpRL(t, "acme reserved", rl("cpu", "1"), usageOf(t, l, "acme").Reserved)
	cmpRL(t, "web own", rl("cpu", "1"), usageOf(t, l, "web").Own)
	cmpRL(t, "data own", rl("cpu", "2"), usageOf(t, l, "data").Own)
	if charged, _ := l.Holds("a"); charged {
		t.Error("deleted object still charged")
	}
	if !l.Release("c") {
		t.Error("pending reservation lost by reconcile")
	}
}

// Bad input: a child asking more than its parent, cycles, unknown parents, negative
// limits, duplicates — every field named, nothing loaded.
func TestSetNodesRejectsBadTrees(t *testing.T) {
	l := testLedger(t, LedgerOptions{})
	neg := resource.MustParse("-1")
	err := l.SetNodes([]Node{
		{Name: "acme", Hard: rl("cpu", "10", "memory", "1Gi")},
		{Name: "web", Parent: "acme", Hard: rl("cpu", "12")},
		{Name: "web-dev", Parent: "web", Hard: rl("memory", "2Gi")}, // above grandparent acme
		{Name: "x", Parent: "y"},
		{Name: "y", Parent: "x"},
		{Name: "z", Parent: "nobody"},
		{Name: "n", Hard: corev1.ResourceList{"cpu": neg}},
		{Name: "acme"},
		{Name: ""},
	})
	if !errors.Is(err, ErrInvalidTree) {
		t.Fatalf("want ErrInvalidTree, got %v", err)
	}
	for _, want := range []string{
		`nodes[1].hard[cpu]: Invalid value: "12": exceeds the limit 10 of ancestor "acme"`,
		`nodes[2].hard[memory]: Invalid value: "2Gi": exceeds the limit 1Gi of ancestor "acme"`,
		`nodes[3].parent: Invalid value: "y": parent chain forms a cycle`,
		`nodes[5].parent: Not found: "nobody"`,
		`nodes[6].hard[cpu]`,
		`nodes[7].name: Duplicate value: "acme"`,
		`nodes[8].name: Required value`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	// The old tree is still in force.
	if got := l.NodeNames(); !cmp.Equal(got, []string{"acme", "data", "space:web-site", "web"}) {
		t.Errorf("tree changed after a failed SetNodes: %v", got)
	}
	// A node that holds usage cannot be removed.
	if err := l.Observe(Object{UID: "p", Node: "data", Resources: rl("cpu", "1")}); err != nil {
		t.Fatal(err)
	}
	if err := l.SetNodes([]Node{{Name: "acme"}}); !errors.Is(err, ErrInvalidTree) || !strings.Contains(err.Error(), `"data" still holds usage`) {
		t.Errorf("removing a node with usage: %v", err)
	}
}

// Deleting a tenant never waits on charges for creates that never happened: the
// reservations of pods the host then refused (pod security, its own quota) or that a
// client gave up on do not keep the tenant's node in the tree, whether they have lapsed
// (nothing else expires them once the tenant's creates stop) or not; committed usage
// still does, until a Reconcile shows its objects are gone.
func TestRemovedNodeReservationsDoNotBlock(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l := NewLedger(LedgerOptions{Now: func() time.Time { return now }})
	tree := []Node{
		{Name: "org", Hard: rl("count/pods", "10", "count/services", "10")},
		{Name: "web-shop", Parent: "org", Hard: rl("count/pods", "5")},
		{Name: "blog", Parent: "org"},
	}
	if err := l.SetNodes(tree); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 5 {
		if err := l.Admit(ctx, types.UID(fmt.Sprintf("refused-pod-%d", i)), "web-shop", rl("count/pods", "1", "pods", "1")); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		if err := l.Admit(ctx, types.UID(fmt.Sprintf("refused-svc-%d", i)), "web-shop", rl("count/services", "1")); err != nil {
			t.Fatal(err)
		}
	}
	// One pod existed and still does (as far as the ledger knows).
	if err := l.Observe(Object{UID: "running", Node: "web-shop", Resources: rl("count/pods", "1")}); err != nil {
		t.Fatal(err)
	}
	// The TTL passes with no Admit anywhere in the tree.
	now = now.Add(time.Hour)
	without := []Node{tree[0], tree[2]}
	err := l.SetNodes(without)
	if !errors.Is(err, ErrInvalidTree) || !strings.Contains(err.Error(), `"web-shop" still holds usage`) {
		t.Fatalf("removing web-shop with a running pod: %v", err)
	}
	// The running pod is gone: the resync says so.
	if err := l.Reconcile(nil); err != nil {
		t.Fatal(err)
	}
	if err := l.SetNodes(without); err != nil {
		t.Fatalf("removing web-shop once only reservations of creates that never happened are left: %v", err)
	}
	cmpRL(t, "org reserved", corev1.ResourceList{}, usageOf(t, l, "org").Reserved)

	// Reservations that have not lapsed yet do not block a removal either, and are
	// released with the node.
	if err := l.SetNodes(tree); err != nil {
		t.Fatal(err)
	}
	if err := l.Admit(ctx, "in-flight", "web-shop", rl("count/pods", "1")); err != nil {
		t.Fatal(err)
	}
	if err := l.SetNodes(without); err != nil {
		t.Fatalf("removing web-shop with a fresh reservation: %v", err)
	}
	cmpRL(t, "org reserved after the removal", corev1.ResourceList{}, usageOf(t, l, "org").Reserved)
	if charged, _ := l.Holds("in-flight"); charged {
		t.Error("the removed node's reservation is still held")
	}
}

// A periodic Reconcile expires lapsed reservations, so they stop counting against the
// tree even when no Admit is refused (Admit only expires lazily, before a refusal).
func TestReconcileExpiresLapsedReservations(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l := testLedger(t, LedgerOptions{Now: func() time.Time { return now }, ReservationTTL: time.Minute})
	ctx := context.Background()
	if err := l.Admit(ctx, "old", "web", rl("cpu", "1")); err != nil {
		t.Fatal(err)
	}
	now = now.Add(30 * time.Second)
	if err := l.Admit(ctx, "young", "web", rl("cpu", "2")); err != nil {
		t.Fatal(err)
	}
	now = now.Add(45 * time.Second)
	if err := l.Reconcile(nil); err != nil {
		t.Fatal(err)
	}
	cmpRL(t, "web reserved", rl("cpu", "2"), usageOf(t, l, "web").Reserved)
	if charged, _ := l.Holds("old"); charged {
		t.Error("a lapsed reservation survived Reconcile")
	}
}

// Bad input: a quota given in a unit that does not parse.
func TestQuotaUnitThatDoesNotParse(t *testing.T) {
	_, err := ParseResourceList(field.NewPath("spec", "quota"), map[string]string{"cpu": "10 cores", "memory": "1Gb", "pods": "10"})
	if !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("got %v", err)
	}
	for _, want := range []string{`spec.quota[cpu]: Invalid value: "10 cores"`, `spec.quota[memory]: Invalid value: "1Gb"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), "pods") {
		t.Errorf("valid key reported: %v", err)
	}
	// The same quota in a Tenant manifest is refused when decoding, before any ledger.
	var tn tenancy.Tenant
	err = json.Unmarshal([]byte(`{"spec":{"quota":{"cpu":"10 cores"}}}`), &tn)
	if err == nil {
		t.Fatal("a Tenant with an unparsable quota decoded")
	}
	if _, err := ParseResourceList(field.NewPath("q"), map[string]string{"cpu": "-2"}); err == nil || !strings.Contains(err.Error(), "q[cpu]") {
		t.Errorf("negative quantity: %v", err)
	}
}

func TestConcurrentAdmitNeverOvershoots(t *testing.T) {
	l := NewLedger(LedgerOptions{})
	if err := l.SetNodes([]Node{
		{Name: "org", Hard: rl("count/pods", "50", "cpu", "100")},
		{Name: "a", Parent: "org"}, {Name: "b", Parent: "org"},
		{Name: "c", Parent: "org", Hard: rl("count/pods", "30")}, {Name: "d", Parent: "c"},
	}); err != nil {
		t.Fatal(err)
	}
	var ok atomic.Int64
	var wg sync.WaitGroup
	nodes := []string{"a", "b", "c", "d"}
	for i := range 1000 {
		wg.Go(func() {
			err := l.Admit(context.Background(), types.UID(fmt.Sprint(i)), nodes[i%4], rl("count/pods", "1", "cpu", "100m"))
			if err == nil {
				ok.Add(1)
			} else if !errors.Is(err, ErrQuotaExceeded) {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 50 {
		t.Fatalf("admitted %d, want exactly 50", ok.Load())
	}
	cmpRL(t, "org reserved", rl("count/pods", "50", "cpu", "5"), usageOf(t, l, "org").Reserved)
}

func TestEffectiveLimits(t *testing.T) {
	l := testLedger(t, LedgerOptions{})
	got, err := l.EffectiveLimits(SpaceNode("web-site"))
	if err != nil {
		t.Fatal(err)
	}
	cmpRL(t, "space limits", rl("cpu", "3", "count/pods", "5"), got)
	got, _ = l.EffectiveLimits("data")
	cmpRL(t, "data limits", rl("cpu", "10", "count/pods", "5"), got)
}

func TestCheckAndObserve(t *testing.T) {
	ctx := context.Background()
	l := testLedger(t, LedgerOptions{})
	if err := l.Check("web", rl("cpu", "5")); !errors.Is(err, ErrQuotaExceeded) {
		t.Errorf("check over the limit: %v", err)
	}
	if err := l.Check("web", rl("cpu", "4")); err != nil {
		t.Errorf("check within the limit: %v", err)
	}
	if u := usageOf(t, l, "web"); len(u.Reserved) != 0 {
		t.Errorf("check reserved: %v", u.Reserved)
	}
	// An admitted pod is observed: committed once, however often observed.
	if err := l.Admit(ctx, "a", "web", rl("cpu", "1")); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := l.Observe(Object{UID: "a", Node: "web", Resources: rl("cpu", "1")}); err != nil {
			t.Fatal(err)
		}
	}
	// A pod that predates the ledger is charged even over the limit: it exists.
	if err := l.Observe(Object{UID: "old", Node: "web", Resources: rl("cpu", "4")}); err != nil {
		t.Fatal(err)
	}
	cmpRL(t, "web used", rl("cpu", "5"), usageOf(t, l, "web").Subtree)
	if err := l.Admit(ctx, "b", "web", rl("cpu", "100m")); !errors.Is(err, ErrQuotaExceeded) {
		t.Errorf("admitted while over the limit: %v", err)
	}
	if err := l.Observe(Object{UID: "x", Node: "nobody"}); !errors.Is(err, ErrUnknownNode) {
		t.Errorf("observe unknown node: %v", err)
	}
}
