package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/uuid"

	"github.com/vclusterkit/vclusterkit/tenancy"
)

// object is what the shared code needs of *tenancy.Tenant and
// *tenancy.Space: their metadata, and a typed deep copy.
type object[T any] interface {
	*T
	metav1.Object
	runtime.Object
	DeepCopy() *T
}

// kind is what tenants and spaces do differently: where they are stored
// and how they are checked. Its methods read and write both the same way.
type kind[T any, P object[T]] struct {
	name           string // tenancy.KindTenant or tenancy.KindSpace
	sql            queries
	owner          func(P) string // the value of the owner column
	validateCreate func(tenancy.Validator, tenancy.View, P) error
	validateUpdate func(tenancy.Validator, tenancy.View, P, P) error
	// setSpec copies src's spec to dst and reports whether it changed
	// (see replace).
	setSpec func(dst, src P) bool
	// setStatus copies src's status to dst.
	setStatus func(dst, src P)
}

// queries read and write the table of one kind.
type queries struct {
	get, list, owned, insert, update, delete string
}

// tableQueries are the queries of a table with columns name, ownerColumn,
// rv and data (the object's JSON). ownerColumn indexes the objects by the
// tenant they hang under in the tree (a tenant's parent, a space's tenant).
func tableQueries(table, ownerColumn string) queries {
	return queries{
		get:    `SELECT data FROM ` + table + ` WHERE name = ?`,
		list:   `SELECT data FROM ` + table + ` ORDER BY name`,
		owned:  `SELECT data FROM ` + table + ` WHERE ` + ownerColumn + ` = ? ORDER BY name`,
		insert: `INSERT INTO ` + table + ` (name, ` + ownerColumn + `, rv, data) VALUES (?, ?, ?, ?)`,
		update: `UPDATE ` + table + ` SET ` + ownerColumn + ` = ?, rv = ?, data = ? WHERE name = ?`,
		delete: `DELETE FROM ` + table + ` WHERE name = ?`,
	}
}

// replace sets *dst to src and reports whether that changed it, in the
// sense of equality.Semantic (so a quantity written differently is equal).
func replace[S any](dst *S, src S) bool {
	changed := !equality.Semantic.DeepEqual(*dst, src)
	*dst = src
	return changed
}

// noun names the kind in messages about storage failures.
func (k kind[T, P]) noun() string { return strings.ToLower(k.name) }

// get reads one object outside a transaction.
func (k kind[T, P]) get(ctx context.Context, s *Store, name string) (P, error) {
	o, err := getOne[T](ctx, s, s.db, k.sql.get, name)
	if err != nil {
		return nil, err
	}
	if o == nil {
		return nil, tenancy.NotFoundError(k.name, name)
	}
	return o, nil
}

// list reads every object, sorted by name, and the version they are at,
// from one consistent snapshot.
func (k kind[T, P]) list(ctx context.Context, s *Store) ([]T, string, error) {
	tx, err := s.db.BeginTx(ctx, s.dialect.readTx)
	if err != nil {
		return nil, "", fmt.Errorf("sqlstore: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	var rv uint64
	if err := tx.QueryRowContext(ctx, `SELECT rv FROM meta WHERE id = 1`).Scan(&rv); err != nil {
		return nil, "", fmt.Errorf("sqlstore: reading the version: %w", err)
	}
	objs, err := getMany[T](ctx, s, tx, k.sql.list)
	if err != nil {
		return nil, "", err
	}
	items := make([]T, len(objs))
	for i, o := range objs {
		items[i] = *o
	}
	return items, strconv.FormatUint(rv, 10), nil
}

// lookup reads one object in a write transaction; nil if there is none.
func (k kind[T, P]) lookup(w *wtx, name string) (P, error) {
	return getOne[T](w.ctx, w.s, w.tx, k.sql.get, name)
}

// owned reads the objects under owner in a write transaction, sorted by
// name.
func (k kind[T, P]) owned(w *wtx, owner string) ([]*T, error) {
	return getMany[T](w.ctx, w.s, w.tx, k.sql.owned, owner)
}

// put writes the object's row as the event says and logs the change.
func (k kind[T, P]) put(w *wtx, o P, typ tenancy.EventType) error {
	name := o.GetName()
	data, err := json.Marshal(o)
	if err != nil {
		return fmt.Errorf("sqlstore: encoding %s %q: %w", k.noun(), name, err)
	}
	switch typ {
	case tenancy.EventAdded:
		err = w.exec(k.sql.insert, name, k.owner(o), w.rv, string(data))
	case tenancy.EventModified:
		err = w.exec(k.sql.update, k.owner(o), w.rv, string(data), name)
	case tenancy.EventDeleted:
		err = w.exec(k.sql.delete, name)
	}
	if err != nil {
		return fmt.Errorf("sqlstore: writing %s %q: %w", k.noun(), name, err)
	}
	if err := w.logChange(k.name, typ, name, data); err != nil {
		return fmt.Errorf("sqlstore: logging %s %q: %w", k.noun(), name, err)
	}
	return nil
}

func (k kind[T, P]) create(ctx context.Context, s *Store, obj P) (P, error) {
	in := P(obj.DeepCopy())
	err := s.write(ctx, func(w *wtx) error {
		cur, err := k.lookup(w, in.GetName())
		if err != nil {
			return err
		}
		if cur != nil {
			return tenancy.AlreadyExistsError(k.name, in.GetName())
		}
		if err := k.validateCreate(s.opts.Validator, view{w}, in); err != nil {
			return err
		}
		in.GetObjectKind().SetGroupVersionKind(tenancy.GroupVersion.WithKind(k.name))
		in.SetUID(uuid.NewUUID())
		in.SetCreationTimestamp(now())
		in.SetGeneration(1)
		k.setStatus(in, P(new(T))) // a new object has no status
		in.SetResourceVersion(w.next())
		return k.put(w, in, tenancy.EventAdded)
	})
	if err != nil {
		return nil, err
	}
	return in, nil
}

// update replaces the labels, annotations and spec of the object, or with
// status its status only.
func (k kind[T, P]) update(ctx context.Context, s *Store, obj P, status bool) (P, error) {
	in := P(obj.DeepCopy())
	var next P
	err := s.write(ctx, func(w *wtx) error {
		cur, err := k.lookup(w, in.GetName())
		if err != nil {
			return err
		}
		if cur == nil {
			return tenancy.NotFoundError(k.name, in.GetName())
		}
		if err := checkVersion(k.name, in.GetName(), in.GetResourceVersion(), cur.GetResourceVersion()); err != nil {
			return err
		}
		next = cur.DeepCopy()
		if status {
			k.setStatus(next, in)
		} else {
			next.SetLabels(in.GetLabels())
			next.SetAnnotations(in.GetAnnotations())
			changed := k.setSpec(next, in)
			if err := k.validateUpdate(s.opts.Validator, view{w}, cur, next); err != nil {
				return err
			}
			if changed {
				next.SetGeneration(next.GetGeneration() + 1)
			}
		}
		next.SetResourceVersion(w.next())
		return k.put(w, next, tenancy.EventModified)
	})
	if err != nil {
		return nil, err
	}
	return next, nil
}

// remove deletes the object in a write transaction.
func (k kind[T, P]) remove(w *wtx, name string) error {
	cur, err := k.lookup(w, name)
	if err != nil {
		return err
	}
	if cur == nil {
		return tenancy.NotFoundError(k.name, name)
	}
	cur.SetResourceVersion(w.next())
	return k.put(w, cur, tenancy.EventDeleted)
}
