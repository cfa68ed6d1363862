package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresDepsCommand installs the PostgreSQL server the tests need.
const PostgresDepsCommand = "make test-deps"

// Postgres is a throwaway PostgreSQL server on loopback, in a temporary
// directory of its own, with trust authentication for user "postgres".
type Postgres struct {
	dir    string
	port   int
	cmd    *exec.Cmd
	done   chan struct{}
	reaper *reaper

	mu  sync.Mutex
	dbs int
}

// StartPostgres runs initdb and postgres from the Debian install
// (/usr/lib/postgresql/<version>/bin, the newest) or from PATH in a new
// temporary directory, listening on a free loopback port with its unix
// socket in that directory, and waits until it accepts connections. As
// root it runs them as the "postgres" user, since PostgreSQL refuses to
// run as root. Missing binaries are an error naming `make test-deps`.
func StartPostgres(ctx context.Context) (_ *Postgres, err error) {
	bin, err := postgresBinDir()
	if err != nil {
		return nil, err
	}
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running PostgreSQL as root needs a \"postgres\" user (run `%s`): %w", PostgresDepsCommand, err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	dir, err := os.MkdirTemp("", "vclusterkit-postgres-")
	if err != nil {
		return nil, err
	}
	p := &Postgres{dir: dir, done: make(chan struct{})}
	defer func() {
		if err != nil {
			_ = p.Stop()
		}
	}()
	sock := filepath.Join(dir, "sock")
	if err := os.Mkdir(sock, 0o700); err != nil {
		return nil, err
	}
	if cred != nil {
		// The temp dir's parent must be traversable; /tmp is.
		for _, d := range []string{dir, sock} {
			if err := os.Chown(d, int(cred.Uid), int(cred.Gid)); err != nil {
				return nil, fmt.Errorf("handing %s to the postgres user: %w", d, err)
			}
		}
	}
	data := filepath.Join(dir, "data")
	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres",
		"--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync")
	initdb.Dir = dir
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	logFile, err := os.Create(filepath.Join(dir, "postgres.log"))
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	for attempt := 0; ; attempt++ {
		p.port, err = freePort()
		if err != nil {
			return nil, err
		}
		p.cmd = exec.Command(filepath.Join(bin, "postgres"), "-D", data, "-p", strconv.Itoa(p.port), "-k", sock,
			"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
			"-c", "full_page_writes=off", "-c", "max_connections=300", "-c", "shared_buffers=32MB")
		p.cmd.Dir = dir
		p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
		p.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true}
		if err := p.cmd.Start(); err != nil {
			return nil, fmt.Errorf("starting postgres: %w", err)
		}
		p.done = make(chan struct{})
		go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); close(done) }(p.cmd, p.done)
		p.reaper.stop() // a previous attempt's, if any
		p.reaper, err = startReaper(reap{pids: []int{p.cmd.Process.Pid}, dirs: []string{dir}})
		if err != nil {
			return nil, err
		}
		err = p.waitReady(ctx)
		if err == nil {
			return p, nil
		}
		if attempt >= 2 || ctx.Err() != nil {
			return nil, fmt.Errorf("%w\n%s", err, tail(filepath.Join(dir, "postgres.log"), 30))
		}
		p.kill() // probably lost the port to someone else: retry
	}
}

func postgresBinDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, d := range dirs {
		if isFile(filepath.Join(d, "initdb")) && isFile(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	if initdb, err := exec.LookPath("initdb"); err == nil {
		d := filepath.Dir(initdb)
		if real, err := filepath.EvalSymlinks(initdb); err == nil {
			d = filepath.Dir(real)
		}
		if isFile(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	return "", fmt.Errorf("PostgreSQL server binaries (initdb, postgres) not found in /usr/lib/postgresql/*/bin or PATH: run `%s` to install them", PostgresDepsCommand)
}

func versionOf(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (p *Postgres) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, cancel := context.WithTimeout(ctx, 2*time.Second)
		conn, err := pgx.Connect(c, p.DSN())
		if err == nil {
			err = conn.Ping(c)
			_ = conn.Close(c)
		}
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-p.done:
			return errors.New("postgres exited during start-up")
		case <-ctx.Done():
			return fmt.Errorf("waiting for postgres: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres not ready after 60s: %w", err)
		}
	}
}

// DSN is a connection URL for the "postgres" database as the superuser.
func (p *Postgres) DSN() string { return p.dsnFor("postgres") }

func (p *Postgres) dsnFor(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", p.port, db)
}

// NewDatabase creates an empty database and returns its DSN: one per test
// keeps tests independent on one server.
func (p *Postgres) NewDatabase(ctx context.Context) (string, error) {
	p.mu.Lock()
	p.dbs++
	name := fmt.Sprintf("test_%d", p.dbs)
	p.mu.Unlock()
	conn, err := pgx.Connect(ctx, p.DSN())
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("creating database %s: %w", name, err)
	}
	return p.dsnFor(name), nil
}

// LogTail returns the end of the server log, for failure messages.
func (p *Postgres) LogTail() string { return tail(filepath.Join(p.dir, "postgres.log"), 30) }

func (p *Postgres) kill() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	// SIGQUIT is PostgreSQL's immediate shutdown; the group also holds its
	// children. Escalate to SIGKILL if it lingers.
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGQUIT)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// Stop kills the server and removes its directory.
func (p *Postgres) Stop() error {
	p.kill()
	err := os.RemoveAll(p.dir)
	p.reaper.stop()
	return err
}
