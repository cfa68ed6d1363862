package quota

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
)

// Sentinel errors. Every error the Ledger returns wraps one of them.
var (
	// ErrQuotaExceeded: admitting the request would take an ancestor over its hard limit.
	// The error is an *ExceededError with the details.
	ErrQuotaExceeded = errors.New("quota exceeded")
	// ErrUnknownNode: the request names a node (tenant) the ledger does not have.
	ErrUnknownNode = errors.New("unknown quota node")
	// ErrUnknownObject: Commit for a UID that holds no reservation.
	ErrUnknownObject = errors.New("no reservation for object")
	// ErrInvalidTree: SetNodes was given an invalid tree; the error lists the fields.
	ErrInvalidTree = errors.New("invalid quota tree")
	// ErrInvalidRequest: a request without UID or with a negative or oversized amount.
	ErrInvalidRequest = errors.New("invalid quota request")
)

// maxAmount bounds every single amount (2^53: 8 PiB of bytes, 9e12 cores in
// milli-units) so that sums of admitted amounts stay far from overflowing int64.
const maxAmount = 1 << 53

// Node is one node of the quota tree: a tenant, or a space with its own limit under its
// tenant. Hard limits apply to the sum over the node's whole subtree; a resource missing
// from Hard is not limited at this node.
type Node struct {
	Name   string
	Parent string
	Hard   corev1.ResourceList
}

// ExceededError says which node and resource refused a request.
type ExceededError struct {
	Node      string
	Resource  corev1.ResourceName
	Hard      resource.Quantity
	Used      resource.Quantity
	Reserved  resource.Quantity
	Requested resource.Quantity
}

func (e *ExceededError) Error() string {
	return fmt.Sprintf("%s: tenant %q %s: requested %s, used %s, reserved %s, hard %s",
		ErrQuotaExceeded, e.Node, e.Resource, e.Requested.String(), e.Used.String(), e.Reserved.String(), e.Hard.String())
}

// Unwrap makes errors.Is(err, ErrQuotaExceeded) work.
func (e *ExceededError) Unwrap() error { return ErrQuotaExceeded }

// LedgerOptions configure a Ledger. The zero value is usable.
type LedgerOptions struct {
	// ReservationTTL is how long an admitted but not yet committed reservation holds
	// quota before it is released (the object never appeared: a later admission step
	// refused it, or the client gave up). Default 2 minutes.
	ReservationTTL time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Ledger is the reservation ledger behind quota admission. A request is admitted only if,
// for the node and every ancestor, used + reserved + requested <= hard for every
// requested resource; the check and the reservation happen under one lock, so concurrent
// requests can never overshoot. Reservations are keyed by object UID: an object is
// charged once however often it is admitted, committed or released, and releasing it
// frees exactly what it was charged.
//
// A Ledger lives in one process; Reconcile rebuilds its state from the objects that
// exist, so a restart or missed event heals. Several replicas share one SharedLedger. All methods are
// safe for concurrent use.
type Ledger struct {
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	res     map[corev1.ResourceName]int // resource name -> column
	names   []corev1.ResourceName       // column -> resource name
	nodes   map[string]*node
	entries map[types.UID]*entry
	// No uncommitted reservation expires before nextExpiry; anyPending is
	// false when none may exist. They spare expireLocked a walk over every
	// entry on each refusal while nothing can have expired.
	nextExpiry time.Time
	anyPending bool

	admitted, denied atomic.Int64
}

type node struct {
	name      string
	parent    string
	chain     []*node // the node itself, then its ancestors up to the root
	hard      []int64 // per column, -1 = unlimited at this node
	subUsed   []int64 // committed, whole subtree
	subRes    []int64 // reserved, whole subtree
	ownUsed   []int64 // committed, this node only
	ownRes    []int64
	hardInput corev1.ResourceList
}

type entry struct {
	node      *node
	amounts   []amount
	committed bool
	expires   time.Time
}

type amount struct {
	col int
	v   int64
}

// NewLedger returns an empty ledger; give it a tree with SetNodes.
func NewLedger(opts LedgerOptions) *Ledger {
	l := &Ledger{ttl: opts.ReservationTTL, now: opts.Now,
		res: map[corev1.ResourceName]int{}, nodes: map[string]*node{}, entries: map[types.UID]*entry{}}
	if l.ttl <= 0 {
		l.ttl = 2 * time.Minute
	}
	if l.now == nil {
		l.now = time.Now
	}
	return l
}

func (l *Ledger) col(name corev1.ResourceName) int {
	c, ok := l.res[name]
	if !ok {
		c = len(l.names)
		l.res[name] = c
		l.names = append(l.names, name)
		for _, n := range l.nodes {
			n.grow(len(l.names))
		}
	}
	return c
}

func (n *node) grow(cols int) {
	for len(n.hard) < cols {
		n.hard = append(n.hard, -1)
		n.subUsed = append(n.subUsed, 0)
		n.subRes = append(n.subRes, 0)
		n.ownUsed = append(n.ownUsed, 0)
		n.ownRes = append(n.ownRes, 0)
	}
}

// charge adds sign*a to the node's own counters and its whole chain's subtree counters.
func (n *node) charge(a amount, committed bool, sign int64) {
	v := sign * a.v
	if committed {
		n.ownUsed[a.col] += v
		for _, c := range n.chain {
			c.subUsed[a.col] += v
		}
		return
	}
	n.ownRes[a.col] += v
	for _, c := range n.chain {
		c.subRes[a.col] += v
	}
}

func (l *Ledger) amounts(requested corev1.ResourceList) ([]amount, error) {
	out := make([]amount, 0, len(requested))
	for name, q := range requested {
		v, ok := toAmount(name, q)
		if !ok {
			return nil, fmt.Errorf("%w: %s=%s must be between 0 and 2^53 units", ErrInvalidRequest, name, q.String())
		}
		if v == 0 {
			continue
		}
		c := l.col(name)
		out = append(out, amount{col: c, v: v})
	}
	return out, nil
}

// Admit reserves requested for the object uid under node, or refuses with an
// *ExceededError (errors.Is ErrQuotaExceeded) naming the first node and resource that
// would go over. Admitting a UID that is already charged succeeds without charging again
// (an admission retry must not double count). The reservation holds until Commit,
// Release, or ReservationTTL passes.
//
// Admit is what the webhook calls for host objects and what the syncer calls in process
// before it creates a host object for a virtual cluster.
func (l *Ledger) Admit(ctx context.Context, uid types.UID, nodeName string, requested corev1.ResourceList) error {
	if uid == "" {
		return fmt.Errorf("%w: uid is required", ErrInvalidRequest)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	n, ok := l.nodes[nodeName]
	if !ok {
		l.denied.Add(1)
		return fmt.Errorf("%w: %q", ErrUnknownNode, nodeName)
	}
	if _, dup := l.entries[uid]; dup {
		l.admitted.Add(1)
		return nil
	}
	amounts, err := l.amounts(requested)
	if err != nil {
		l.denied.Add(1)
		return err
	}
	exceeded := l.check(n, amounts)
	if exceeded != nil && l.expireLocked() > 0 {
		exceeded = l.check(n, amounts)
	}
	if exceeded != nil {
		l.denied.Add(1)
		if log := ctrl.LoggerFrom(ctx).V(1); log.Enabled() {
			log.Info("quota denied", "uid", uid, "node", nodeName, "reason", exceeded.Error())
		}
		return exceeded
	}
	e := &entry{node: n, amounts: amounts, expires: l.now().Add(l.ttl)}
	l.pending(e)
	for _, a := range amounts {
		n.charge(a, false, 1)
	}
	l.entries[uid] = e
	l.admitted.Add(1)
	return nil
}

func (l *Ledger) check(n *node, amounts []amount) *ExceededError {
	for _, a := range amounts {
		for _, c := range n.chain {
			h := c.hard[a.col]
			if h >= 0 && c.subUsed[a.col]+c.subRes[a.col]+a.v > h {
				name := l.names[a.col]
				return &ExceededError{Node: c.name, Resource: name, Hard: fromAmount(name, h),
					Used: fromAmount(name, c.subUsed[a.col]), Reserved: fromAmount(name, c.subRes[a.col]), Requested: fromAmount(name, a.v)}
			}
		}
	}
	return nil
}

// Check answers whether requested would be admitted under node now, without reserving
// anything (for dry runs). The answer may change before a later Admit.
func (l *Ledger) Check(nodeName string, requested corev1.ResourceList) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	n, ok := l.nodes[nodeName]
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownNode, nodeName)
	}
	amounts, err := l.amounts(requested)
	if err != nil {
		return err
	}
	if ex := l.check(n, amounts); ex != nil {
		return ex
	}
	return nil
}

// Observe records that an object exists: its reservation is committed, or, when it was
// never admitted through this ledger (it predates the ledger, or the ledger restarted),
// it is charged as committed usage without a limit check — it exists, and the limit then
// holds for what comes next. Observing an object again is a no-op.
func (l *Ledger) Observe(o Object) error {
	if o.UID == "" {
		return fmt.Errorf("%w: uid is required", ErrInvalidRequest)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.entries[o.UID]; ok {
		if !e.committed {
			for _, a := range e.amounts {
				e.node.charge(a, false, -1)
				e.node.charge(a, true, 1)
			}
			e.committed = true
		}
		return nil
	}
	n, ok := l.nodes[o.Node]
	if !ok {
		return fmt.Errorf("%w: %q", ErrUnknownNode, o.Node)
	}
	amounts, err := l.amounts(o.Resources)
	if err != nil {
		return err
	}
	for _, a := range amounts {
		n.charge(a, true, 1)
	}
	l.entries[o.UID] = &entry{node: n, amounts: amounts, committed: true}
	return nil
}

// Recharge records that an existing object now uses o.Resources: whatever o.UID held,
// reserved or committed, is replaced by committed usage of exactly that amount under
// o.Node, in one step and without a limit check — the object exists, and an increase
// must have been admitted before it was made (admission.Webhook admits updates of
// claims and Services for their Increase). Unlike Observe it follows changes of an
// object already charged. Recharging with what is already committed changes nothing.
func (l *Ledger) Recharge(o Object) error {
	_, err := l.recharge(o)
	return err
}

func (l *Ledger) recharge(o Object) (changed bool, err error) {
	if o.UID == "" {
		return false, fmt.Errorf("%w: uid is required", ErrInvalidRequest)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	n, ok := l.nodes[o.Node]
	if !ok {
		return false, fmt.Errorf("%w: %q", ErrUnknownNode, o.Node)
	}
	amounts, err := l.amounts(o.Resources)
	if err != nil {
		return false, err
	}
	if e, ok := l.entries[o.UID]; ok {
		if e.committed && e.node == n && sameAmounts(e.amounts, amounts) {
			return false, nil
		}
		l.releaseLocked(o.UID)
	}
	for _, a := range amounts {
		n.charge(a, true, 1)
	}
	l.entries[o.UID] = &entry{node: n, amounts: amounts, committed: true}
	return true, nil
}

func sameAmounts(a, b []amount) bool {
	if len(a) != len(b) {
		return false
	}
	m := make(map[int]int64, len(a))
	for _, x := range a {
		m[x.col] += x.v
	}
	for _, x := range b {
		m[x.col] -= x.v
	}
	for _, v := range m {
		if v != 0 {
			return false
		}
	}
	return true
}

// Commit turns the reservation of uid into usage: the object now exists. Committing an
// already committed UID is a no-op.
func (l *Ledger) Commit(uid types.UID) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.entries[uid]
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownObject, uid)
	}
	if e.committed {
		return nil
	}
	for _, a := range e.amounts {
		e.node.charge(a, false, -1)
		e.node.charge(a, true, 1)
	}
	e.committed = true
	return nil
}

// Release frees what uid holds, reserved or committed, exactly once: the object is gone or
// was never created. It reports whether anything was freed; releasing again frees nothing.
func (l *Ledger) Release(uid types.UID) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.releaseLocked(uid)
}

func (l *Ledger) releaseLocked(uid types.UID) bool {
	e, ok := l.entries[uid]
	if !ok {
		return false
	}
	for _, a := range e.amounts {
		e.node.charge(a, e.committed, -1)
	}
	delete(l.entries, uid)
	return true
}

// Expire releases reservations whose TTL has passed and returns how many. Admit also
// expires lazily before it refuses a request, and Reconcile and SetNodes before they do
// their work.
func (l *Ledger) Expire() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.expireLocked()
}

func (l *Ledger) expireLocked() int {
	now := l.now()
	if !l.anyPending || !now.After(l.nextExpiry) {
		return 0
	}
	n := 0
	l.anyPending, l.nextExpiry = false, time.Time{}
	for uid, e := range l.entries {
		if e.committed {
			continue
		}
		if now.After(e.expires) {
			l.releaseLocked(uid)
			n++
			continue
		}
		l.pending(e)
	}
	return n
}

// pending notes an uncommitted entry's expiry for expireLocked.
func (l *Ledger) pending(e *entry) {
	if e.committed {
		return
	}
	if !l.anyPending || e.expires.Before(l.nextExpiry) {
		l.nextExpiry = e.expires
	}
	l.anyPending = true
}

// Object is an object that exists and what it uses, for Reconcile.
type Object struct {
	UID       types.UID
	Node      string
	Resources corev1.ResourceList
}

// Reconcile makes committed usage equal to what the given objects use — the complete set
// of existing objects — so that any drift (a missed delete, a restart) heals: objects not
// listed stop being charged, listed ones are charged their current amounts, reservations
// of listed objects become committed, and reservations of objects not (yet) listed are
// kept until they expire. Reservations whose TTL has passed are released (so a periodic
// Reconcile is also what expires reservations when no Admit does). Objects under unknown
// nodes are skipped and reported.
func (l *Ledger) Reconcile(objects []Object) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.expireLocked()
	var errs []error
	listed := make(map[types.UID]bool, len(objects))
	fresh := make(map[types.UID]*entry, len(objects))
	for _, o := range objects {
		if o.UID == "" || listed[o.UID] {
			continue
		}
		n, ok := l.nodes[o.Node]
		if !ok {
			errs = append(errs, fmt.Errorf("object %s: %w: %q", o.UID, ErrUnknownNode, o.Node))
			continue
		}
		amounts, err := l.amounts(o.Resources)
		if err != nil {
			errs = append(errs, fmt.Errorf("object %s: %w", o.UID, err))
			continue
		}
		listed[o.UID] = true
		fresh[o.UID] = &entry{node: n, amounts: amounts, committed: true}
	}
	for uid, e := range l.entries {
		if e.committed || listed[uid] {
			l.releaseLocked(uid)
		}
	}
	for uid, e := range fresh {
		for _, a := range e.amounts {
			e.node.charge(a, true, 1)
		}
		l.entries[uid] = e
	}
	return errors.Join(errs...)
}
