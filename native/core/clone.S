/* long stasis_clone(flags, stack, ptid, ctid, tls, fn, arg): raw clone(2)
 * that runs fn(arg) on `stack` in the child. The child never returns here.
 * Needed at restart to rebuild threads with their saved TLS and tid slots. */
	.text
	.globl stasis_clone
	.hidden stasis_clone
	.type stasis_clone,@function
stasis_clone:
	movq 8(%rsp), %rax
	andq $-16, %rsi
	subq $16, %rsi
	movq %rax, 8(%rsi)
	movq %r9, 0(%rsi)
	movq %rcx, %r10
	movl $56, %eax
	syscall
	testq %rax, %rax
	jnz 1f
	xorl %ebp, %ebp
	popq %rax
	popq %rdi
	callq *%rax
	ud2
1:	ret
	.size stasis_clone, .-stasis_clone
	.section .note.GNU-stack,"",@progbits
