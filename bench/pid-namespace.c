/* What exact pids would cost at restart: a new pid namespace with the
 * wanted pid made by clone3(set_tid), against a plain fork, side by side.
 * Needs root (or CAP_SYS_ADMIN and CAP_CHECKPOINT_RESTORE); prints the two
 * times and their ratio. See docs/user-guide.md (pids). */
#define _GNU_SOURCE
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec/1e9;}
int main(void){
  int N=200; double t0=now();
  for(int i=0;i<N;i++){pid_t p=fork(); if(!p)_exit(0); waitpid(p,0,0);}
  double plain=(now()-t0)/N;
  t0=now(); int ok=0;
  for(int i=0;i<N;i++){
    pid_t p=fork();
    if(!p){
      if(unshare(CLONE_NEWPID)<0) _exit(1);
      struct clone_args a; memset(&a,0,sizeof a); a.exit_signal=SIGCHLD;
      pid_t c=syscall(SYS_clone3,&a,sizeof a); if(c==0) {
        /* inside: make a child with an exact pid */
        pid_t set[1]={4242}; struct clone_args b; memset(&b,0,sizeof b); b.exit_signal=SIGCHLD; b.set_tid=(unsigned long)set; b.set_tid_size=1;
        pid_t d=syscall(SYS_clone3,&b,sizeof b); if(d==0)_exit(getpid()==4242?0:3); int st; waitpid(d,&st,0); _exit(d==4242&&WEXITSTATUS(st)==0?0:2);}
      int st; waitpid(c,&st,0); _exit(WEXITSTATUS(st));
    }
    int st; waitpid(p,&st,0); ok+= WIFEXITED(st)&&WEXITSTATUS(st)==0;
  }
  double ns=(now()-t0)/N;
  if (ok != N) { printf("pid namespace with an exact pid: failed %d of %d (not root?)\n", N - ok, N); return 1; }
  printf("fork+wait %.3f ms; new pid namespace + exact pid (clone3 set_tid) %.3f ms; ratio %.2f\n", plain * 1e3, ns * 1e3, ns / plain);
}
