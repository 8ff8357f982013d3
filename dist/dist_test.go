package dist

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/seqdiff/seqdiff/compute"
	"github.com/seqdiff/seqdiff/compute/cpu"
)

func fakeDlsym(syms map[string]uintptr) func(string) (uintptr, error) {
	return func(n string) (uintptr, error) {
		if p, ok := syms[n]; ok {
			return p, nil
		}
		return 0, errors.New("undefined symbol: " + n)
	}
}

func TestSelectHandlesOpenMPI(t *testing.T) {
	h, err := selectHandles(fakeDlsym(map[string]uintptr{
		"MPI_Init_thread": 1, "ompi_mpi_comm_world": 0x1000, "ompi_mpi_float": 0x2000,
		"ompi_mpi_double": 0x3000, "ompi_mpi_byte": 0x4000, "ompi_mpi_op_sum": 0x5000,
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := handles{flavor: OpenMPI, world: 0x1000, float: 0x2000, double: 0x3000, byte: 0x4000, sum: 0x5000, inPlace: 1}
	if h != want {
		t.Fatalf("got %+v, want %+v", h, want)
	}
	// An Open MPI library missing one of the handles is refused.
	if _, err := selectHandles(fakeDlsym(map[string]uintptr{"ompi_mpi_comm_world": 0x1000, "ompi_mpi_float": 0x2000})); err == nil ||
		!strings.Contains(err.Error(), "ompi_mpi_double") {
		t.Fatalf("incomplete Open MPI: %v", err)
	}
}

func TestSelectHandlesMPICH(t *testing.T) {
	h, err := selectHandles(fakeDlsym(map[string]uintptr{"MPI_Init_thread": 1, "MPI_Allreduce": 2}))
	if err != nil {
		t.Fatal(err)
	}
	want := handles{flavor: MPICH, world: 0x44000000, float: 0x4c00040a, double: 0x4c00080b, byte: 0x4c00010d, sum: 0x58000003,
		inPlace: ^uintptr(0)}
	if h != want {
		t.Fatalf("got %+v, want %+v", h, want)
	}
	if _, err := selectHandles(fakeDlsym(nil)); err == nil {
		t.Fatal("a library without MPI symbols was taken for MPI")
	}
}

func TestLaunched(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	for _, c := range []struct {
		env  map[string]string
		want bool
	}{
		{nil, false},
		{map[string]string{"OMPI_COMM_WORLD_SIZE": "2"}, true},
		{map[string]string{"PMI_SIZE": "4"}, true},
		{map[string]string{"PMIX_RANK": "0"}, true},
		{map[string]string{"PMI_RANK": "1"}, true},
		{map[string]string{"OMPI_COMM_WORLD_SIZE": "2", "SEQDIFF_MPI": "0"}, false},
		{map[string]string{"SLURM_PROCID": "0"}, false}, // srun without an MPI plugin: not MPI
	} {
		if got, _ := Launched(env(c.env)); got != c.want {
			t.Errorf("Launched(%v) = %v, want %v", c.env, got, c.want)
		}
	}
	if got := libCandidates(env(map[string]string{"SEQDIFF_MPI_LIB": "/opt/mpi/lib/libmpi.so"})); got[0] != "/opt/mpi/lib/libmpi.so" || len(got) != 1+len(libNames) {
		t.Fatalf("libCandidates: %v", got)
	}
}

// Debian's mpich ships libmpich.so.12 and no libmpi.so.12; under MPICH's
// Hydra (PMI_RANK, PMI_SIZE only) MPICH's names come before Open MPI's,
// whose library would start each rank as a world of its own.
func TestLibCandidates(t *testing.T) {
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	for _, c := range []struct {
		env  func(string) string
		want string
	}{
		{env("OMPI_COMM_WORLD_SIZE", "2", "OMPI_COMM_WORLD_RANK", "0", "PMIX_RANK", "0"), "libmpi.so.40 libmpi.so.12 libmpich.so.12 libmpi.so"},
		{env("PMIX_RANK", "0"), "libmpi.so.40 libmpi.so.12 libmpich.so.12 libmpi.so"},
		{env("PMI_RANK", "1", "PMI_SIZE", "2", "MPI_LOCALRANKID", "1"), "libmpi.so.12 libmpich.so.12 libmpi.so.40 libmpi.so"},
		{env("PMI_SIZE", "2"), "libmpi.so.12 libmpich.so.12 libmpi.so.40 libmpi.so"},
		{env("PMI_RANK", "0", "SEQDIFF_MPI_LIB", "/opt/x/libmpi.so"), "/opt/x/libmpi.so libmpi.so.12 libmpich.so.12 libmpi.so.40 libmpi.so"},
	} {
		if got := strings.Join(libCandidates(c.env), " "); got != c.want {
			t.Errorf("libCandidates = %s, want %s", got, c.want)
		}
	}
}

// A library that does not belong to the launcher starts a one-process
// world in every rank: Init refuses it rather than train each rank alone.
func TestCheckSize(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	for _, c := range []struct {
		env  map[string]string
		size int
		ok   bool
	}{
		{map[string]string{"PMI_SIZE": "2"}, 2, true},
		{map[string]string{"PMI_SIZE": "2"}, 1, false},
		{map[string]string{"OMPI_COMM_WORLD_SIZE": "3"}, 1, false},
		{map[string]string{"OMPI_COMM_WORLD_SIZE": "3"}, 3, true},
		{map[string]string{"PMIX_RANK": "0"}, 1, true}, // the launcher does not say: nothing to check
		{map[string]string{"PMI_SIZE": "junk"}, 4, true},
	} {
		err := checkSize(env(c.env), "libx.so", c.size)
		if (err == nil) != c.ok {
			t.Errorf("checkSize(%v, %d) = %v, want ok %v", c.env, c.size, err, c.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "libmpich.so.12") {
			t.Errorf("checkSize's error does not name the libraries: %v", err)
		}
	}
}

// A nil Comm is the one-process world: its collectives change nothing.
func TestNilComm(t *testing.T) {
	var c *Comm
	buf := []float32{1, 2}
	d := []float64{3}
	b := []byte{4}
	if c.Rank() != 0 || c.Size() != 1 || c.AllreduceF32(buf) != nil || c.AllreduceF64(d) != nil || c.Bcast(b, 0) != nil ||
		c.Barrier() != nil || c.Finalize() != nil || buf[0] != 1 || buf[1] != 2 || d[0] != 3 || b[0] != 4 {
		t.Fatal("nil Comm is not the one-process world")
	}
	c.Abort(1) // does nothing
	if os.Getenv("OMPI_COMM_WORLD_SIZE") == "" && os.Getenv("PMI_SIZE") == "" {
		if c, err := Init(); c != nil || err != nil {
			t.Fatalf("Init without a launcher = %v, %v; want nil, nil", c, err)
		}
	}
}

// TestMPI runs this test binary under mpirun -np 3 (when mpirun is
// installed) and checks the collectives on every rank.
func TestMPI(t *testing.T) {
	if os.Getenv("SEQDIFF_DIST_CHILD") == "1" {
		mpiChild(t)
		return
	}
	mpirun, err := exec.LookPath("mpirun")
	if err != nil {
		t.Skip("mpirun not installed (apt-get install openmpi-bin): the MPI collectives are not tested")
	}
	cmd := exec.Command(mpirun, "--allow-run-as-root", "--oversubscribe", "-np", "3", os.Args[0], "-test.run", "^TestMPI$", "-test.v")
	cmd.Env = append(os.Environ(), "SEQDIFF_DIST_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil || strings.Count(string(out), "--- PASS: TestMPI") != 3 {
		t.Fatalf("mpirun: %v\n%s", err, out)
	}
}

// TestMPICH runs TestMPI's collectives under MPICH's mpiexec (Hydra)
// without SEQDIFF_MPI_LIB, where both MPICH and Open MPI are installed:
// Init must pick MPICH's library. And with Open MPI's library forced
// under Hydra, every rank must refuse its one-process world.
func TestMPICH(t *testing.T) {
	switch os.Getenv("SEQDIFF_DIST_CHILD") {
	case "mpich":
		mpiChild(t)
		return
	case "mismatch":
		c, err := Init()
		if err != nil && strings.Contains(err.Error(), "no MPI library loaded") {
			t.Skip("no Open MPI library to mismatch: ", err)
		}
		if err == nil || !strings.Contains(err.Error(), "sees a world of 1") {
			t.Fatalf("Open MPI's library under MPICH's launcher: %v, %v; want the world-size error", c, err)
		}
		return
	}
	mpirun, err := exec.LookPath("mpirun.mpich")
	if err != nil {
		t.Skip("mpirun.mpich not installed (apt-get install mpich): the collectives are not tested on MPICH")
	}
	cmd := exec.Command(mpirun, "-np", "3", os.Args[0], "-test.run", "^TestMPICH$", "-test.v")
	cmd.Env = append(os.Environ(), "SEQDIFF_DIST_CHILD=mpich", "SEQDIFF_MPI_LIB=")
	out, err := cmd.CombinedOutput()
	if err != nil || strings.Count(string(out), "--- PASS: TestMPICH") != 3 {
		t.Fatalf("mpirun.mpich: %v\n%s", err, out)
	}
	cmd = exec.Command(mpirun, "-np", "2", os.Args[0], "-test.run", "^TestMPICH$", "-test.v")
	cmd.Env = append(os.Environ(), "SEQDIFF_DIST_CHILD=mismatch", "SEQDIFF_MPI_LIB=libmpi.so.40")
	out, err = cmd.CombinedOutput()
	if err != nil || strings.Count(string(out), "--- PASS: TestMPICH")+strings.Count(string(out), "--- SKIP: TestMPICH") != 2 {
		t.Fatalf("mpirun.mpich with Open MPI's library: %v\n%s", err, out)
	}
}

func mpiChild(t *testing.T) {
	c, err := Init()
	if err != nil {
		t.Fatal(err)
	}
	if c.Size() != 3 {
		c.Abort(1)
		t.Fatalf("size %d, want 3", c.Size())
	}
	r := c.Rank()
	f := []float32{float32(r), 1, 0.5}
	d := []float64{float64(r * r), 1e300}
	b := []byte{byte(10 + r), byte(20 + r)}
	if err := c.AllreduceF32(f); err != nil {
		t.Fatal(err)
	}
	if err := c.AllreduceF64(d); err != nil {
		t.Fatal(err)
	}
	if err := c.Bcast(b, 1); err != nil {
		t.Fatal(err)
	}
	if err := c.Barrier(); err != nil {
		t.Fatal(err)
	}
	if f[0] != 3 || f[1] != 3 || f[2] != 1.5 || d[0] != 5 || d[1] != 3e300 || b[0] != 11 || b[1] != 21 {
		t.Errorf("rank %d: allreduce %v %v, bcast %v", r, f, d, b)
	}
	// A tensor of the CPU backend: MPI on its host data.
	be := cpu.New(1)
	x := be.Alloc(2)
	x.Host[0], x.Host[1] = float32(r), 2
	if err := c.AllreduceTensor(be, x); err != nil || x.Host[0] != 3 || x.Host[1] != 6 {
		t.Errorf("rank %d: AllreduceTensor on the CPU: %v, %v", r, x.Host, err)
	}
	// A backend with its own collectives: rank 0's id reaches every rank,
	// and the sums go through it.
	fb := &fakeCollectiveBackend{Backend: be, comm: c}
	if err := c.AttachDevice(fb); err != nil {
		t.Fatal(err)
	}
	if string(fb.joined) != "id of rank 0" || fb.nranks != 3 || fb.rank != r || c.Device() != "fake" {
		t.Errorf("rank %d joined with id %q, %d ranks, rank %d (%q)", r, fb.joined, fb.nranks, fb.rank, c.Device())
	}
	x.Host[0], x.Host[1] = float32(r), 2
	if err := c.AllreduceTensor(be, x); err != nil || x.Host[0] != 3 || x.Host[1] != 6 || fb.coll.sums != 1 {
		t.Errorf("rank %d: AllreduceTensor through the device collective: %v, %v, %d calls", r, x.Host, err, fb.coll.sums)
	}
	if err := c.DetachDevice(); err != nil || !fb.coll.closed || c.Device() != "" {
		t.Errorf("rank %d: DetachDevice: %v, closed %v", r, err, fb.coll.closed)
	}
	// Rank 0 cannot make an id: every rank fails, none waits in a join.
	fb = &fakeCollectiveBackend{Backend: be, comm: c, failID: true}
	if err := c.AttachDevice(fb); err == nil || !strings.Contains(err.Error(), "SEQDIFF_NCCL=0") || fb.joined != nil {
		t.Errorf("rank %d: AttachDevice when rank 0 has no id: %v", r, err)
	}
	if err := c.Finalize(); err != nil {
		t.Fatal(err)
	}
}

// fakeCollectiveBackend is a CPU backend with "device collectives" that
// sum with MPI: it checks AttachDevice's id exchange and that
// AllreduceTensor goes through the collective.
type fakeCollectiveBackend struct {
	compute.Backend
	comm         *Comm
	failID       bool
	joined       []byte
	nranks, rank int
	coll         *fakeCollective
}

func (f *fakeCollectiveBackend) CollectiveID() ([]byte, error) {
	if f.failID {
		return nil, errors.New("no NCCL here")
	}
	return []byte("id of rank 0"), nil
}

func (f *fakeCollectiveBackend) JoinCollective(id []byte, nranks, rank int) (compute.Collective, error) {
	f.joined, f.nranks, f.rank = append([]byte(nil), id...), nranks, rank
	f.coll = &fakeCollective{comm: f.comm}
	return f.coll, nil
}

type fakeCollective struct {
	comm   *Comm
	sums   int
	closed bool
}

func (c *fakeCollective) AllReduceSum(x compute.F32) error {
	c.sums++
	return c.comm.AllreduceF32(x.Host[:x.N])
}
func (c *fakeCollective) Close() error   { c.closed = true; return nil }
func (c *fakeCollective) Abort()         {}
func (c *fakeCollective) String() string { return "fake" }

func TestLocalRank(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		want int
		ok   bool
	}{
		{map[string]string{}, 0, false},
		{map[string]string{"OMPI_COMM_WORLD_LOCAL_RANK": "3", "SLURM_LOCALID": "1"}, 3, true},
		{map[string]string{"MPI_LOCALRANKID": "2"}, 2, true},
		{map[string]string{"SLURM_LOCALID": "5"}, 5, true},
		{map[string]string{"SLURM_LOCALID": "x"}, 0, false},
	} {
		got, ok := LocalRank(func(k string) string { return c.env[k] })
		if got != c.want || ok != c.ok {
			t.Errorf("LocalRank(%v) = %d, %v; want %d, %v", c.env, got, ok, c.want, c.ok)
		}
	}
}
