package tenancy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"
)

// DecodeTenant decodes a Tenant from JSON or YAML, as a portal or CLI
// receives it. Unlike json.Unmarshal it names the field of every quantity
// that does not parse (spec.quota[cpu]: "two"), and it rejects unknown
// fields. It does not validate the result: stores do that on write.
func DecodeTenant(data []byte) (*Tenant, error) {
	t := &Tenant{}
	if err := decode(data, KindTenant, t, [][]string{
		{"spec", "quota"}, {"spec", "limitRange", "default"}, {"spec", "limitRange", "defaultRequest"},
		{"spec", "limitRange", "max"}, {"spec", "limitRange", "min"}, {"status", "usage"},
	}); err != nil {
		return nil, err
	}
	return t, nil
}

// DecodeSpace decodes a Space like DecodeTenant.
func DecodeSpace(data []byte) (*Space, error) {
	s := &Space{}
	if err := decode(data, KindSpace, s, [][]string{{"spec", "quota"}, {"status", "usage"}}); err != nil {
		return nil, err
	}
	return s, nil
}

func decode(data []byte, kind string, into any, quantityMaps [][]string) error {
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return fmt.Errorf("decoding %s: %w", kind, err)
	}
	var raw map[string]any
	if err := json.Unmarshal(js, &raw); err != nil {
		return fmt.Errorf("decoding %s: %w", kind, err)
	}
	name, _ := dig(raw, "metadata", "name").(string)
	var errs field.ErrorList
	for _, p := range quantityMaps {
		m, ok := dig(raw, p...).(map[string]any)
		if !ok {
			continue
		}
		fld := field.NewPath(p[0], p[1:]...)
		for _, k := range slices.Sorted(maps.Keys(m)) {
			var s string
			switch v := m[k].(type) {
			case string:
				s = v
			case float64:
				s = fmt.Sprint(v)
			default:
				errs = append(errs, field.Invalid(fld.Key(k), v, "must be a quantity such as \"2\", \"500m\" or \"4Gi\""))
				continue
			}
			if _, err := resource.ParseQuantity(s); err != nil {
				errs = append(errs, field.Invalid(fld.Key(k), s, "not a quantity: "+err.Error()))
			}
		}
	}
	if len(errs) > 0 {
		return NewInvalidError(kind, name, errs)
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		return fmt.Errorf("decoding %s %q: %w", kind, name, err)
	}
	return nil
}

func dig(m map[string]any, path ...string) any {
	var cur any = m
	for _, p := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[p]
	}
	return cur
}
