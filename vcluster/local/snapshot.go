package local

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/vclusterkit/vclusterkit/vcluster"
)

// snapshotFormat names the snapshot layout: a gzipped tar holding
// snapshot.json and the SQLite files of the store.
const snapshotFormat = "vclusterkit.io/local-sqlite/v1"

type snapshotHeader struct {
	Format        string `json:"format"`
	HostNamespace string `json:"hostNamespace"`
	Name          string `json:"name"`
	EtcdPrefix    string `json:"etcdPrefix"`
	Version       string `json:"version"`
}

// Snapshot writes every object of a virtual cluster on SQLite to w: the
// store files, copied while the control plane is briefly stopped (a few
// seconds of downtime; a paused cluster stays paused). Other stores return
// vcluster.ErrUnsupported: back up PostgreSQL or etcd with their own tools.
func (p *Provisioner) Snapshot(ctx context.Context, vc *vcluster.VirtualCluster, w io.Writer) error {
	dir, st, err := p.owned(vc)
	if err != nil {
		return err
	}
	if st.BackingStore != vcluster.BackingStoreSQLite {
		return fmt.Errorf("%w: snapshots of a %s store", vcluster.ErrUnsupported, st.BackingStore)
	}
	if err := p.claimDir(); err != nil {
		return err
	}
	defer p.lock(dir)()
	restart, err := p.stopForMaintenance(ctx, dir)
	if err != nil {
		return err
	}
	werr := writeSnapshot(w, dir, st)
	if restart {
		if err := p.startLocked(ctx, dir); err != nil {
			return errors.Join(werr, err)
		}
	}
	return werr
}

// Restore replaces the objects of an existing virtual cluster on SQLite
// with a snapshot's, and starts it again unless it is paused. Service
// account tokens issued before the snapshot stay invalid: the restored
// cluster keeps its own PKI.
func (p *Provisioner) Restore(ctx context.Context, vc *vcluster.VirtualCluster, r io.Reader) error {
	dir, st, err := p.owned(vc)
	if err != nil {
		return err
	}
	if st.BackingStore != vcluster.BackingStoreSQLite {
		return fmt.Errorf("%w: restoring into a %s store", vcluster.ErrUnsupported, st.BackingStore)
	}
	if err := p.claimDir(); err != nil {
		return err
	}
	defer p.lock(dir)()
	restart, err := p.stopForMaintenance(ctx, dir)
	if err != nil {
		return err
	}
	hdr, rerr := readSnapshot(r, filepath.Join(dir, storeDir))
	if rerr == nil {
		st, rerr = readState(dir)
		if rerr == nil {
			// Keys in the snapshot carry the source cluster's prefix.
			st.EtcdPrefix = hdr.EtcdPrefix
			rerr = writeState(dir, st)
		}
	}
	if restart {
		if err := p.startLocked(ctx, dir); err != nil {
			return errors.Join(rerr, err)
		}
	}
	return rerr
}

// stopForMaintenance stops a running control plane and reports whether it
// should be started again afterwards.
func (p *Provisioner) stopForMaintenance(ctx context.Context, dir string) (bool, error) {
	inst := p.getRunning(dir)
	if inst == nil {
		st, err := readState(dir)
		if err != nil {
			return false, err
		}
		killStale(st.PIDs, dir)
		return false, nil
	}
	inst.stop(p.opts.StopGrace)
	p.setRunning(dir, nil)
	return !inst.st.Paused, nil
}

func (p *Provisioner) startLocked(ctx context.Context, dir string) error {
	st, err := readState(dir)
	if err != nil {
		return err
	}
	inst, err := p.start(ctx, dir, st, nil)
	if err != nil {
		return err
	}
	p.setRunning(dir, inst)
	return nil
}

func writeSnapshot(w io.Writer, dir string, st *state) error {
	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	hdr, _ := json.Marshal(snapshotHeader{Format: snapshotFormat, HostNamespace: st.HostNamespace, Name: st.Name,
		EtcdPrefix: st.EtcdPrefix, Version: st.Version})
	if err := tw.WriteHeader(&tar.Header{Name: "snapshot.json", Mode: 0o600, Size: int64(len(hdr))}); err != nil {
		return err
	}
	if _, err := tw.Write(hdr); err != nil {
		return err
	}
	for _, f := range []string{"state.db", "state.db-wal", "state.db-shm"} {
		path := filepath.Join(dir, storeDir, f)
		fi, err := os.Stat(path)
		if errors.Is(err, os.ErrNotExist) && f != "state.db" {
			continue
		}
		if err != nil {
			return fmt.Errorf("snapshot: %w", err)
		}
		if err := tw.WriteHeader(&tar.Header{Name: f, Mode: 0o600, Size: fi.Size()}); err != nil {
			return err
		}
		fh, err := os.Open(path)
		if err != nil {
			return err
		}
		_, err = io.Copy(tw, fh)
		fh.Close()
		if err != nil {
			return fmt.Errorf("snapshot: copying %s: %w", f, err)
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

// readSnapshot checks the snapshot fully into a temporary directory, then
// swaps it in for the store's files, so a bad snapshot changes nothing.
func readSnapshot(r io.Reader, store string) (*snapshotHeader, error) {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("restore: not a snapshot: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(store), "restore-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	tr := tar.NewReader(gz)
	var hdr *snapshotHeader
	var files []string
	for {
		th, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("restore: reading snapshot: %w", err)
		}
		switch {
		case th.Name == "snapshot.json":
			var h snapshotHeader
			if err := json.NewDecoder(io.LimitReader(tr, 1<<16)).Decode(&h); err != nil {
				return nil, fmt.Errorf("restore: snapshot.json: %w", err)
			}
			hdr = &h
		case th.Name == "state.db" || th.Name == "state.db-wal" || th.Name == "state.db-shm":
			f, err := os.OpenFile(filepath.Join(tmp, th.Name), os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
			if err != nil {
				return nil, err
			}
			_, err = io.Copy(f, tr)
			f.Close()
			if err != nil {
				return nil, fmt.Errorf("restore: %s: %w", th.Name, err)
			}
			files = append(files, th.Name)
		default:
			return nil, fmt.Errorf("restore: unexpected entry %q in snapshot", th.Name)
		}
	}
	if hdr == nil || hdr.Format != snapshotFormat {
		return nil, fmt.Errorf("restore: not a %s snapshot", snapshotFormat)
	}
	if !strings.HasPrefix(hdr.EtcdPrefix, "/") {
		return nil, fmt.Errorf("restore: snapshot has no key prefix")
	}
	if !contains(files, "state.db") {
		return nil, fmt.Errorf("restore: snapshot holds no state.db")
	}
	for _, f := range []string{"state.db", "state.db-wal", "state.db-shm"} {
		if err := os.Remove(filepath.Join(store, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
	}
	for _, f := range files {
		if err := os.Rename(filepath.Join(tmp, f), filepath.Join(store, f)); err != nil {
			return nil, err
		}
	}
	return hdr, nil
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
