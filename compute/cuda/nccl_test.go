//go:build linux && (amd64 || arm64)

package cuda

import (
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/ebitengine/purego"
	"github.com/seqdiff/seqdiff/compute"
)

// nccl returns NCCL's API for a test on the shared backend, skipping where
// a real GPU has no NCCL installed (the emulator always has one).
func ncclFor(t *testing.T) (*Backend, *ncclAPI) {
	t.Helper()
	b := gpu(t)
	api, err := ncclOnce()
	if err != nil {
		if isEmulator(b) {
			t.Fatalf("the emulated device has no NCCL (make cuda-emu links libnccl.so.2): %v", err)
		}
		t.Skipf("no NCCL on this machine (pip install nvidia-nccl-cu12, or libnccl2): %v", err)
	}
	return b, api
}

func isEmulator(b *Backend) bool { return strings.Contains(b.DeviceName(), "emulator") }

// TestNCCLArgumentMarshalling checks, on the emulated device, that what
// ncclCommInitRank receives is what the Go side passed: the 128-byte id by
// value and the two ints around it (the id sits on the stack on x86-64,
// where a shift of one word would move every argument). The emulator keeps
// the arguments of the last call (seqdiff_emu_nccl_last_init).
func TestNCCLArgumentMarshalling(t *testing.T) {
	b, api := ncclFor(t)
	lib, err := purego.Dlopen(api.path, purego.RTLD_NOW|purego.RTLD_GLOBAL)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := purego.Dlsym(lib, "seqdiff_emu_nccl_last_init")
	if err != nil {
		t.Skipf("%s is a real NCCL, without the emulator's argument recorder (the world-of-one test runs on it)", api.path)
	}
	last := func() (UniqueID, int, int) {
		var id UniqueID
		var nr, rk int32
		call(rec, uintptr(unsafe.Pointer(&id)), uintptr(unsafe.Pointer(&nr)), uintptr(unsafe.Pointer(&rk)))
		return id, int(nr), int(rk)
	}
	for _, c := range []struct{ nranks, rank int32 }{{5, 3}, {1000003, -2}, {-7, 2147483647}} {
		var id UniqueID
		for i := range id.Internal {
			id.Internal[i] = byte(i*7 + 3 + int(c.nranks))
		}
		var comm uintptr
		b.enter()
		r := api.initRank(&comm, c.nranks, id, c.rank)
		runtime.UnlockOSThread()
		if r == 0 || comm != 0 {
			t.Fatalf("ncclCommInitRank with a made-up id succeeded (%d)", r)
		}
		gotID, gotN, gotR := last()
		if gotID != id || gotN != int(c.nranks) || gotR != int(c.rank) {
			t.Errorf("ncclCommInitRank(nranks %d, id %x…, rank %d) arrived as (nranks %d, id %x…, rank %d)",
				c.nranks, id.Internal[:8], c.rank, gotN, gotID.Internal[:8], gotR)
		}
		if msg := api.errString(ncclResult(r), 0); !strings.Contains(msg, "not made by ncclGetUniqueId") {
			t.Errorf("error %q does not say why", msg)
		}
	}
	id, err := b.CollectiveID()
	if err != nil {
		t.Fatal(err)
	}
	n, err := b.JoinNCCL(id, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if gotID, gotN, gotR := last(); string(gotID.Internal[:]) != string(id) || gotN != 1 || gotR != 0 {
		t.Errorf("JoinNCCL(id, 1, 0) arrived as (%d, %x…, %d)", gotN, gotID.Internal[:8], gotR)
	}
}

// TestNCCLWorldOfOne runs the communicator of a one-GPU run: the id, the
// join, an in-place all-reduce (the identity), the errors NCCL returns,
// and a destroy (the emulator reports a communicator never destroyed as a
// leak when the shared backend closes).
func TestNCCLWorldOfOne(t *testing.T) {
	b, _ := ncclFor(t)
	id, err := b.CollectiveID()
	if err != nil {
		t.Fatal(err)
	}
	if len(id) != 128 {
		t.Fatalf("id of %d bytes", len(id))
	}
	if _, err := b.JoinNCCL(id[:100], 1, 0); err == nil || !strings.Contains(err.Error(), "128 bytes") {
		t.Errorf("a short id: %v", err)
	}
	if _, err := b.JoinNCCL(id, 1, 1); err == nil || !strings.Contains(err.Error(), "rank 1 of 1") {
		t.Errorf("rank 1 of 1: %v", err)
	}
	c, err := b.JoinCollective(id, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(c)
	const n = 3000
	want := make([]float32, n)
	for i := range want {
		want[i] = float32(i)*0.25 - 17
	}
	x := b.Alloc(n)
	defer b.Free(x)
	b.Upload(x, want)
	if err := c.AllReduceSum(x); err != nil {
		t.Fatal(err)
	}
	got := make([]float32, n)
	b.Download(got, x)
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("all-reduce over one rank changed element %d: %g, want %g", i, got[i], want[i])
		}
	}
	if isEmulator(b) {
		// A view past the allocation is refused, naming the buffer; the
		// backend is not poisoned by it.
		bad := compute.F32{Dev: x.Dev, N: n + 1000}
		if err := c.AllReduceSum(bad); err == nil || !strings.Contains(err.Error(), "past its end") {
			t.Errorf("an all-reduce past the allocation: %v", err)
		}
		if err := b.Err(); err != nil {
			t.Errorf("the backend failed with the all-reduce: %v", err)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.AllReduceSum(x); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("an all-reduce after Close: %v", err)
	}
}

// TestNCCLRanksInProcesses runs a communicator of 3 ranks, each a process
// with its own backend on the emulated device (which joins them through
// shared memory, as NCCL does across GPUs): every rank must get the sum,
// bit for bit the same on all of them.
func TestNCCLRanksInProcesses(t *testing.T) {
	b, _ := ncclFor(t)
	if !isEmulator(b) {
		t.Skip("one GPU per rank: the multi-process all-reduce runs on the emulated device, and on GPUs in gpu-check")
	}
	id, err := b.CollectiveID()
	if err != nil {
		t.Fatal(err)
	}
	const nranks = 3
	cmds := make([]*exec.Cmd, nranks)
	outs := make([]strings.Builder, nranks)
	for r := range nranks {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), fmt.Sprintf("SEQDIFF_NCCL_CHILD=%s,%d,%d", hex.EncodeToString(id), nranks, r))
		cmd.Stdout, cmd.Stderr = &outs[r], &outs[r]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[r] = cmd
	}
	var lines []string
	for r, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("rank %d: %v: %s", r, err, outs[r].String())
			continue
		}
		out := outs[r].String()
		i := strings.Index(out, "SUM ")
		if i < 0 {
			t.Errorf("rank %d printed no sum: %s", r, out)
			continue
		}
		lines = append(lines, strings.TrimSpace(out[i:]))
	}
	t.Log(lines)
	for r := 1; r < len(lines); r++ {
		if lines[r] != lines[0] {
			t.Errorf("ranks got different sums:\n%s\n%s", lines[0], lines[r])
		}
	}
}

// runNCCLChild is one rank of TestNCCLRanksInProcesses: spec is
// "idhex,nranks,rank". Rank r contributes x[i] = (r+1)*i + 0.5; the sum is
// checked against n(n+1)/2*i + n/2 and printed (every rank's must agree).
func runNCCLChild(spec string) int {
	parts := strings.Split(spec, ",")
	id, _ := hex.DecodeString(parts[0])
	nranks, _ := strconv.Atoi(parts[1])
	rank, _ := strconv.Atoi(parts[2])
	b, err := New(Options{})
	if err != nil {
		fmt.Println("rank", rank, err)
		return 1
	}
	defer b.Close()
	c, err := b.JoinNCCL(id, nranks, rank)
	if err != nil {
		fmt.Println("rank", rank, err)
		return 1
	}
	const n = 300000 // more than one chunk of the emulator's shared slots
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rank+1)*float32(i%1000) + 0.5
	}
	x := b.Alloc(n)
	b.Upload(x, v)
	err = c.AllReduceSum(x)
	if cerr := c.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		fmt.Println("rank", rank, err)
		return 1
	}
	b.Download(v, x)
	b.Free(x)
	var h uint64 = 14695981039346656037
	tri := float32(nranks * (nranks + 1) / 2)
	for i, s := range v {
		if want := tri*float32(i%1000) + float32(nranks)*0.5; s != want {
			fmt.Printf("rank %d: element %d is %g, want %g\n", rank, i, s, want)
			return 1
		}
		h = (h ^ uint64(*(*uint32)(unsafe.Pointer(&v[i])))) * 1099511628211
	}
	fmt.Printf("SUM %016x of %d floats\n", h, n)
	return 0
}
