//go:build linux

package relaytest

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The cluster's nodes and rabbitmqctl runs go through a reaper: this test
// binary run again (reaperEnv set) as a child subreaper. Erlang's
// erl_child_setup starts a session of its own, so a process group cannot
// hold a node's processes, and the VMs' helpers outlive a kill -9 of the
// VM, orphaned; on a machine whose init does not reap, every orphan stays
// a zombie. The reaper adopts every orphan below it and reaps it. When its
// stdin closes (the test binary stopped the node, or died in any way) it
// kills -9 everything below it; once its child has exited and nothing is
// left below it, it exits with the child's status.
const reaperEnv = "STOMP_GATEWAY_TEST_REAPER"

func init() {
	if os.Getenv(reaperEnv) == "1" {
		os.Exit(reaper(os.Args[1:]))
	}
}

// prSetChildSubreaper is PR_SET_CHILD_SUBREAPER (linux/prctl.h).
const prSetChildSubreaper = 36

func reaper(argv []string) int {
	if len(argv) == 0 {
		fmt.Fprintln(os.Stderr, "reaper: no command")
		return 2
	}
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
		fmt.Fprintln(os.Stderr, "reaper: PR_SET_CHILD_SUBREAPER:", errno)
		return 2
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, reaperEnv+"=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "reaper:", err)
		return 127
	}
	child := cmd.Process.Pid
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		// Told to stop, or the test binary is gone: kill what runs below
		// until nothing does; the loop below reaps it all.
		for {
			pids := descendants(os.Getpid())
			if len(pids) == 0 {
				return
			}
			for _, pid := range pids {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	code := 0
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, 0, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil { // ECHILD: the child and every orphan are reaped
			return code
		}
		if pid == child {
			switch {
			case ws.Exited():
				code = ws.ExitStatus()
			case ws.Signaled():
				code = 128 + int(ws.Signal())
			}
		}
	}
}

// descendants are the pids of every process below pid.
func descendants(pid int) []int {
	children := map[int][]int{}
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		id, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		if ppid := parentOf(id); ppid > 0 {
			children[ppid] = append(children[ppid], id)
		}
	}
	var out []int
	queue := children[pid]
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		out = append(out, id)
		queue = append(queue, children[id]...)
	}
	return out
}

// parentOf is pid's parent from /proc/pid/stat, 0 when unknown.
func parentOf(pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	// ") S PPID ..."
	fields := strings.Fields(s[i+1:])
	if len(fields) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(fields[1])
	return ppid
}

// reaped is a command running under a reaper.
type reaped struct {
	cmd  *exec.Cmd
	stop *os.File      // closing it makes the reaper kill everything below it
	done chan struct{} // closed once the reaper has exited
	err  error         // the reaper's exit, once done
}

// startReaped runs argv (argv[0] found on PATH) in dir under a reaper,
// its output to out, in its own process group so a terminal's signals go
// to the test binary only.
func startReaped(dir string, out io.Writer, argv ...string) (*reaped, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return nil, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, append([]string{path}, argv[1:]...)...)
	cmd.Env = []string{reaperEnv + "=1", "PATH=/usr/bin:/bin:/usr/sbin:/sbin", "LANG=C.UTF-8"}
	cmd.Dir = dir
	cmd.Stdin = r
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = cmd.Start()
	r.Close()
	if err != nil {
		w.Close()
		return nil, err
	}
	p := &reaped{cmd: cmd, stop: w, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// kill stops the command and everything it started, and waits for the
// reaper to exit.
func (p *reaped) kill() {
	p.stop.Close()
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}
