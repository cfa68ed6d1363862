// Package images builds container images on this machine from local
// binaries, for a real node that can pull nothing: each image is an empty
// base plus one layer made of the files it names, written as a
// docker-archive and imported into containerd with ctr.
//
// It is for vclusterkit's test hosts and quickstart only. Charts keep their
// real registry references; tests point them at the references made here.
package images

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// File is one entry of an image's layer. Exactly one of Source, Data or
// Link is set, or none for a directory (Mode with os.ModeDir).
type File struct {
	// Path is the absolute path in the image.
	Path string
	// Source is a file on this machine whose content is copied.
	Source string
	// Data is literal content.
	Data []byte
	// Link makes Path a symbolic link to this target.
	Link string
	// Mode is the permission bits (with os.ModeDir and os.ModeSticky for a
	// directory); zero means 0755 for Source and 0644 for Data.
	Mode os.FileMode
}

// Image describes an image to build.
type Image struct {
	// Ref is the reference pods name it by, e.g. "vclusterkit.local/busybox:1".
	Ref string
	// Files make up the image's only layer; parent directories are added.
	Files []File
	// Entrypoint and Cmd are the image's defaults.
	Entrypoint, Cmd []string
	// Env is the default environment (KEY=value).
	Env []string
	// User is the default user ("65532:65532"); empty means root.
	User string
}

// validate checks an image before anything is written.
func (img Image) validate() error {
	if _, err := name.NewTag(img.Ref, name.StrictValidation); err != nil {
		return fmt.Errorf("image %q: Ref: %w", img.Ref, err)
	}
	for i, f := range img.Files {
		set := 0
		for _, b := range []bool{f.Source != "", f.Data != nil, f.Link != ""} {
			if b {
				set++
			}
		}
		if set == 0 && f.Mode.IsDir() {
			continue
		}
		if set != 1 {
			return fmt.Errorf("image %s: Files[%d] (%s): exactly one of Source, Data and Link must be set", img.Ref, i, f.Path)
		}
		if !path.IsAbs(f.Path) || path.Clean(f.Path) != f.Path {
			return fmt.Errorf("image %s: Files[%d].Path: %q is not a clean absolute path", img.Ref, i, f.Path)
		}
	}
	return nil
}

// layer returns the image's layer as an uncompressed tar. Entries are
// sorted and timestamps fixed, so the same files make the same digest.
func (img Image) layer() ([]byte, error) {
	files := append([]File(nil), img.Files...)
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	epoch := time.Unix(0, 0)
	dirs := map[string]bool{}
	var mkdirs func(string) error
	mkdirs = func(d string) error {
		if d == "/" || dirs[d] {
			return nil
		}
		if err := mkdirs(path.Dir(d)); err != nil {
			return err
		}
		dirs[d] = true
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: strings.TrimPrefix(d, "/") + "/", Mode: 0o755, ModTime: epoch})
	}
	for _, f := range files {
		if err := mkdirs(path.Dir(f.Path)); err != nil {
			return nil, err
		}
		if dirs[f.Path] {
			return nil, fmt.Errorf("image %s: %s: listed after a file inside it, or twice", img.Ref, f.Path)
		}
		name := strings.TrimPrefix(f.Path, "/")
		switch {
		case f.Mode.IsDir():
			mode := int64(f.Mode.Perm())
			if f.Mode&os.ModeSticky != 0 {
				mode |= 0o1000
			}
			dirs[f.Path] = true
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode, ModTime: epoch}); err != nil {
				return nil, err
			}
		case f.Link != "":
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: f.Link, Mode: 0o777, ModTime: epoch}); err != nil {
				return nil, err
			}
		default:
			data, mode := f.Data, f.Mode
			if f.Source != "" {
				b, err := os.ReadFile(f.Source)
				if err != nil {
					return nil, fmt.Errorf("image %s: %s: %w", img.Ref, f.Path, err)
				}
				data = b
				if mode == 0 {
					mode = 0o755
				}
			}
			if mode == 0 {
				mode = 0o644
			}
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: int64(len(data)), Mode: int64(mode.Perm()), ModTime: epoch}); err != nil {
				return nil, err
			}
			if _, err := tw.Write(data); err != nil {
				return nil, err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (img Image) build() (name.Tag, v1.Image, error) {
	if err := img.validate(); err != nil {
		return name.Tag{}, nil, err
	}
	tag, _ := name.NewTag(img.Ref, name.StrictValidation)
	data, err := img.layer()
	if err != nil {
		return name.Tag{}, nil, err
	}
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		return name.Tag{}, nil, err
	}
	out, err := mutate.AppendLayers(empty.Image, l)
	if err != nil {
		return name.Tag{}, nil, err
	}
	cf, err := out.ConfigFile()
	if err != nil {
		return name.Tag{}, nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Config.Entrypoint, cf.Config.Cmd, cf.Config.User = img.Entrypoint, img.Cmd, img.User
	cf.Config.Env = append([]string{"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"}, img.Env...)
	out, err = mutate.ConfigFile(out, cf)
	return tag, out, err
}

// WriteArchive writes the images as one docker-archive tarball (what
// `ctr images import` and `docker load` read).
func WriteArchive(w io.Writer, imgs ...Image) error {
	refs := make(map[name.Reference]v1.Image, len(imgs))
	for _, img := range imgs {
		tag, built, err := img.build()
		if err != nil {
			return err
		}
		refs[tag] = built
	}
	return tarball.MultiRefWrite(refs, w)
}

// Import builds the images and imports them into the containerd listening
// on address, in the namespace the CRI plugin uses (k8s.io), with ctr.
// Imported images are unpacked for the default snapshotter.
func Import(ctx context.Context, ctr, address string, imgs ...Image) error {
	f, err := os.CreateTemp("", "vclusterkit-images-*.tar")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := WriteArchive(f, imgs...); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, ctr, "--address", address, "--namespace", "k8s.io", "images", "import", "--platform", "linux/amd64", f.Name())
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ctr images import: %w\n%s", err, out)
	}
	return nil
}

// Binary returns the files that run the program at src as dst in an image:
// the program and, for a dynamically linked one, its ELF interpreter and
// shared libraries as this machine resolves them (ldd), so a cgo build runs
// in an image without a distribution.
func Binary(src, dst string) ([]File, error) {
	files := []File{{Path: dst, Source: src}}
	ef, err := elf.Open(src)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src, err)
	}
	defer ef.Close()
	dynamic := false
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP {
			dynamic = true
		}
	}
	if !dynamic {
		return files, nil
	}
	out, err := exec.Command("ldd", src).Output()
	if err != nil {
		return nil, fmt.Errorf("ldd %s: %w", src, err)
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		// "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or
		// "/lib64/ld-linux-x86-64.so.2 (0x...)"
		fields := strings.Fields(line)
		var lib string
		switch {
		case len(fields) >= 3 && fields[1] == "=>":
			lib = fields[2]
		case len(fields) >= 1 && strings.HasPrefix(fields[0], "/"):
			lib = fields[0]
		}
		if lib == "" || !filepath.IsAbs(lib) || seen[lib] {
			continue
		}
		seen[lib] = true
		real, err := filepath.EvalSymlinks(lib)
		if err != nil {
			return nil, fmt.Errorf("%s needs %s: %w", src, lib, err)
		}
		files = append(files, File{Path: lib, Source: real, Mode: 0o755})
	}
	if len(files) == 1 {
		return nil, errors.New(src + " is dynamically linked, but ldd listed no libraries")
	}
	return files, nil
}
