/* Minimal register context: what a function call preserves (System V
 * x86-64 callee-saved registers, stack, return address, FP control).
 * Unlike setjmp there is no pointer mangling or shadow-stack check, so a
 * context saved before a checkpoint can be resumed in a restored process. */
#ifndef STASIS_CTX_H
#define STASIS_CTX_H
#include <stdint.h>
struct stasis_ctx {
  uint64_t rbx, rbp, r12, r13, r14, r15, rsp, rip;
  uint32_t mxcsr;
  uint16_t fpucw;
};
/* Returns 0 when saving, the value given to ctx_jump when resumed. */
int ctx_save(struct stasis_ctx *c) __attribute__((returns_twice));
__attribute__((noreturn)) void ctx_jump(const struct stasis_ctx *c, int value);
/* Switch to `stack` and call fn(arg) there; fn must not return. */
__attribute__((noreturn)) void ctx_call_on_stack(void *stack_top, void (*fn)(void *), void *arg);
#endif
