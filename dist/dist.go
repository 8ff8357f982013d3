// Package dist is seqdiff's data-parallel communication: MPI, loaded at
// run time (no cgo) when the process was started by an MPI launcher
// (mpirun, mpiexec, srun). Without a launcher nothing is loaded and the
// world is one process.
//
// Open MPI and MPICH (and its derivatives: Intel MPI, MVAPICH, Cray MPICH)
// are both supported; they differ in their ABI's handles: Open MPI's
// MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM … are the addresses of exported
// global structs (ompi_mpi_comm_world …), MPICH's are integer constants.
package dist

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/seqdiff/seqdiff/compute"
)

// launcherVars are environment variables set in every process started by
// an MPI launcher: Open MPI's mpirun, PMIx (Open MPI 5, srun --mpi=pmix),
// PMI-1/PMI-2 (MPICH's Hydra mpiexec, srun --mpi=pmi2).
var launcherVars = []string{"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", "PMI_RANK"}

// Launched reports whether getenv shows an MPI launcher, and which
// variable says so. SEQDIFF_MPI=0 turns MPI off even under a launcher.
func Launched(getenv func(string) string) (bool, string) {
	if getenv("SEQDIFF_MPI") == "0" {
		return false, ""
	}
	for _, v := range launcherVars {
		if getenv(v) != "" {
			return true, v
		}
	}
	return false, ""
}

// Library names, tried in order after SEQDIFF_MPI_LIB: Open MPI 3-5,
// MPICH 3-4 (and its ABI-compatible derivatives: Intel MPI, MVAPICH and
// Cray MPICH ship libmpi.so.12; Debian's and Ubuntu's mpich package ships
// only libmpich.so.12), then the unversioned development link.
var (
	openMPINames = []string{"libmpi.so.40"}
	mpichNames   = []string{"libmpi.so.12", "libmpich.so.12"}
	libNames     = append(append(append([]string{}, openMPINames...), mpichNames...), "libmpi.so")
)

// hydraLaunched reports whether the launcher speaks PMI-1/PMI-2 only, as
// MPICH's Hydra mpiexec (and srun --mpi=pmi2) does: PMI_RANK or PMI_SIZE
// without Open MPI's or PMIx's variables.
func hydraLaunched(getenv func(string) string) bool {
	return getenv("OMPI_COMM_WORLD_SIZE") == "" && getenv("PMIX_RANK") == "" &&
		(getenv("PMI_RANK") != "" || getenv("PMI_SIZE") != "")
}

// libCandidates is the libraries to try, in order: SEQDIFF_MPI_LIB, then
// the ones of the launcher's MPI first. Where both Open MPI and MPICH are
// installed, Open MPI's library under MPICH's mpiexec (or MPICH's under
// Open MPI's mpirun) does not see the launcher and starts each rank as a
// world of its own: so under a PMI-only launcher MPICH's names come first.
func libCandidates(getenv func(string) string) []string {
	var c []string
	if p := getenv("SEQDIFF_MPI_LIB"); p != "" {
		c = append(c, p)
	}
	if hydraLaunched(getenv) {
		c = append(c, mpichNames...)
		c = append(c, openMPINames...)
		return append(c, "libmpi.so")
	}
	return append(c, libNames...)
}

// launcherSize is the number of processes the launcher says it started
// (OMPI_COMM_WORLD_SIZE, else PMI_SIZE), or 0 where it does not say.
func launcherSize(getenv func(string) string) int {
	for _, v := range []string{"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"} {
		if n, err := strconv.Atoi(getenv(v)); err == nil && n > 0 {
			return n
		}
	}
	return 0
}

// checkSize refuses a world whose size is not the launcher's: an MPI
// library that does not match the launcher starts as a one-process
// "singleton" world in every rank, and the ranks would each train alone.
func checkSize(getenv func(string) string, path string, size int) error {
	if n := launcherSize(getenv); n > 0 && size != n {
		return fmt.Errorf("the launcher started %d processes but %s sees a world of %d: not this launcher's MPI (MPICH's mpiexec wants libmpich.so.12 or libmpi.so.12, Open MPI's mpirun libmpi.so.40)", n, path, size)
	}
	return nil
}

// Flavor is the MPI implementation's ABI family.
type Flavor string

const (
	OpenMPI Flavor = "Open MPI"
	MPICH   Flavor = "MPICH"
)

// handles are the MPI constants of one ABI, as the integer or pointer
// values passed in registers.
type handles struct {
	flavor                          Flavor
	world, float, double, byte, sum uintptr
	inPlace                         uintptr
}

// MPICH's constants (mpi.h): MPI_Comm, MPI_Datatype and MPI_Op are ints.
const (
	mpichCommWorld = 0x44000000
	mpichFloat     = 0x4c00040a
	mpichDouble    = 0x4c00080b
	mpichByte      = 0x4c00010d
	mpichSum       = 0x58000003
)

// selectHandles picks the ABI from the library's symbols: Open MPI exports
// ompi_mpi_comm_world, whose address is MPI_COMM_WORLD (and so on for the
// others); a library without it is taken for MPICH, whose handles are
// constants. dlsym returns a symbol's address or an error.
func selectHandles(dlsym func(name string) (uintptr, error)) (handles, error) {
	if w, err := dlsym("ompi_mpi_comm_world"); err == nil && w != 0 {
		h := handles{flavor: OpenMPI, world: w, inPlace: 1} // MPI_IN_PLACE is (void *)1
		for _, s := range []struct {
			name string
			dst  *uintptr
		}{{"ompi_mpi_float", &h.float}, {"ompi_mpi_double", &h.double}, {"ompi_mpi_byte", &h.byte}, {"ompi_mpi_op_sum", &h.sum}} {
			p, err := dlsym(s.name)
			if err != nil || p == 0 {
				return h, fmt.Errorf("an Open MPI library without symbol %s: %v", s.name, err)
			}
			*s.dst = p
		}
		return h, nil
	}
	// MPICH has no ompi_ symbols; MPI_Init must exist in any MPI.
	if _, err := dlsym("MPI_Init_thread"); err != nil {
		return handles{}, errors.New("not an MPI library: no MPI_Init_thread")
	}
	return handles{flavor: MPICH, world: mpichCommWorld, float: mpichFloat, double: mpichDouble,
		byte: mpichByte, sum: mpichSum, inPlace: ^uintptr(0)}, nil // MPI_IN_PLACE is (void *)-1
}

// localRankVars give a process's rank among those of its node: Open MPI's
// mpirun, MPICH's Hydra, Cray PALS, then Slurm's srun.
var localRankVars = []string{"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "PALS_LOCAL_RANKID", "SLURM_LOCALID"}

// LocalRank is this process's rank on its node, from the launcher's
// environment, and whether a launcher said so (0, false otherwise).
func LocalRank(getenv func(string) string) (int, bool) {
	for _, v := range localRankVars {
		if s := getenv(v); s != "" {
			if r, err := strconv.Atoi(s); err == nil && r >= 0 {
				return r, true
			}
		}
	}
	return 0, false
}

// Comm is MPI_COMM_WORLD. A nil *Comm is the one-process world: rank 0 of
// size 1, whose collectives do nothing.
type Comm struct {
	api  *api
	h    handles
	rank int
	size int
	path string

	dev     compute.Collective // the backend's own collectives (NCCL), when attached
	scratch []float32          // host copy of a device tensor, without one
}

// Rank is this process's rank (0 for a nil Comm).
func (c *Comm) Rank() int {
	if c == nil {
		return 0
	}
	return c.rank
}

// Size is the number of processes (1 for a nil Comm).
func (c *Comm) Size() int {
	if c == nil {
		return 1
	}
	return c.size
}

// String names the library and world, for a banner.
func (c *Comm) String() string {
	if c == nil {
		return "1 process (no MPI)"
	}
	return fmt.Sprintf("%d MPI ranks (%s, %s)", c.size, c.h.flavor, c.path)
}

// Init starts MPI when the process was started by an MPI launcher and
// returns the world; otherwise it loads nothing and returns nil (one
// process). The caller calls Finalize at a clean exit, Abort on an error.
func Init() (*Comm, error) {
	ok, why := Launched(os.Getenv)
	if !ok {
		return nil, nil
	}
	c, err := initMPI(libCandidates(os.Getenv))
	if err == nil {
		if err = checkSize(os.Getenv, c.path, c.size); err != nil {
			_ = c.Finalize() // the singleton world this process started alone
		}
	}
	if err != nil {
		return nil, fmt.Errorf("started by an MPI launcher (%s is set) but MPI did not start: %w (set SEQDIFF_MPI_LIB to the path of libmpi.so, or SEQDIFF_MPI=0 to run as one process)", why, err)
	}
	return c, nil
}

// AttachDevice lets AllreduceTensor sum device tensors with be's own
// collective library (NCCL on the CUDA backend): rank 0 makes the id, MPI
// broadcasts it, and every rank joins (a collective call: every rank must
// make it). Nothing for one process, a CPU backend, or SEQDIFF_NCCL=0
// (which keeps the path through host memory and MPI_Allreduce).
func (c *Comm) AttachDevice(be compute.Backend) error {
	cb, ok := be.(compute.CollectiveBackend)
	if c.Size() == 1 || !ok || os.Getenv("SEQDIFF_NCCL") == "0" || c.dev != nil {
		return nil
	}
	var id []byte
	var idErr error
	if c.rank == 0 {
		id, idErr = cb.CollectiveID()
	}
	// Rank 0's failure reaches every rank: a zero length in the header.
	buf := make([]byte, 4+1024)
	if c.rank == 0 && idErr == nil {
		if len(id) > len(buf)-4 {
			idErr = fmt.Errorf("a collective id of %d bytes", len(id))
		} else {
			buf[0], buf[1] = byte(len(id)), byte(len(id)>>8)
			copy(buf[4:], id)
		}
	}
	if err := c.Bcast(buf, 0); err != nil {
		return fmt.Errorf("broadcasting the NCCL id: %w", err)
	}
	n := int(buf[0]) | int(buf[1])<<8
	if n == 0 {
		if idErr != nil {
			return fmt.Errorf("GPU collectives: %w (SEQDIFF_NCCL=0 sums the gradients through host memory and MPI instead)", idErr)
		}
		return errors.New("GPU collectives: rank 0 could not make an NCCL id (see its error; SEQDIFF_NCCL=0 sums through host memory and MPI instead)")
	}
	dev, err := cb.JoinCollective(buf[4:4+n], c.size, c.rank)
	if err != nil {
		return fmt.Errorf("GPU collectives, rank %d of %d: %w", c.rank, c.size, err)
	}
	c.dev = dev
	return nil
}

// DetachDevice closes the device collectives AttachDevice opened.
func (c *Comm) DetachDevice() error {
	if c == nil || c.dev == nil {
		return nil
	}
	err := c.dev.Close()
	c.dev = nil
	return err
}

// Device names the device collectives in use ("" for none: MPI does it all).
func (c *Comm) Device() string {
	if c == nil || c.dev == nil {
		return ""
	}
	return c.dev.String()
}

// AllreduceTensor sums x over the ranks, in place: on the devices when
// attached, otherwise with MPI_Allreduce on the host data (a device
// tensor is downloaded and uploaded again).
func (c *Comm) AllreduceTensor(be compute.Backend, x compute.F32) error {
	if c.Size() == 1 || x.N == 0 {
		return nil
	}
	if c.dev != nil {
		return c.dev.AllReduceSum(x)
	}
	if x.Host != nil {
		return c.AllreduceF32(x.Host[:x.N])
	}
	if len(c.scratch) < x.N {
		c.scratch = make([]float32, x.N)
	}
	h := c.scratch[:x.N]
	be.Download(h, x)
	if err := c.AllreduceF32(h); err != nil {
		return err
	}
	be.Upload(x, h)
	return nil
}

// errMPI is a failed MPI call.
func errMPI(fn string, rc int32) error {
	return fmt.Errorf("%s failed with MPI error %d", fn, rc)
}

// chunk is the most elements one call passes (MPI's count is a C int).
const chunk = 1 << 30
