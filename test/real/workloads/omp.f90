! An OpenMP reduction in gfortran, run with OMP_NUM_THREADS=2: each step's
! sum is over integers, so it does not depend on how threads split it.
program omp_sums
  use omp_lib
  implicit none
  integer(8), parameter :: n = 40000000_8
  integer(8) :: i, s
  integer :: step
  print '(a,i0)', 'threads ', omp_get_max_threads()
  do step = 1, 40
    s = 0
    !$omp parallel do reduction(+:s) schedule(static)
    do i = 1, n
      s = s + mod(i * step + i / 7, 1000003_8)
    end do
    !$omp end parallel do
    print '(a,i0,a,i0)', 'step ', step, ' sum ', s
    flush(6)
  end do
  print '(a)', 'done'
end program omp_sums
