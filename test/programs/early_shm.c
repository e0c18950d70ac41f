/* Prints what its library's constructor got from shmget/shmat/shmctl
 * (libs/early_shm_lib.c): "early shm: 0" when all worked. */
#include <stdio.h>

extern int early_shm_result;

int main(void) {
  printf("early shm: %d\n", early_shm_result);
  return early_shm_result == 0 ? 0 : 1;
}
