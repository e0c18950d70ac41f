/* See ctx.h. Offsets follow struct stasis_ctx. */
	.text
	.globl ctx_save
	.hidden ctx_save
	.type ctx_save,@function
ctx_save:
	movq %rbx, 0(%rdi)
	movq %rbp, 8(%rdi)
	movq %r12, 16(%rdi)
	movq %r13, 24(%rdi)
	movq %r14, 32(%rdi)
	movq %r15, 40(%rdi)
	leaq 8(%rsp), %rdx       /* caller's rsp after our return */
	movq %rdx, 48(%rdi)
	movq (%rsp), %rdx        /* return address */
	movq %rdx, 56(%rdi)
	stmxcsr 64(%rdi)
	fnstcw 68(%rdi)
	xorl %eax, %eax
	ret
	.size ctx_save, .-ctx_save

	.globl ctx_jump
	.hidden ctx_jump
	.type ctx_jump,@function
ctx_jump:
	movl %esi, %eax
	ldmxcsr 64(%rdi)
	fldcw 68(%rdi)
	movq 0(%rdi), %rbx
	movq 8(%rdi), %rbp
	movq 16(%rdi), %r12
	movq 24(%rdi), %r13
	movq 32(%rdi), %r14
	movq 40(%rdi), %r15
	movq 48(%rdi), %rsp
	jmp *56(%rdi)
	.size ctx_jump, .-ctx_jump

	.globl ctx_call_on_stack
	.hidden ctx_call_on_stack
	.type ctx_call_on_stack,@function
ctx_call_on_stack:
	andq $-16, %rdi
	movq %rdi, %rsp
	xorl %ebp, %ebp
	movq %rdx, %rdi
	callq *%rsi
	ud2
	.size ctx_call_on_stack, .-ctx_call_on_stack

	.section .note.GNU-stack,"",@progbits
