package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/uuid"

	"github.com/vclusterkit/vclusterkit/tenancy"
)

// GetSpace implements tenancy.SpaceReader.
func (s *Store) GetSpace(ctx context.Context, name string) (*tenancy.Space, error) {
	sp, err := getOne[tenancy.Space](ctx, s, s.db, `SELECT data FROM spaces WHERE name = ?`, name)
	if err != nil {
		return nil, err
	}
	if sp == nil {
		return nil, tenancy.NotFoundError(tenancy.KindSpace, name)
	}
	return sp, nil
}

// ListSpaces implements tenancy.SpaceReader.
func (s *Store) ListSpaces(ctx context.Context) (*tenancy.SpaceList, error) {
	tx, err := s.db.BeginTx(ctx, s.dialect.readTx)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	var rv uint64
	if err := tx.QueryRowContext(ctx, `SELECT rv FROM meta WHERE id = 1`).Scan(&rv); err != nil {
		return nil, fmt.Errorf("sqlstore: reading the version: %w", err)
	}
	items, err := getMany[tenancy.Space](ctx, s, tx, `SELECT data FROM spaces ORDER BY name`)
	if err != nil {
		return nil, err
	}
	out := &tenancy.SpaceList{
		TypeMeta: metav1.TypeMeta{APIVersion: tenancy.GroupVersion.String(), Kind: "SpaceList"},
		ListMeta: metav1.ListMeta{ResourceVersion: strconv.FormatUint(rv, 10)},
		Items:    make([]tenancy.Space, len(items)),
	}
	for i, sp := range items {
		out.Items[i] = *sp
	}
	return out, nil
}

func (w *wtx) putSpace(sp *tenancy.Space, typ tenancy.EventType) error {
	data, err := json.Marshal(sp)
	if err != nil {
		return fmt.Errorf("sqlstore: encoding space %q: %w", sp.Name, err)
	}
	switch typ {
	case tenancy.EventAdded:
		err = w.exec(`INSERT INTO spaces (name, tenant, rv, data) VALUES (?, ?, ?, ?)`, sp.Name, sp.Spec.Tenant, w.rv, string(data))
	case tenancy.EventModified:
		err = w.exec(`UPDATE spaces SET rv = ?, data = ? WHERE name = ?`, w.rv, string(data), sp.Name)
	case tenancy.EventDeleted:
		err = w.exec(`DELETE FROM spaces WHERE name = ?`, sp.Name)
	}
	if err != nil {
		return fmt.Errorf("sqlstore: writing space %q: %w", sp.Name, err)
	}
	if err := w.logChange(tenancy.KindSpace, typ, sp.Name, data); err != nil {
		return fmt.Errorf("sqlstore: logging space %q: %w", sp.Name, err)
	}
	return nil
}

// CreateSpace implements tenancy.SpaceWriter.
func (s *Store) CreateSpace(ctx context.Context, sp *tenancy.Space) (*tenancy.Space, error) {
	in := sp.DeepCopy()
	err := s.write(ctx, func(w *wtx) error {
		cur, err := getOne[tenancy.Space](ctx, s, w.tx, `SELECT data FROM spaces WHERE name = ?`, in.Name)
		if err != nil {
			return err
		}
		if cur != nil {
			return tenancy.AlreadyExistsError(tenancy.KindSpace, in.Name)
		}
		if err := s.opts.Validator.ValidateSpaceCreate(view{w}, in); err != nil {
			return err
		}
		in.TypeMeta = metav1.TypeMeta{APIVersion: tenancy.GroupVersion.String(), Kind: tenancy.KindSpace}
		in.UID = uuid.NewUUID()
		in.CreationTimestamp = now()
		in.Generation = 1
		in.Status = tenancy.SpaceStatus{}
		in.ResourceVersion = w.next()
		return w.putSpace(in, tenancy.EventAdded)
	})
	if err != nil {
		return nil, err
	}
	return in, nil
}

// UpdateSpace implements tenancy.SpaceWriter.
func (s *Store) UpdateSpace(ctx context.Context, sp *tenancy.Space) (*tenancy.Space, error) {
	return s.updateSpace(ctx, sp, false)
}

// UpdateSpaceStatus implements tenancy.SpaceStatusWriter.
func (s *Store) UpdateSpaceStatus(ctx context.Context, sp *tenancy.Space) (*tenancy.Space, error) {
	return s.updateSpace(ctx, sp, true)
}

func (s *Store) updateSpace(ctx context.Context, sp *tenancy.Space, status bool) (*tenancy.Space, error) {
	in := sp.DeepCopy()
	var next *tenancy.Space
	err := s.write(ctx, func(w *wtx) error {
		cur, err := getOne[tenancy.Space](ctx, s, w.tx, `SELECT data FROM spaces WHERE name = ?`, in.Name)
		if err != nil {
			return err
		}
		if cur == nil {
			return tenancy.NotFoundError(tenancy.KindSpace, in.Name)
		}
		if err := checkVersion(tenancy.KindSpace, in.Name, in.ResourceVersion, cur.ResourceVersion); err != nil {
			return err
		}
		next = cur.DeepCopy()
		if status {
			next.Status = in.Status
		} else {
			next.Labels, next.Annotations, next.Spec = in.Labels, in.Annotations, in.Spec
			if err := s.opts.Validator.ValidateSpaceUpdate(view{w}, cur, next); err != nil {
				return err
			}
			if !equality.Semantic.DeepEqual(cur.Spec, next.Spec) {
				next.Generation++
			}
		}
		next.ResourceVersion = w.next()
		return w.putSpace(next, tenancy.EventModified)
	})
	if err != nil {
		return nil, err
	}
	return next, nil
}

// DeleteSpace implements tenancy.SpaceWriter.
func (s *Store) DeleteSpace(ctx context.Context, name string) error {
	return s.write(ctx, func(w *wtx) error {
		cur, err := getOne[tenancy.Space](ctx, s, w.tx, `SELECT data FROM spaces WHERE name = ?`, name)
		if err != nil {
			return err
		}
		if cur == nil {
			return tenancy.NotFoundError(tenancy.KindSpace, name)
		}
		cur.ResourceVersion = w.next()
		return w.putSpace(cur, tenancy.EventDeleted)
	})
}
