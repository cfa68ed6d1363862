package netpol

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Pods lists the pods the evaluator knows, in input order.
func (ev *Evaluator) Pods() []Endpoint {
	out := make([]Endpoint, len(ev.pods))
	for i := range ev.pods {
		out[i] = ev.pods[i].ref
	}
	return out
}

// Matrix computes reachability between every ordered pair of the given pods (all known
// pods when endpoints is empty) on one port and protocol.
func (ev *Evaluator) Matrix(endpoints []Endpoint, port int32, protocol corev1.Protocol) (*Matrix, error) {
	if len(endpoints) == 0 {
		endpoints = ev.Pods()
	}
	if protocol == "" {
		protocol = corev1.ProtocolTCP
	}
	res := make([]resolved, len(endpoints))
	for i, e := range endpoints {
		r, err := ev.resolve(e, fmt.Sprintf("endpoints[%d]", i))
		if err != nil {
			return nil, err
		}
		res[i] = r
	}
	m := &Matrix{Endpoints: append([]Endpoint(nil), endpoints...), Allowed: make([][]bool, len(endpoints))}
	for i := range res {
		row := make([]bool, len(res))
		for j := range res {
			row[j] = ev.allows(res[i], res[j], port, protocol, true) && ev.allows(res[j], res[i], port, protocol, false)
		}
		m.Allowed[i] = row
	}
	return m, nil
}

// Matrix is a reachability truth table: Allowed[i][j] says whether Endpoints[i] may open a
// connection to Endpoints[j].
type Matrix struct {
	Endpoints []Endpoint
	// Names, when set, label the rows and columns in String instead of the endpoints.
	Names   []string
	Allowed [][]bool
}

// String renders the table as the upstream e2e tests print it: rows are sources, columns
// destinations, "." allowed and "X" denied.
func (m *Matrix) String() string {
	names := make([]string, len(m.Endpoints))
	for i, e := range m.Endpoints {
		names[i] = e.String()
		if i < len(m.Names) && m.Names[i] != "" {
			names[i] = m.Names[i]
		}
	}
	return renderTable(names, names, m.Allowed)
}

// Diff lists the pairs where m and other disagree, "from -> to: got X want Y", sorted.
// Both matrices must have the same endpoints in the same order.
func (m *Matrix) Diff(want *Matrix) []string {
	var out []string
	for i := range m.Endpoints {
		for j := range m.Endpoints {
			if m.Allowed[i][j] != want.Allowed[i][j] {
				out = append(out, fmt.Sprintf("%s -> %s: got %s want %s", m.Endpoints[i], m.Endpoints[j],
					word(m.Allowed[i][j]), word(want.Allowed[i][j])))
			}
		}
	}
	sort.Strings(out)
	return out
}

func word(b bool) string {
	if b {
		return "allowed"
	}
	return "denied"
}

func renderTable(rows, cols []string, cells [][]bool) string {
	width := 1
	for _, s := range append(append([]string(nil), rows...), cols...) {
		width = max(width, len(s))
	}
	var b strings.Builder
	pad := func(s string) { fmt.Fprintf(&b, "%-*s ", width, s) }
	pad("-")
	for _, c := range cols {
		pad(c)
	}
	b.WriteString("\n")
	for i, r := range rows {
		pad(r)
		for j := range cols {
			if cells[i][j] {
				pad(".")
			} else {
				pad("X")
			}
		}
		b.WriteString("\n")
	}
	lines := strings.Split(b.String(), "\n")
	for i := range lines {
		lines[i] = strings.TrimRight(lines[i], " ")
	}
	return strings.Join(lines, "\n")
}
