// The environment an MPI job needs to be checkpointable by stasis: each
// implementation held to the transports whose whole state is in the ranks'
// memory, files, sockets and shared memory (what stasis saves). Fabric
// transports (InfiniBand verbs, Omni-Path PSM, libfabric providers, UCX's ib
// and rdmacm, knem/xpmem, GPU copies) keep state in the NIC or a kernel
// driver that no process image holds. Every variable is documented in
// docs/user-guide.md ("MPI jobs"); the user's own setting always wins.
import type { MpiFamily } from './detect.js';

export const transports: Record<MpiFamily, Record<string, string>> = {
  openmpi: {
    // ob1 over BTLs; not ucx, nor cm with the ofi/psm/psm2 MTLs.
    OMPI_MCA_pml: 'ob1',
    // loopback to itself, vader shared memory (with CMA single copy), TCP; not openib, ofi, smcuda.
    OMPI_MCA_btl: 'self,vader,tcp',
    // one-sided (MPI_Win) over anything but UCX.
    OMPI_MCA_osc: '^ucx',
    // The session directory (PMIx's shared data store, mapped shared by every
    // rank; mpirun's FIFOs) in /dev/shm, whose files travel with the images:
    // in the default /tmp they stay on the old node and a restart elsewhere
    // cannot map them.
    OMPI_MCA_orte_tmpdir_base: '/dev/shm',
  },
  mpich: {
    // Debian's MPICH is ch4:ucx: UCX's loopback, TCP, POSIX and SysV shared memory, CMA; not ib/rdmacm/knem/xpmem/cuda.
    UCX_TLS: 'self,tcp,posix,sysv,cma',
  },
};

/** The variables to add for `family` (null: both families', each ignores the other's), leaving the user's alone. */
export function transportEnvironment(family: MpiFamily | null, env: NodeJS.ProcessEnv): Record<string, string> {
  const want = family ? transports[family] : { ...transports.openmpi, ...transports.mpich };
  return Object.fromEntries(Object.entries(want).filter(([k]) => env[k] === undefined));
}
