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

func tenantTypeMeta() metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: tenancy.GroupVersion.String(), Kind: tenancy.KindTenant}
}

// GetTenant implements tenancy.TenantReader.
func (s *Store) GetTenant(ctx context.Context, name string) (*tenancy.Tenant, error) {
	t, err := getOne[tenancy.Tenant](ctx, s, s.db, `SELECT data FROM tenants WHERE name = ?`, name)
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, tenancy.NotFoundError(tenancy.KindTenant, name)
	}
	return t, nil
}

// ListTenants implements tenancy.TenantReader. The list and its version
// come from one consistent snapshot.
func (s *Store) ListTenants(ctx context.Context) (*tenancy.TenantList, error) {
	tx, err := s.db.BeginTx(ctx, s.dialect.readTx)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	var rv uint64
	if err := tx.QueryRowContext(ctx, `SELECT rv FROM meta WHERE id = 1`).Scan(&rv); err != nil {
		return nil, fmt.Errorf("sqlstore: reading the version: %w", err)
	}
	items, err := getMany[tenancy.Tenant](ctx, s, tx, `SELECT data FROM tenants ORDER BY name`)
	if err != nil {
		return nil, err
	}
	out := &tenancy.TenantList{
		TypeMeta: metav1.TypeMeta{APIVersion: tenancy.GroupVersion.String(), Kind: "TenantList"},
		ListMeta: metav1.ListMeta{ResourceVersion: strconv.FormatUint(rv, 10)},
		Items:    make([]tenancy.Tenant, len(items)),
	}
	for i, t := range items {
		out.Items[i] = *t
	}
	return out, nil
}

func (w *wtx) putTenant(t *tenancy.Tenant, typ tenancy.EventType) error {
	data, err := json.Marshal(t)
	if err != nil {
		return fmt.Errorf("sqlstore: encoding tenant %q: %w", t.Name, err)
	}
	switch typ {
	case tenancy.EventAdded:
		err = w.exec(`INSERT INTO tenants (name, parent, rv, data) VALUES (?, ?, ?, ?)`, t.Name, t.Spec.Parent, w.rv, string(data))
	case tenancy.EventModified:
		err = w.exec(`UPDATE tenants SET parent = ?, rv = ?, data = ? WHERE name = ?`, t.Spec.Parent, w.rv, string(data), t.Name)
	case tenancy.EventDeleted:
		err = w.exec(`DELETE FROM tenants WHERE name = ?`, t.Name)
	}
	if err != nil {
		return fmt.Errorf("sqlstore: writing tenant %q: %w", t.Name, err)
	}
	if err := w.logChange(tenancy.KindTenant, typ, t.Name, data); err != nil {
		return fmt.Errorf("sqlstore: logging tenant %q: %w", t.Name, err)
	}
	return nil
}

// CreateTenant implements tenancy.TenantWriter.
func (s *Store) CreateTenant(ctx context.Context, t *tenancy.Tenant) (*tenancy.Tenant, error) {
	in := t.DeepCopy()
	err := s.write(ctx, func(w *wtx) error {
		v := view{w}
		cur, err := v.LookupTenant(in.Name)
		if err != nil {
			return err
		}
		if cur != nil {
			return tenancy.AlreadyExistsError(tenancy.KindTenant, in.Name)
		}
		if err := s.opts.Validator.ValidateTenantCreate(v, in); err != nil {
			return err
		}
		in.TypeMeta = tenantTypeMeta()
		in.UID = uuid.NewUUID()
		in.CreationTimestamp = now()
		in.Generation = 1
		in.Status = tenancy.TenantStatus{}
		in.ResourceVersion = w.next()
		return w.putTenant(in, tenancy.EventAdded)
	})
	if err != nil {
		return nil, err
	}
	return in, nil
}

// UpdateTenant implements tenancy.TenantWriter.
func (s *Store) UpdateTenant(ctx context.Context, t *tenancy.Tenant) (*tenancy.Tenant, error) {
	return s.updateTenant(ctx, t, false)
}

// UpdateTenantStatus implements tenancy.TenantStatusWriter.
func (s *Store) UpdateTenantStatus(ctx context.Context, t *tenancy.Tenant) (*tenancy.Tenant, error) {
	return s.updateTenant(ctx, t, true)
}

func (s *Store) updateTenant(ctx context.Context, t *tenancy.Tenant, status bool) (*tenancy.Tenant, error) {
	in := t.DeepCopy()
	var next *tenancy.Tenant
	err := s.write(ctx, func(w *wtx) error {
		v := view{w}
		cur, err := v.LookupTenant(in.Name)
		if err != nil {
			return err
		}
		if cur == nil {
			return tenancy.NotFoundError(tenancy.KindTenant, in.Name)
		}
		if err := checkVersion(tenancy.KindTenant, in.Name, in.ResourceVersion, cur.ResourceVersion); err != nil {
			return err
		}
		next = cur.DeepCopy()
		if status {
			next.Status = in.Status
		} else {
			next.Labels, next.Annotations, next.Spec = in.Labels, in.Annotations, in.Spec
			if err := s.opts.Validator.ValidateTenantUpdate(v, cur, next); err != nil {
				return err
			}
			if !equality.Semantic.DeepEqual(cur.Spec, next.Spec) {
				next.Generation++
			}
		}
		next.ResourceVersion = w.next()
		return w.putTenant(next, tenancy.EventModified)
	})
	if err != nil {
		return nil, err
	}
	return next, nil
}

// DeleteTenant implements tenancy.TenantWriter.
func (s *Store) DeleteTenant(ctx context.Context, name string, opts tenancy.DeleteOptions) error {
	return s.write(ctx, func(w *wtx) error {
		v := view{w}
		plan, err := tenancy.PlanTenantDelete(v, name, opts.Cascade)
		if err != nil {
			return err
		}
		for _, sp := range plan.Spaces {
			cur, err := getOne[tenancy.Space](ctx, s, w.tx, `SELECT data FROM spaces WHERE name = ?`, sp)
			if err != nil {
				return err
			}
			cur.ResourceVersion = w.next()
			if err := w.putSpace(cur, tenancy.EventDeleted); err != nil {
				return err
			}
		}
		for _, tn := range plan.Tenants {
			cur, err := v.LookupTenant(tn)
			if err != nil {
				return err
			}
			cur.ResourceVersion = w.next()
			if err := w.putTenant(cur, tenancy.EventDeleted); err != nil {
				return err
			}
		}
		return nil
	})
}
